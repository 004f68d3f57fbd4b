"""Applies sales events to the opportunity and lead read models (snapshots at the newest version)."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.sales.v1 import events_pb2 as sales_events
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm_reporting.snapshots import upsert_newest
from crm_reporting.tables import AMOUNT_SCALE, leads, opportunities
from crmkit.events import unpack_payload

_ = sales_events  # imported so the payload types are registered for unpacking

OPPORTUNITY_EVENTS = {
    "crm.sales.opportunity.created",
    "crm.sales.opportunity.updated",
    "crm.sales.opportunity.stage_changed",
    "crm.sales.opportunity.won",
    "crm.sales.opportunity.lost",
}
LEAD_PREFIX = "crm.sales.lead."


def handle(session: Session, env: EventEnvelope) -> None:
    if env.event_type in OPPORTUNITY_EVENTS:
        apply_opportunity(session, unpack_payload(env).opportunity)  # type: ignore[attr-defined]
    elif env.event_type.startswith(LEAD_PREFIX):
        payload = unpack_payload(env)
        apply_lead(session, payload.lead)  # type: ignore[attr-defined]
        if env.event_type == "crm.sales.lead.converted" and payload.opportunity.id:  # type: ignore[attr-defined]
            apply_opportunity(session, payload.opportunity)  # type: ignore[attr-defined]
    # quotes, contracts, tasks, approvals ...: nothing reporting counts yet


def amount_units(amount: str) -> int:
    try:
        value = Decimal(amount or "0")
    except InvalidOperation:
        return 0
    if not value.is_finite():
        return 0
    return int((value * AMOUNT_SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


def apply_opportunity(session: Session, opp: Opportunity) -> bool:
    status = opp.status or "open"
    closed_month = ""
    if status in ("won", "lost"):
        when = opp.closed_at if opp.HasField("closed_at") else opp.updated_at
        closed_month = when.ToDatetime().strftime("%Y-%m")
    values = {
        "owner_id": opp.owner_id,
        "team": opp.team,
        "region": opp.region,
        "stage": opp.stage,
        "status": status,
        "currency_code": opp.amount.currency_code,
        "amount_units": amount_units(opp.amount.amount),
        "closed_month": closed_month,
    }
    return upsert_newest(session, opportunities, opportunities.c.opportunity_id, opp.id, opp.version, values)


def apply_lead(session: Session, lead: Lead) -> bool:
    return upsert_newest(session, leads, leads.c.lead_id, lead.id, lead.version, {
        "owner_id": lead.owner_id,
        "team": lead.team,
        "region": lead.region,
        "source": lead.source or "unknown",
        "status": lead.status,
    })
