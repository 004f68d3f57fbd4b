"""Yearly won-deal spend per contact and per account, fed by sales' opportunity events (the
consumer's handler): the band a segment filters on is this year's sum. Each event carries the
opportunity's snapshot and version; the newest version wins, so redelivery and reordering
converge, and a deal reopened or lost after being won leaves the sums again."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from crm.contacts.v1.contacts_pb2 import Contact
from crm.sales.v1.sales_pb2 import Opportunity
from crm_contacts import store
from crm_contacts.rules.segments import spend_year
from crm_contacts.store import spend as spend_store
from crm_contacts.store.spend import Deal
from crmkit import logs
from crmkit.db import UnitOfWork
from crmkit.records import aware

MAX_MERGE_HOPS = 10
log = logs.get("crm_contacts.spend")


def _cents(opportunity: Opportunity) -> int:
    try:
        amount = Decimal(opportunity.amount.amount or "0")
    except InvalidOperation:
        log.warning("opportunity %s: amount %r is not a number; counted as 0", opportunity.id,
                    opportunity.amount.amount)
        return 0
    return int((amount * 100).to_integral_value()) if amount.is_finite() else 0


def _survivor(uow: UnitOfWork, contact_id: str) -> str:
    """A deal of a contact merged away counts for the contact it was merged into."""
    contact = store.load(uow.session, Contact, contact_id) if contact_id else None
    hops = 0
    while contact is not None and contact.merged_into_id and hops < MAX_MERGE_HOPS:
        contact_id = contact.merged_into_id
        contact = store.load(uow.session, Contact, contact_id)
        hops += 1
    return contact_id


def apply_opportunity(uow: UnitOfWork, *, opportunity: Opportunity, version: int, occurred_at: datetime) -> bool:
    """Record the deal at `version` (the event's aggregate version); False when we already hold
    that version or a newer one."""
    if not opportunity.id:
        return False
    held = spend_store.load_deal(uow.session, opportunity.id)
    if held is not None and held.version >= version:
        return False
    won = opportunity.status == "won"
    closed = aware(opportunity.closed_at.ToDatetime()) if opportunity.HasField("closed_at") else occurred_at
    deal = Deal(opportunity.id, version, won, _survivor(uow, opportunity.contact_id), opportunity.account_id,
                spend_year(closed), (opportunity.amount.currency_code or "CNY").upper()[:3], _cents(opportunity))
    # Open and lost deals are kept too (their version orders a late "won" behind a newer "lost").
    spend_store.save_deal(uow.session, deal, exists=held is not None)
    if not won and (held is None or not held.won):
        return True  # counted neither before nor now: the sums stand
    before = (held.contact_id, held.account_id) if held is not None else ("", "")
    spend_store.recompute(uow.session, "contact", (before[0], deal.contact_id))
    spend_store.recompute(uow.session, "account", (before[1], deal.account_id))
    return True


def move_spend(uow: UnitOfWork, *, from_contact: str, to_contact: str) -> None:
    """A merge: the merged contact's deals count for the survivor."""
    spend_store.move_contact_deals(uow.session, from_contact, to_contact)
    spend_store.recompute(uow.session, "contact", (from_contact, to_contact))
