"""Marketing events → the campaign read models: campaigns and send waves (snapshots at the newest
version); each recipient's delivery, first open, click and unsubscribe (once per wave and contact);
form submissions and hand-offs to sales as attributed leads; clicks and form submissions as
touches for attribution."""
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
SENT, OPENED, CLICKED, UNSUBSCRIBED = "sent", "opened", "clicked", "unsubscribed"
ENGAGEMENTS = {MARKETING.EMAIL_SENT: SENT, MARKETING.EMAIL_OPENED: OPENED, MARKETING.EMAIL_CLICKED: CLICKED,
               MARKETING.EMAIL_UNSUBSCRIBED: UNSUBSCRIBED}
CLICK_SOURCE, FORM_SOURCE, HANDOVER_SOURCE = "click", "form", "handover"


# unpack_payload is typed Message: the casts below say which payload each event type carries.

def campaign_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    campaign = unpack_payload(env).campaign  # type: ignore[attr-defined]  # every campaign event's payload
    apply_campaign(session, campaign, live=env.event_type != MARKETING.CAMPAIGN_DELETED)


def wave_changed(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_wave(session, cast(marketing_events.WaveChanged, unpack_payload(env)).wave)


def email_engaged(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_engagement(session, cast(marketing_events.EmailEngagement, unpack_payload(env)),
                     ENGAGEMENTS[env.event_type], env.event_id)


def form_submitted(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_form_submission(session, cast(marketing_events.FormSubmitted, unpack_payload(env)))


def lead_handed_over(session: Session, env: EventEnvelope, now: datetime) -> None:
    apply_hand_off(session, cast(marketing_events.LeadHandedOver, unpack_payload(env)))


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
        "kind": wave.kind,
        "recipients": counts.recipients,
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


def apply_form_submission(session: Session, event: marketing_events.FormSubmitted) -> None:
    """A lead for the form's campaign (one with the sales lead it becomes) and a touch of it."""
    if not (event.submission_id and event.campaign_id):
        return
    lead_id = attribution.lead_of_submission(session, event.submission_id)
    key = lead_id or attribution.submission_key(event.submission_id)
    attribution.add_campaign_lead(session, event.campaign_id, key, FORM_SOURCE, lead_id)
    if attribution.put_touch(session, f"{FORM_SOURCE}:{event.submission_id}", campaign_id=event.campaign_id,
                             lead_id=lead_id, contact_id=event.contact_id, source=FORM_SOURCE, at=dt(event.at)):
        attribution.reattribute(session, lead_ids=[lead_id], contact_ids=[event.contact_id])


def apply_hand_off(session: Session, event: marketing_events.LeadHandedOver) -> None:
    """Sales took a lead from marketing: an attributed lead of its campaign; its lead and contact are
    one person; a form submission's lead is the sales lead it became."""
    attribution.submission_became(session, event.submission_id, event.lead_id, f"{FORM_SOURCE}:{event.submission_id}")
    if event.campaign_id and (event.lead_id or event.contact_id):
        attribution.add_campaign_lead(session, event.campaign_id, event.lead_id or f"contact:{event.contact_id}",
                                      HANDOVER_SOURCE, event.lead_id)
    attribution.link(session, event.lead_id, event.contact_id)
    attribution.reattribute(session, lead_ids=[event.lead_id], contact_ids=[event.contact_id])


# Campaigns, waves, email engagement, form submissions and hand-offs; invitees, templates, forms,
# sequences, rules, A/B tests: nothing reporting counts yet.
APPLIES: dict[str, Callable[[Session, EventEnvelope, datetime], None]] = {
    **dict.fromkeys(MARKETING.of_aggregate("campaign"), campaign_changed),
    **dict.fromkeys(MARKETING.of_aggregate("wave"), wave_changed),
    **dict.fromkeys(ENGAGEMENTS, email_engaged),
    MARKETING.FORM_SUBMITTED: form_submitted,
    MARKETING.LEAD_HANDED_OVER: lead_handed_over,
}
