"""Sales events → the opportunity and lead read models (snapshots at the newest version)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.sales.v1 import events_pb2 as sales_events
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm_reporting.rules import amount_units
from crm_reporting.store import upsert_newest
from crm_reporting.tables import leads, opportunities
from crmkit.events import EventTypes, unpack_payload

SALES = EventTypes(sales_events.EventType)


# unpack_payload is typed Message: the ignores below stand for "every opportunity event's payload
# has `opportunity`, every lead event's `lead` (converted: also `opportunity`)".

def opportunity_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_opportunity(session, unpack_payload(env).opportunity)  # type: ignore[attr-defined]


def lead_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    payload = unpack_payload(env)
    apply_lead(session, payload.lead)  # type: ignore[attr-defined]
    if env.event_type == SALES.LEAD_CONVERTED and payload.opportunity.id:  # type: ignore[attr-defined]
        apply_opportunity(session, payload.opportunity)  # type: ignore[attr-defined]


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


# Every opportunity and lead event carries its snapshot; quotes, contracts, tasks, approvals ...:
# nothing reporting counts yet.
APPLIES: dict[str, Callable[[Session, EventEnvelope, datetime], None]] = {
    **dict.fromkeys(SALES.of_aggregate("opportunity"), opportunity_changed),
    **dict.fromkeys(SALES.of_aggregate("lead"), lead_changed),
}
