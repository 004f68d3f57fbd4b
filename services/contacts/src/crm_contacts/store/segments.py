"""Segments: their rows, and a filter as SQL over the contacts table and its side tables.

Members are read in `contacts.seq` order with a `seq > cursor` condition, so paging to the end
streams the whole set once (a contact created meanwhile joins at the end; one changed so that it
no longer matches drops out). Every criterion is either a filter column with a (column, seq)
index or `id IN (subquery)` over a side table whose index answers it, so the planner can start
from whichever criterion is most selective; the visibility rule is crmkit's clause."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Select, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Contact, Segment, SegmentFilter
from crm_contacts.rules.segments import (
    NOT_INTERACTIONS,
    SPEND_CURRENCY,
    interaction_cutoff,
    parse_spend_band,
    spend_year,
)
from crm_contacts.rules.visibility import VISIBILITY
from crm_contacts.tables import (
    contact_consents,
    contacts,
    custom_field_values,
    customer_spend,
    segments,
    tags,
    timeline,
)
from crmkit.auth import Principal
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import dt

_INSERT = insert(segments)
_UPDATE = update(segments).where(segments.c.id == bindparam("segment_id"))
_LOAD = select(segments.c.data).where(segments.c.id == bindparam("segment_id"))
_LOAD_FOR_UPDATE = _LOAD.with_for_update()


def _columns(segment: Segment) -> dict[str, object]:
    return {
        "id": segment.id, "name": segment.name, "owner_id": segment.owner_id, "team": segment.team,
        "region": segment.region, "version": segment.version, "deleted": segment.deleted,
        "created_at": dt(segment.created_at), "updated_at": dt(segment.updated_at),
        "data": segment.SerializeToString(),
    }


def insert_segment(session: Session, segment: Segment) -> None:
    session.connection().execute(_INSERT, _columns(segment))


def update_segment(session: Session, segment: Segment) -> None:
    session.connection().execute(_UPDATE, {**_columns(segment), "segment_id": segment.id})


def load_segment(session: Session, segment_id: str, *, for_update: bool = False) -> Segment | None:
    data = session.connection().execute(_LOAD_FOR_UPDATE if for_update else _LOAD,
                                        {"segment_id": segment_id}).scalar_one_or_none()
    return None if data is None else Segment.FromString(data)


def list_segments(session: Session, requested: int, page_token: str) -> tuple[list[Segment], str]:
    size = page_size(requested)
    stmt = select(segments.c.seq, segments.c.data).where(segments.c.deleted.is_(False))
    if page_token:
        stmt = stmt.where(segments.c.seq > decode_cursor(page_token))
    rows = session.execute(stmt.order_by(segments.c.seq).limit(size + 1)).all()
    found = [Segment.FromString(r.data) for r in rows[:size]]
    return found, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


# -- a filter as SQL ---------------------------------------------------------------------------

def _in(column: Column[Any], values: Iterable[str]) -> ColumnElement[bool]:
    listed = list(values)
    return column == listed[0] if len(listed) == 1 else column.in_(listed)


def _tagged(tag_values: list[str]) -> ColumnElement[bool]:
    return contacts.c.id.in_(select(tags.c.entity_id).where(tags.c.entity == "contact", _in(tags.c.tag, tag_values)))


def conditions(flt: SegmentFilter, principal: Principal, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a normalized filter (rules.segments.normalize_filter) for `principal`
    at `now` (the interaction cutoff and the spend year move with it)."""
    c = contacts.c
    where: list[ColumnElement[bool]] = [c.deleted.is_(False), VISIBILITY.clause(principal, contacts)]
    for column, values in ((c.region, flt.regions), (c.province, flt.provinces), (c.city, flt.cities),
                           (c.industry, flt.industries), (c.level, flt.levels), (c.source, flt.sources),
                           (c.lifecycle_stage, flt.lifecycle_stages)):
        if values:
            where.append(_in(column, values))
    for tag in flt.tags_all:
        where.append(_tagged([tag]))
    if flt.tags_any:
        where.append(_tagged(list(flt.tags_any)))
    v = custom_field_values.c
    for name, value in sorted(flt.custom_fields.items()):
        where.append(c.id.in_(select(v.entity_id).where(v.entity == "contact", v.key == name, v.value == value)))
    if flt.no_interaction_days > 0:
        cutoff = interaction_cutoff(now, flt.no_interaction_days)
        where.append(~exists().where(timeline.c.contact_id == c.id, timeline.c.occurred_at >= cutoff,
                                     timeline.c.kind.not_in(NOT_INTERACTIONS)))
    band = parse_spend_band(flt.spend_band)
    if band is not None:
        s = customer_spend.c
        entity = "account" if flt.spend_of == "account" else "contact"
        key: Column[Any] = c.account_id if entity == "account" else c.id
        this_year = (s.entity == entity, s.year == spend_year(now), s.currency == SPEND_CURRENCY)
        if band.low_cents > 0:  # spends at least `low` (and under `high`)
            bounds = [s.amount_cents >= band.low_cents]
            if band.high_cents is not None:
                bounds.append(s.amount_cents < band.high_cents)
            where.append(key.in_(select(s.entity_id).where(*this_year, *bounds)))
        elif band.high_cents is not None:  # under `high`, no won deal at all included
            where.append(key.not_in(select(s.entity_id).where(*this_year, s.amount_cents >= band.high_cents)))
    if flt.consent_purpose:
        k = contact_consents.c
        where.append(c.id.in_(select(k.contact_id).where(k.purpose == flt.consent_purpose, k.granted.is_(True))))
    return where


def members(session: Session, where: list[ColumnElement[bool]], requested: int, page_token: str, *,
            maximum: int) -> tuple[list[Contact], str]:
    size = page_size(requested, maximum=maximum)
    stmt: Select[Any] = select(contacts.c.seq, contacts.c.data).where(*where)
    if page_token:
        stmt = stmt.where(contacts.c.seq > decode_cursor(page_token))
    rows = session.execute(stmt.order_by(contacts.c.seq).limit(size + 1)).all()
    found = [Contact.FromString(r.data) for r in rows[:size]]
    return found, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def count(session: Session, where: list[ColumnElement[bool]]) -> int:
    return int(session.execute(select(func.count()).select_from(contacts).where(*where)).scalar_one())
