"""Campaigns, invitees and templates: protobuf snapshots plus the columns queries need, kept in
step on every save. Plain functions over a SQLAlchemy session; no rules here."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import Campaign, Invitee, Template
from crm_marketing.tables import campaigns, invitees, templates
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import dt

# -- campaigns


def _campaign_values(c: Campaign) -> dict[str, Any]:
    return dict(id=c.id, status=c.status, type=c.type, owner_id=c.owner_id, team=c.team, region=c.region,
                slug=c.slug, version=c.version, updated_at=dt(c.updated_at), data=c.SerializeToString())


def insert_campaign(session: Session, campaign: Campaign) -> None:
    session.execute(insert(campaigns).values(**_campaign_values(campaign)))


def update_campaign(session: Session, campaign: Campaign) -> None:
    session.execute(update(campaigns).where(campaigns.c.id == campaign.id).values(**_campaign_values(campaign)))


def delete_campaign(session: Session, campaign_id: str) -> None:
    session.execute(delete(campaigns).where(campaigns.c.id == campaign_id))


def load_campaign(session: Session, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
    stmt = select(campaigns.c.data).where(campaigns.c.id == campaign_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else Campaign.FromString(data)


def campaign_by_scene(session: Session, scene: str) -> str | None:
    """The campaign a WeChat QR code's scene value names: its slug, or its id."""
    return session.execute(select(campaigns.c.id).where(
        (campaigns.c.slug == scene) | (campaigns.c.id == scene)).limit(1)).scalar_one_or_none()


def slug_taken(session: Session, slug: str) -> bool:
    return session.execute(select(campaigns.c.id).where(campaigns.c.slug == slug)).first() is not None


def list_campaigns(session: Session, where: list[ColumnElement[bool]], requested: int,
                   page_token: str) -> tuple[list[Campaign], str]:
    size = page_size(requested)
    stmt = select(campaigns.c.data, campaigns.c.seq).where(*where)
    if page_token:
        stmt = stmt.where(campaigns.c.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(campaigns.c.seq.desc()).limit(size + 1)).all()
    return [Campaign.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


# -- invitees


def insert_invitee(session: Session, invitee: Invitee) -> None:
    session.execute(insert(invitees).values(
        campaign_id=invitee.campaign_id, contact_id=invitee.contact_id, check_in_code=invitee.check_in_code,
        status=invitee.status, data=invitee.SerializeToString()))


def update_invitee(session: Session, invitee: Invitee) -> None:
    session.execute(update(invitees).where(
        invitees.c.campaign_id == invitee.campaign_id, invitees.c.contact_id == invitee.contact_id,
    ).values(status=invitee.status, data=invitee.SerializeToString()))


def load_invitee(session: Session, campaign_id: str, *, contact_id: str = "", code: str = "") -> Invitee | None:
    stmt = select(invitees.c.data).where(invitees.c.campaign_id == campaign_id)
    stmt = stmt.where(invitees.c.contact_id == contact_id) if contact_id else stmt.where(invitees.c.check_in_code == code)
    data = session.execute(stmt.with_for_update()).scalar_one_or_none()
    return None if data is None else Invitee.FromString(data)


def invited_ids(session: Session, campaign_id: str, contact_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(contact_ids), 500):
        found.update(session.execute(select(invitees.c.contact_id).where(
            invitees.c.campaign_id == campaign_id, invitees.c.contact_id.in_(contact_ids[i:i + 500]))).scalars())
    return found


def code_taken(session: Session, campaign_id: str, code: str) -> bool:
    return session.execute(select(invitees.c.seq).where(
        invitees.c.campaign_id == campaign_id, invitees.c.check_in_code == code)).first() is not None


def list_invitees(session: Session, campaign_id: str, status: str, requested: int,
                  page_token: str) -> tuple[list[Invitee], str]:
    size = page_size(requested)
    stmt = select(invitees.c.data, invitees.c.seq).where(invitees.c.campaign_id == campaign_id)
    if status:
        stmt = stmt.where(invitees.c.status == status)
    if page_token:
        stmt = stmt.where(invitees.c.seq > decode_cursor(page_token))
    rows = session.execute(stmt.order_by(invitees.c.seq).limit(size + 1)).all()
    return [Invitee.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def invitee_counts(session: Session, campaign_id: str) -> dict[str, int]:
    rows = session.execute(select(invitees.c.status, func.count()).where(
        invitees.c.campaign_id == campaign_id).group_by(invitees.c.status)).all()
    return {status: int(n) for status, n in rows}


# -- templates


def save_template(session: Session, template: Template, *, new: bool) -> None:
    values = dict(id=template.id, name=template.name, version=template.version, data=template.SerializeToString())
    if new:
        session.execute(insert(templates).values(**values))
    else:
        session.execute(update(templates).where(templates.c.id == template.id).values(**values))


def delete_template(session: Session, template_id: str) -> None:
    session.execute(delete(templates).where(templates.c.id == template_id))


def load_template(session: Session, template_id: str, *, for_update: bool = False) -> Template | None:
    stmt = select(templates.c.data).where(templates.c.id == template_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else Template.FromString(data)


def list_templates(session: Session, requested: int, page_token: str) -> tuple[list[Template], str]:
    size = page_size(requested)
    stmt = select(templates.c.data, templates.c.seq)
    if page_token:
        stmt = stmt.where(templates.c.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(templates.c.seq.desc()).limit(size + 1)).all()
    return [Template.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""
