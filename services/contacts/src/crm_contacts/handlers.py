"""The contacts consumer's handler for the SALES and SUPPORT streams: entries on a customer's
timeline, the yearly won-deal spend segments filter on, customers following their rep's work
when sales transfers it, and the public pool's team rules sales publishes. The consumer owns the
transaction and passes its unit of work in, so the inbox row commits with the effect; every
effect is also idempotent by itself. (Its own events feed the search index from the outbox relay:
search.CustomerSearch.apply_published.)"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1.contacts_pb2 import Account, Contact
from crm_contacts.events import SALES
from crm_contacts.rules import timeline as feed
from crm_contacts.store import Record
from crm_contacts.store import pool as pool_rows
from crm_contacts.usecases import ownership, records, spend, timeline
from crmkit import logs
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.event_runs import Handler
from crmkit.events import unpack_payload
from crmkit.servicer import Clock

log = logs.get("crm_contacts.events")
# Every event that can make an opportunity won or take it back (a reopen is a stage change).
DELEGATIONS = frozenset({SALES.DELEGATION_CREATED, SALES.DELEGATION_ENDED})
SPEND_EVENTS = frozenset({SALES.OPPORTUNITY_WON, SALES.OPPORTUNITY_LOST, SALES.OPPORTUNITY_UPDATED,
                          SALES.OPPORTUNITY_STAGE_CHANGED})


def wants(event_type: str) -> bool:
    """The events the handler acts on; the consumer acks the others untouched."""
    return (event_type in (SALES.OWNERSHIP_TRANSFERRED, SALES.SETTINGS_POOL_RULES_CHANGED) or event_type in SPEND_EVENTS
            or event_type in DELEGATIONS or feed.wanted(event_type))


def make_handler(clock: Clock) -> Handler:
    def handle(uow: UnitOfWork, env: EventEnvelope) -> None:
        if env.event_type == SALES.OWNERSHIP_TRANSFERRED:
            transfer_customers(uow, env, clock())
            return
        if env.event_type == SALES.SETTINGS_POOL_RULES_CHANGED:  # the public pool's team rules, for customers too
            rules = unpack(env)
            if rules is not None:
                pool_rows.save_rules(uow.session, rules)
            return
        if env.event_type in DELEGATIONS:  # the delegate covers the delegator's customers too
            payload = unpack(env)
            if payload is not None:
                ownership.record_delegation(uow, delegation=payload.delegation)
            return
        if env.event_type in SPEND_EVENTS:
            record_spend(uow, env)
        if feed.wanted(env.event_type):
            add_to_timeline(uow, env)

    return handle


def unpack(env: EventEnvelope) -> Any | None:
    """The event's payload message, or None when its type is unknown to this build (a producer's
    newer contract): skipped, never an error."""
    try:
        return unpack_payload(env)
    except KeyError:
        log.debug("skipping %s: payload type %s is unknown here", env.event_type, env.payload.TypeName())
        return None


def add_to_timeline(uow: UnitOfWork, env: EventEnvelope) -> bool:
    payload = unpack(env)
    entry = feed.timeline_entry(env, payload) if payload is not None else None
    return entry is not None and timeline.add_foreign_entry(uow, entry=entry)


def record_spend(uow: UnitOfWork, env: EventEnvelope) -> bool:
    """An opportunity's snapshot → the won-deal sums of its contact and account."""
    payload = unpack(env)
    opportunity = getattr(payload, "opportunity", None) if payload is not None else None
    if opportunity is None:
        return False
    return spend.apply_opportunity(uow, opportunity=opportunity, version=env.aggregate_version,
                                   occurred_at=env.occurred_at.ToDatetime(tzinfo=UTC))


def actor_principal(env: EventEnvelope) -> Principal:
    """Who caused the event, for the audit row and the actor of our own events."""
    actor = env.actor
    return Principal(actor.user_id or env.producer or "system", tuple(actor.roles), actor.team, actor.region)


def transfer_customers(uow: UnitOfWork, env: EventEnvelope, now: datetime) -> int:
    """crm.sales.ownership.transferred: the listed accounts and contacts go to the new owner."""
    payload = unpack(env)
    if payload is None:
        return 0
    from_user, to_user = payload.from_user_id, payload.to_user_id
    if not from_user or not to_user or from_user == to_user:
        return 0
    principal = actor_principal(env)
    reason = f"sales transfer {payload.transfer_id}" + (f": {payload.reason}" if payload.reason else "")
    moved = 0
    kinds: tuple[tuple[type[Record], Sequence[str]], ...] = ((Account, payload.account_ids),
                                                              (Contact, payload.contact_ids))
    for kind, ids in kinds:
        for record_id in dict.fromkeys(ids):
            if not records.transfer_owner(uow, principal=principal, now=now, kind=kind, record_id=record_id,
                                          from_user=from_user, to_user=to_user, reason=reason):
                continue
            moved += 1
            if kind is Contact:
                timeline.add_foreign_entry(uow, entry=feed.owner_changed_entry(env, record_id, from_user, to_user))
    if moved:
        log.info("moved %d customers from %s to %s (sales transfer %s)", moved, from_user, to_user,
                 payload.transfer_id)
    return moved
