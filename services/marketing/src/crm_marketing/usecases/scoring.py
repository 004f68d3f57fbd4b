"""The engagement score and the hand-off to sales: a contact's scored touches (opens, clicks,
page views, form submissions) are summed with the settings' weights and decay at each new one,
in its transaction; the first time the score reaches the threshold the contact is
marketing-qualified (once), and unless sales already has a lead for it (a form's), a lead with
the history of its touches is owed to sales (lead_handoffs, delivered by the scheduler)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import AutomationSettings, Engagement, Touch
from crm_marketing.events import MARKETING, emit
from crm_marketing.metrics import QUALIFIED
from crm_marketing.rules import access
from crm_marketing.rules import scoring as rules
from crm_marketing.store import engagement as store
from crm_marketing.store import forms as form_store
from crm_marketing.store import projection, records
from crm_marketing.usecases import automation_settings
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import NotFound
from crmkit.records import aware

HANDOFF_KEY = "marketing-mql-{contact_id}"  # the CaptureLead idempotency key: one lead per contact, ever


def _scored(session: Session, contact_id: str, settings: AutomationSettings, now: datetime) -> list[rules.Scored]:
    horizon = rules.horizon_days(settings)
    since = now - timedelta(days=horizon) if horizon is not None else None
    return [rules.Scored(t.kind, t.url, t.campaign_id, t.at)
            for t in store.touches_of(session, contact_id, since=since, kinds=sorted(rules.SCORED))]


def on_touch(uow: UnitOfWork, *, contact_id: str, kinds: set[str], now: datetime) -> float | None:
    """Rescore after new touches; the score, or None when none of them is scored."""
    if not kinds & rules.SCORED.keys():
        return None
    session = uow.session
    settings = automation_settings.current(session)
    touches = _scored(session, contact_id, settings, now)
    total = rules.score(touches, now, settings)
    current = store.engagement_of(session, contact_id, for_update=True)
    crossing = (settings.mql_enabled and total >= settings.mql_threshold
                and (current is None or current.qualified_at is None))
    if not crossing:
        store.save_score(session, contact_id, total, now)
        return total
    already = current.lead_id if current is not None else ""
    contact = projection.get(session, contact_id)
    if not already and contact is not None and contact.email and form_store.pending_for(session, contact.email):
        already = "form"  # a submission of this person is on its way to sales as a lead
    store.save_score(session, contact_id, total, now, qualified=True,
                     handoff_status="already_lead" if already else "pending")
    campaign_id = rules.last_campaign(touches)
    event = ev.ContactQualified(contact_id=contact_id, score=total, threshold=settings.mql_threshold,
                                campaign_id=campaign_id)
    event.at.FromDatetime(now)
    emit(uow, SYSTEM, MARKETING.CONTACT_QUALIFIED, contact_id, 1, event, now)
    QUALIFIED.labels("already_lead" if already else "handed_over").inc()
    if not already:
        _owe_lead(uow, contact_id, touches, total, settings, campaign_id, now)
    return total


def _owe_lead(uow: UnitOfWork, contact_id: str, touches: list[rules.Scored], total: float,
              settings: AutomationSettings, campaign_id: str, now: datetime) -> None:
    session = uow.session
    contact = projection.get(session, contact_id)
    if contact is None:
        return
    names = {}
    for cid in {t.campaign_id for t in touches if t.campaign_id}:
        campaign = records.load_campaign(session, cid)
        names[cid] = campaign.name if campaign else cid
    lead = rules.lead_for(name=contact.name, email=contact.email, company=contact.company, title=contact.title,
                          city=contact.city, province=contact.province, region=contact.region,
                          campaign_id=campaign_id,
                          description=rules.notes(touches, total, settings.mql_threshold, names))
    store.add_handoff(session, key=HANDOFF_KEY.format(contact_id=contact_id), contact_id=contact_id,
                      campaign_id=campaign_id, score=total, lead=lead.SerializeToString(), now=now)


def get(session: Session, *, principal: Principal, now: datetime, contact_id: str) -> Engagement:
    """The score as of now (decayed since the last touch), and the latest touches."""
    access.require_reader(principal)
    if not contact_id or projection.get(session, contact_id) is None:
        raise NotFound(f"contact {contact_id} is not known to marketing", field="contact_id")
    settings = automation_settings.current(session)
    row = store.engagement_of(session, contact_id)
    touches = _scored(session, contact_id, settings, now)
    out = Engagement(contact_id=contact_id, score=rules.score(touches, now, settings),
                     threshold=settings.mql_threshold)
    out.computed_at.FromDatetime(now)
    if row is not None:
        if row.qualified_at is not None:
            out.qualified_at.FromDatetime(aware(row.qualified_at))
        out.lead_id, out.handoff_status = row.lead_id, row.handoff_status
    for t in touches[:50]:
        touch = Touch(kind=rules.SCORED[t.kind][0], url=t.url, campaign_id=t.campaign_id,
                      points=round(rules.points(t.kind, t.at, now, settings.weights, settings.half_life_days), 3))
        touch.at.FromDatetime(t.at)
        out.touches.append(touch)
    return out
