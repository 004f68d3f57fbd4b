"""Segments: their rows, and a filter as SQL over the contacts table and its side tables.

Members are read in `contacts.seq` order with a `seq > cursor` condition, so paging to the end
streams the whole set once (a contact created meanwhile joins at the end; one changed so that it
no longer matches drops out). Every criterion is a filter column with a (column, seq) index or a
side table whose index answers it; the visibility rule is crmkit's clause."""
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
# Two shapes of the same criteria. To count, a side-table criterion is `id IN (subquery)`: the
# subquery is read once through its index and the planner may start from it. To page, it is a
# correlated EXISTS probing the side table's primary key for each contact read in seq order, and
# a list of several values on a column is kept off that column's index: SQLite would otherwise
# read every match through the index and sort them all for each page (streaming 300k members of
# 1M took minutes that way; scanning in seq order reads each contact once over the whole stream).


def _in(column: ColumnElement[Any], values: Iterable[str], *, paging: bool = False) -> ColumnElement[bool]:
    listed = list(values)
    if len(listed) == 1:
        return column == listed[0]  # a (column, seq) index reads these in seq order already
    return (column + "").in_(listed) if paging else column.in_(listed)


def _side(key: ColumnElement[Any], side_key: Column[Any], criteria: list[ColumnElement[bool]], *, paging: bool,
          negate: bool = False) -> ColumnElement[bool]:
    """`key` has (or, negated, has no) row in a side table meeting `criteria`."""
    if paging:
        found = exists().where(side_key == key, *criteria)
        return ~found if negate else found
    rows = select(side_key).where(*criteria)
    return key.not_in(rows) if negate else key.in_(rows)


def conditions(flt: SegmentFilter, principal: Principal, now: datetime, *, paging: bool) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a normalized filter (rules.segments.normalize_filter) for `principal`
    at `now` (the interaction cutoff and the spend year move with it), shaped for counting or
    for paging in seq order."""
    c = contacts.c
    where: list[ColumnElement[bool]] = [c.deleted.is_(False), VISIBILITY.clause(principal, contacts)]
    for column, values in ((c.region, flt.regions), (c.province, flt.provinces), (c.city, flt.cities),
                           (c.industry, flt.industries), (c.level, flt.levels), (c.source, flt.sources),
                           (c.lifecycle_stage, flt.lifecycle_stages)):
        if values:
            where.append(_in(column, values, paging=paging))
    t = tags.c
    for tag in flt.tags_all:
        where.append(_side(c.id, t.entity_id, [t.entity == "contact", t.tag == tag], paging=paging))
    if flt.tags_any:
        where.append(_side(c.id, t.entity_id, [t.entity == "contact", _in(t.tag, flt.tags_any)], paging=paging))
    v = custom_field_values.c
    for name, value in sorted(flt.custom_fields.items()):
        where.append(_side(c.id, v.entity_id, [v.entity == "contact", v.key == name, v.value == value],
                           paging=paging))
    if flt.no_interaction_days > 0:  # probing (contact_id, occurred_at) beats reading every recent entry
        cutoff = interaction_cutoff(now, flt.no_interaction_days)
        where.append(~exists().where(timeline.c.contact_id == c.id, timeline.c.occurred_at >= cutoff,
                                     timeline.c.kind.not_in(NOT_INTERACTIONS)))
    band = parse_spend_band(flt.spend_band)
    if band is not None:
        s = customer_spend.c
        entity = "account" if flt.spend_of == "account" else "contact"
        key: Column[Any] = c.account_id if entity == "account" else c.id
        this_year = [s.entity == entity, s.year == spend_year(now), s.currency == SPEND_CURRENCY]
        if band.low_cents > 0:  # spends at least `low` (and under `high`)
            bounds = [s.amount_cents >= band.low_cents]
            if band.high_cents is not None:
                bounds.append(s.amount_cents < band.high_cents)
            where.append(_side(key, s.entity_id, [*this_year, *bounds], paging=paging))
        elif band.high_cents is not None:  # under `high`: no won deal at all included
            where.append(_side(key, s.entity_id, [*this_year, s.amount_cents >= band.high_cents], paging=paging,
                               negate=True))
    if flt.consent_purpose:
        k = contact_consents.c
        where.append(_side(c.id, k.contact_id, [k.purpose == flt.consent_purpose, k.granted.is_(True)],
                           paging=paging))
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
