"""The web-visit intake (the gateway's public POST /api/v1/public/track): a page view on a tracked
site (its key in the settings; the URL on one of its domains), by a visitor known by its cookie,
tied to a contact by an email or a contact token (crm_ct in the links of a tracked mail). Each
view is a touch (kind web.visit) that rules and the score count; a visitor tied to a contact
later brings its earlier views along. Limited per visitor per minute."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import TrackVisitRequest, TrackVisitResponse
from crm_marketing.metrics import VISITS
from crm_marketing.rules import settings as site_rules
from crm_marketing.rules import tracking
from crm_marketing.rules.triggers import WEB_VISIT
from crm_marketing.store import engagement as store
from crm_marketing.store import projection
from crm_marketing.usecases import automation_settings, engagement
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, ResourceExhausted

_VISITOR = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def track(uow: UnitOfWork, *, now: datetime, key: bytes, request: TrackVisitRequest) -> TrackVisitResponse:
    session = uow.session
    settings = automation_settings.current(session)
    site = site_rules.site_for(settings, request.site_key.strip())
    if site is None:
        VISITS.labels("refused").inc()
        raise InvalidArgument("no tracked site has this key", field="site_key")
    url = request.url.strip()[:2000]
    if not site_rules.url_allowed(site, url):
        VISITS.labels("refused").inc()
        raise InvalidArgument("the URL is not a page of this site", field="url")
    visitor_id = request.visitor_id.strip()
    if visitor_id and not _VISITOR.match(visitor_id):
        raise InvalidArgument("a visitor id is 8 to 64 letters, digits, _ or -", field="visitor_id")
    visitor_id = visitor_id or uuid.uuid4().hex
    if store.recent_visits(session, visitor_id, now - timedelta(minutes=1)) >= settings.visit_limit_per_visitor:
        VISITS.labels("refused").inc()
        raise ResourceExhausted("too many page views from this visitor; slow down", field="visitor_id")
    known = store.visitor_contact(session, visitor_id)
    contact_id = _identify(session, key, request) or known or ""
    if contact_id and contact_id != known:
        engagement.identified(uow, now=now, contact_id=contact_id, visitor_id=visitor_id, site_key=site.key)
    else:
        store.save_visitor(session, visitor_id, contact_id="", site_key=site.key, now=now)
    engagement.record(uow, now=now, kind=WEB_VISIT, contact_id=contact_id, visitor_id=visitor_id, url=url,
                      ref=site.key)
    VISITS.labels("known" if contact_id else "anonymous").inc()
    return TrackVisitResponse(visitor_id=visitor_id, identified=bool(contact_id))


def _identify(session: Session, key: bytes, request: TrackVisitRequest) -> str:
    """The contact a contact token or an email names (one marketing knows), else ""."""
    if request.contact_token.strip():
        contact_id = tracking.verify_contact(key, request.contact_token)
        if contact_id is None:
            raise InvalidArgument("this contact token is not valid", field="contact_token")
        contact = projection.get(session, contact_id)
        if contact is not None and not contact.suppressed:
            return contact_id
    email = request.email.strip().lower()
    if email:
        return projection.contact_by_email(session, email) or ""
    return ""
