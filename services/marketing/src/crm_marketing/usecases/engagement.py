"""Touches: what a contact (or a visitor not known yet) did that marketing counts: opens,
clicks, page views, form submissions, and the events of other services a rule names. Each is
recorded in the transaction of what caused it; a touch of a known contact then drives the
event-triggered rules and the engagement score, in that same transaction."""
from __future__ import annotations

from datetime import datetime

from crm_marketing.store import engagement as store
from crm_marketing.usecases import automation_rules, scoring
from crmkit.db import UnitOfWork


def record(uow: UnitOfWork, *, now: datetime, kind: str, contact_id: str = "", visitor_id: str = "", url: str = "",
           campaign_id: str = "", ref: str = "", at: datetime | None = None) -> str:
    """Store one touch; returns the contact it was tied to ("" while the visitor is unknown)."""
    session = uow.session
    if not contact_id and visitor_id:
        contact_id = store.visitor_contact(session, visitor_id) or ""
    when = at or now
    store.add_touch(session, contact_id=contact_id, visitor_id=visitor_id, kind=kind, url=url,
                    campaign_id=campaign_id, ref=ref, at=when)
    if contact_id:
        _after(uow, contact_id, {kind}, now=now, at=when)
    return contact_id


def identified(uow: UnitOfWork, *, now: datetime, contact_id: str, visitor_id: str = "", ref: str = "",
               site_key: str = "") -> None:
    """A visitor (or the touches of one reference: a form submission) turned out to be this
    contact: their earlier touches become its, and count now."""
    session = uow.session
    attached = 0
    if visitor_id:
        store.save_visitor(session, visitor_id, contact_id=contact_id, site_key=site_key, now=now)
        attached += store.attach_visitor(session, visitor_id, contact_id)
    if ref:
        attached += store.attach_ref(session, ref, contact_id)
    if attached:
        kinds = {row.kind for row in store.touches_of(session, contact_id, limit=200)}
        _after(uow, contact_id, kinds, now=now, at=now)


def _after(uow: UnitOfWork, contact_id: str, kinds: set[str], *, now: datetime, at: datetime) -> None:
    """What a contact's new touches set off: the rules they trigger, and its score."""
    automation_rules.on_touch(uow, contact_id=contact_id, kinds=kinds, now=now, at=at)
    scoring.on_touch(uow, contact_id=contact_id, kinds=kinds, now=now)
