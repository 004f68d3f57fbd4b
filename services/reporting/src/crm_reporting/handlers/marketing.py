"""Marketing events → the campaign read models: campaigns and send waves (snapshots at the newest
version), each recipient's first open, click and unsubscribe (once per wave and contact), and the
clicks as touches for attribution."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.marketing.v1 import events_pb2 as marketing_events
from crm.marketing.v1.marketing_pb2 import Campaign, SendWave
from crm_reporting.rules import amount_units, week_of
from crm_reporting.store import campaigns as attribution
from crm_reporting.store import upsert_newest
from crm_reporting.tables import campaigns, waves
from crmkit.events import EventTypes, unpack_payload
from crmkit.records import dt

MARKETING = EventTypes(marketing_events.EventType)
OPENED, CLICKED, UNSUBSCRIBED = "opened", "clicked", "unsubscribed"
ENGAGEMENTS = {MARKETING.EMAIL_OPENED: OPENED, MARKETING.EMAIL_CLICKED: CLICKED,
               MARKETING.EMAIL_UNSUBSCRIBED: UNSUBSCRIBED}
CLICK_SOURCE = "click"


# unpack_payload is typed Message: the casts below say which payload each event type carries.

def campaign_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    campaign = unpack_payload(env).campaign  # type: ignore[attr-defined]  # every campaign event's payload
    apply_campaign(session, campaign, live=env.event_type != MARKETING.CAMPAIGN_DELETED)


def wave_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_wave(session, cast(marketing_events.WaveChanged, unpack_payload(env)).wave)


def email_engaged(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_engagement(session, cast(marketing_events.EmailEngagement, unpack_payload(env)),
                     ENGAGEMENTS[env.event_type], env.event_id)


def apply_campaign(session: Session, campaign: Campaign, *, live: bool = True) -> bool:
    return upsert_newest(session, campaigns, campaigns.c.campaign_id, campaign.id, campaign.version, {
        "name": campaign.name[:200],
        "channel": campaign.type or "unknown",
        "status": campaign.status,
        "owner_id": campaign.owner_id,
        "team": campaign.team,
        "region": campaign.region,
        "start_date": campaign.start_date,
        "end_date": campaign.end_date,
        "budget_currency": campaign.budget.currency_code,
        "budget_units": amount_units(campaign.budget.amount),
        "cost_currency": campaign.actual_cost.currency_code,
        "cost_units": amount_units(campaign.actual_cost.amount),
        "live": live,
    })


def apply_wave(session: Session, wave: SendWave) -> bool:
    began = wave.started_at if wave.HasField("started_at") else wave.created_at
    day = dt(began).date().isoformat() if began.seconds else ""
    counts = wave.counts
    return upsert_newest(session, waves, waves.c.wave_id, wave.id, wave.version, {
        "campaign_id": wave.campaign_id,
        "status": wave.status,
        "recipients": counts.recipients,
        "sent": counts.sent,
        "delivered": counts.delivered,
        "failed": counts.failed,
        "send_day": day,
        "send_week": week_of(day),
    })


def apply_engagement(session: Session, event: marketing_events.EmailEngagement, kind: str, event_id: str) -> None:
    """Once per (wave, contact, kind); a click is an open too (images off) and a touch of its campaign."""
    if not (event.wave_id and event.contact_id):
        return
    at = dt(event.at)
    for what in (kind, OPENED) if kind == CLICKED else (kind,):
        attribution.record_engagement(session, wave_id=event.wave_id, contact_id=event.contact_id, kind=what,
                                      campaign_id=event.campaign_id, at=at)
    if kind != CLICKED:
        return
    # every click is a touch (the last one before a win may be a later click than the first)
    if event.campaign_id and attribution.put_touch(
            session, f"{CLICK_SOURCE}:{event_id}", campaign_id=event.campaign_id, lead_id="",
            contact_id=event.contact_id, source=CLICK_SOURCE, at=at):
        attribution.reattribute(session, contact_ids=[event.contact_id])


# Campaigns, waves and email engagement; invitees and templates: nothing reporting counts yet.
APPLIES: dict[str, Callable[[Session, EventEnvelope, datetime], None]] = {
    **dict.fromkeys(MARKETING.of_aggregate("campaign"), campaign_changed),
    **dict.fromkeys(MARKETING.of_aggregate("wave"), wave_changed),
    **dict.fromkeys(ENGAGEMENTS, email_engaged),
}
