"""A run of contact snapshot events at once (crmkit.event_runs): a bulk import emits one
`contact.created` per row, and applied one by one each cost a few statements and three rollup
upserts. Here the whole run costs one SELECT of what we hold, one executemany per kind of row
(new customers, changed ones, their tags) and one upsert per rollup with the moves of every
contact summed: the same tables as `contacts.apply_snapshot` on each event in stream order."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1.contacts_pb2 import Contact
from crm_reporting.handlers import contacts
from crm_reporting.handlers.contacts import CONTACTS
from crm_reporting.store import rollups
from crm_reporting.tables import customer_tags, customers
from crmkit.imports import bulk

# Not merged: its snapshot is the survivor's, another aggregate than the event's, so one run could
# hold the same customer twice.
BULK_TYPES = frozenset({CONTACTS.CONTACT_CREATED, CONTACTS.CONTACT_UPDATED, CONTACTS.CONTACT_TAGGED,
                        CONTACTS.CONTACT_DELETED})

_HELD = select(customers).where(customers.c.contact_id.in_(bindparam("cids", expanding=True)))
_TAGS_OF = select(customer_tags.c.contact_id, customer_tags.c.tag).where(
    customer_tags.c.contact_id.in_(bindparam("cids", expanding=True)))
_IN_LIST = 500   # ids per SELECT: well under any driver's parameter limit


def contacts_changed(session: Session, envs: Sequence[EventEnvelope], now: datetime) -> None:
    apply_snapshots(session, [contacts.snapshot_of(env) for env in envs], now=now)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _IN_LIST):
        yield ids[start:start + _IN_LIST]


def apply_snapshots(session: Session, snapshots: Sequence[Contact], *, now: datetime) -> int:
    """`contacts.apply_snapshot` for each snapshot, a statement per kind of row for all of them;
    how many were newer than what we held."""
    if len({c.id for c in snapshots}) < len(snapshots):   # a customer twice: only in order is it right
        return sum(contacts.apply_snapshot(session, c, now=now) for c in snapshots)
    held: dict[str, dict[str, Any]] = {}
    for chunk in _chunks([c.id for c in snapshots]):
        held.update((r.contact_id, dict(r._mapping)) for r in session.execute(_HELD, {"cids": chunk}))
    newer = [c for c in snapshots if c.id not in held or held[c.id]["version"] < c.version]
    changed_ids = [c.id for c in newer if c.id in held]
    tags: defaultdict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(changed_ids):
        for contact_id, tag in session.execute(_TAGS_OF, {"cids": chunk}):
            tags[contact_id].append(tag)
    inserts, updates, new_tags = [], [], []
    moves: list[tuple[rollups.Row | None, rollups.Row | None]] = []
    for c in newer:
        values = contacts.customer_values(c)
        before = held.get(c.id)
        if before is None:
            inserts.append({"contact_id": c.id, "first_seen_at": now, **values})
        else:
            updates.append({"cid": c.id, **values})
            before = {**before, "tags": tags[c.id]}
        live_tags = [] if c.deleted else list(c.tags)
        new_tags += [{"contact_id": c.id, "tag": t} for t in live_tags]
        moves.append((before, {"contact_id": c.id, **values, "tags": live_tags}))
    if inserts:
        bulk.insert_many(session.connection(), customers, inserts)
    if updates:
        session.execute(contacts.UPDATE_CUSTOMER, updates)
        session.execute(contacts.DELETE_TAGS, [{"cid": cid} for cid in changed_ids])
    if new_tags:
        bulk.insert_many(session.connection(), customer_tags, new_tags)
    for rollup in contacts.ROLLUPS:
        rollups.apply_many(session, rollup, moves)
    return len(newer)
