"""Sales events → the opportunity and lead read models (snapshots at the newest version), and what
campaign attribution needs from them: a lead's campaign (an attributed lead and a touch at its
creation), who is one person (a converted lead's contact, a deal's lead and contact), and each
deal's first- and last-touch campaign, recomputed when the deal changes."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.common.v1.pool_pb2 import PoolMove
from crm.sales.v1 import events_pb2 as sales_events
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm_reporting.periods import day_of, days_between, grains
from crm_reporting.rules import amount_units
from crm_reporting.store import campaigns as attribution
from crm_reporting.store import rollups, upsert_newest
from crm_reporting.tables import leads, opportunities, pool_moves
from crmkit.events import EventTypes, unpack_payload
from crmkit.records import dt

SALES = EventTypes(sales_events.EventType)
LEAD_SOURCE = "sales_lead"   # how a lead reached a campaign: sales' lead carries its campaign_id


# unpack_payload is typed Message: the ignores below stand for "every opportunity event's payload
# has `opportunity`, every lead event's `lead` (converted: also `opportunity`)".

def opportunity_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_opportunity(session, unpack_payload(env).opportunity)  # type: ignore[attr-defined]


POOL_MOVES = frozenset({SALES.LEAD_POOL_RETURNED, SALES.LEAD_POOL_RELEASED, SALES.LEAD_POOL_CLAIMED,
                        SALES.LEAD_POOL_ASSIGNED})


def lead_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    payload = unpack_payload(env)
    apply_lead(session, payload.lead)  # type: ignore[attr-defined]
    if env.event_type == SALES.LEAD_CONVERTED:
        apply_conversion(session, cast(sales_events.LeadConverted, payload))
    elif env.event_type in POOL_MOVES:
        moved = cast(sales_events.LeadPoolMoved, payload)
        apply_pool_move(session, env.event_id, moved.move, team=moved.lead.team, region=moved.lead.region)


def apply_pool_move(session: Session, event_id: str, move: PoolMove, *, team: str, region: str) -> bool:
    """One row per move event of a lead or an account (its id is the key: a redelivery adds nothing)."""
    if session.execute(select(pool_moves.c.event_id).where(pool_moves.c.event_id == event_id)).first():
        return False
    session.execute(insert(pool_moves).values(
        event_id=event_id, record_id=move.record_id, record_type=move.record_type or "lead", team=move.team or team,
        region=region, kind=move.kind, day=day_of(move.at)))
    return True


def apply_conversion(session: Session, converted: sales_events.LeadConverted) -> None:
    """The lead's contact is the same person from now on; the new deal is a deal like any other."""
    if attribution.link(session, converted.lead.id, converted.contact_id):
        attribution.reattribute(session, lead_ids=[converted.lead.id], contact_ids=[converted.contact_id])
    if converted.opportunity.id:
        apply_opportunity(session, converted.opportunity)


def apply_opportunity(session: Session, opp: Opportunity) -> bool:
    status = opp.status or "open"
    closed_month, closed_at = "", None
    if status in ("won", "lost"):
        when = opp.closed_at if opp.HasField("closed_at") else opp.updated_at
        closed_month = when.ToDatetime().strftime("%Y-%m")
        closed_at = dt(when) if when.seconds or when.nanos else None
    values = {
        "owner_id": opp.owner_id,
        "team": opp.team,
        "region": opp.region,
        "stage": opp.stage,
        "status": status,
        "currency_code": opp.amount.currency_code,
        "amount_units": amount_units(opp.amount.amount),
        "closed_month": closed_month,
        "lead_id": opp.lead_id,
        "contact_id": opp.contact_id,
        "closed_at": closed_at,
        **_opportunity_periods(opp, closed_at.date().isoformat() if closed_at else ""),
    }
    before = rollups.opportunity_row(session, opp.id)
    if not upsert_newest(session, opportunities, opportunities.c.opportunity_id, opp.id, opp.version, values):
        return False
    after = rollups.opportunity_row(session, opp.id)
    for rollup in (rollups.OPPORTUNITIES, rollups.OPPORTUNITY_DAYS, rollups.CAMPAIGN_REVENUE):
        rollups.apply(session, rollup, before, after)
    # A new link can change the attribution of the person's other deals; otherwise only a won deal
    # needs the walk over its person's touches.
    if attribution.link(session, opp.lead_id, opp.contact_id) or status == "won":
        attribution.reattribute(session, lead_ids=[opp.lead_id], contact_ids=[opp.contact_id],
                                opportunity_ids=[opp.id])
    else:
        attribution.unattribute(session, opp.id)
    return True


def _opportunity_periods(opp: Opportunity, closed_day: str) -> dict[str, object]:
    """Analytics: created / closed / expected close day, week and quarter; probability; cycle days."""
    created = day_of(opp.created_at)
    return {**grains("created", created), **grains("closed", closed_day),
            **grains("expected", opp.expected_close_date),
            "probability": opp.probability, "cycle_days": days_between(created, closed_day)}


def apply_lead(session: Session, lead: Lead) -> bool:
    before = rollups.lead_row(session, lead.id)
    if not upsert_newest(session, leads, leads.c.lead_id, lead.id, lead.version, {
        "owner_id": lead.owner_id,
        "team": lead.team,
        "region": lead.region,
        "source": lead.source or "unknown",
        "status": lead.status,
        "campaign_id": lead.campaign_id,
        **grains("created", day_of(lead.created_at)),
        "in_pool": lead.in_pool,
    }):
        return False
    rollups.apply(session, rollups.LEADS, before, rollups.lead_row(session, lead.id))
    # The newest snapshot's campaign is the lead's: a changed campaign_id moves its lead and touch.
    attribution.set_only_campaign_lead(session, lead.campaign_id, lead.id, LEAD_SOURCE)
    touch_id = f"lead:{lead.id}"
    if lead.campaign_id:
        touched = attribution.put_touch(session, touch_id, campaign_id=lead.campaign_id, lead_id=lead.id,
                                        contact_id=lead.converted_contact_id, source=LEAD_SOURCE,
                                        at=dt(lead.created_at))
    else:
        touched = attribution.drop_touch(session, touch_id)
    linked = attribution.link(session, lead.id, lead.converted_contact_id)
    if touched or linked:
        attribution.reattribute(session, lead_ids=[lead.id], contact_ids=[lead.converted_contact_id])
    return True


# Every opportunity and lead event carries its snapshot; quotes, contracts, tasks, approvals ...:
# nothing reporting counts yet.
APPLIES: dict[str, Callable[[Session, EventEnvelope, datetime], None]] = {
    **dict.fromkeys(SALES.of_aggregate("opportunity"), opportunity_changed),
    **dict.fromkeys(SALES.of_aggregate("lead"), lead_changed),
}
