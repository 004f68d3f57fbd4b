"""What the links in a mail do, reached through the gateway's public routes with a signed token:
one-click unsubscribe (at once here, and a consent withdrawal owed to contacts in the same
transaction), the open pixel, the click redirect (only to a link that mail contained). Any token
that is not genuine gets the same INVALID_ARGUMENT, so nothing can be probed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import SendWave
from crm_marketing.events import MARKETING, emit
from crm_marketing.metrics import ENGAGEMENT
from crm_marketing.rules import tracking
from crm_marketing.rules.eligibility import UNSUBSCRIBED
from crm_marketing.store import projection, sending
from crm_marketing.usecases import automation_settings, engagement, sequences
from crm_marketing.usecases.sending import engagement_event, recipient_links
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument

UNSUBSCRIBE_SOURCE = "unsubscribe_link"


def _recipient(uow: UnitOfWork, key: bytes, token: str, kind: str) -> tuple[tracking.TokenClaims, Row[Any], SendWave]:
    claims = tracking.verify(key, token.strip(), kind)
    row = sending.by_seq(uow.session, claims.recipient, for_update=True) if claims else None
    wave = sending.load_wave(uow.session, row.wave_id) if row is not None else None
    if claims is None or row is None or wave is None or row.status not in ("sent", "sending"):
        raise InvalidArgument("this link is not valid", field="token")
    return claims, row, wave


def _engagement(wave: SendWave, row: Row[Any], now: datetime, **extra: Any) -> ev.EmailEngagement:
    return engagement_event(wave, row.contact_id, row.email, now, message_id=row.message_id, **extra)


def unsubscribe(uow: UnitOfWork, *, principal: Principal, now: datetime, key: bytes, token: str) -> tuple[str, bool]:
    """(the masked email, whether it was unsubscribed already)."""
    _, row, wave = _recipient(uow, key, token, tracking.UNSUBSCRIBE)
    masked = tracking.mask_email(row.email)
    if row.unsubscribed_at is not None:
        return masked, True
    session = uow.session
    sending.touch(session, row.seq, unsubscribed_at=now)
    projection.record_unsubscribe(session, row.contact_id, wave.purpose, row.email, wave.id, now)
    sending.add_consent_job(session, key=f"marketing-unsubscribe-{row.seq}", contact_id=row.contact_id,
                            purpose=wave.purpose, granted=False, source=UNSUBSCRIBE_SOURCE,
                            evidence=f"one-click unsubscribe from send wave {wave.id} ({row.email})", at=now)
    emit(uow, principal, MARKETING.EMAIL_UNSUBSCRIBED, f"{wave.id}/{row.contact_id}", 1,
         _engagement(wave, row, now), now)
    sequences.exit_contact(uow, contact_id=row.contact_id, reason=UNSUBSCRIBED, now=now)
    engagement.record(uow, now=now, kind=MARKETING.EMAIL_UNSUBSCRIBED, contact_id=row.contact_id,
                      campaign_id=wave.campaign_id, ref=wave.id)
    ENGAGEMENT.labels("unsubscribe").inc()
    return masked, False


def record_open(uow: UnitOfWork, *, principal: Principal, now: datetime, key: bytes, token: str) -> None:
    _, row, wave = _recipient(uow, key, token, tracking.OPEN)
    first = row.opened_at is None
    sending.touch(uow.session, row.seq, open_count=row.open_count + 1, **({"opened_at": now} if first else {}))
    if first:  # one event per recipient: image proxies re-fetch the pixel
        emit(uow, principal, MARKETING.EMAIL_OPENED, f"{wave.id}/{row.contact_id}", 1, _engagement(wave, row, now), now)
        ENGAGEMENT.labels("open").inc()
        engagement.record(uow, now=now, kind=MARKETING.EMAIL_OPENED, contact_id=row.contact_id,
                          campaign_id=wave.campaign_id, ref=wave.id)


def resolve_click(uow: UnitOfWork, *, principal: Principal, now: datetime, key: bytes, token: str) -> str:
    claims, row, wave = _recipient(uow, key, token, tracking.CLICK)
    links = recipient_links(row.links, sending.links_of_wave(uow.session, wave.id))
    if not 0 <= claims.link < len(links):
        raise InvalidArgument("this link is not valid", field="token")
    url = links[claims.link]
    values: dict[str, Any] = {"click_count": row.click_count + 1}
    if row.clicked_at is None:
        values["clicked_at"] = now
    if row.opened_at is None:  # a click without the pixel (images off) is an open too
        values["opened_at"] = now
    sending.touch(uow.session, row.seq, **values)
    emit(uow, principal, MARKETING.EMAIL_CLICKED, f"{wave.id}/{row.contact_id}", 1,
         _engagement(wave, row, now, url=url, link_index=claims.link), now)
    ENGAGEMENT.labels("click").inc()
    if row.opened_at is None:
        engagement.record(uow, now=now, kind=MARKETING.EMAIL_OPENED, contact_id=row.contact_id,
                          campaign_id=wave.campaign_id, ref=wave.id)
    engagement.record(uow, now=now, kind=MARKETING.EMAIL_CLICKED, contact_id=row.contact_id, url=url,
                      campaign_id=wave.campaign_id, ref=wave.id)
    sites = automation_settings.current(uow.session).sites
    hosts = frozenset(d for site in sites for d in site.domains)
    return tracking.with_contact(url, key, row.contact_id, hosts) if hosts else url
