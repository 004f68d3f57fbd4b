"""Email templates: create, change, delete, and preview for one contact (rendered, or a clear
INVALID_ARGUMENT naming the part and the merge field)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import PreviewTemplateResponse, Template
from crm_marketing.events import MARKETING, emit
from crm_marketing.rules import access
from crm_marketing.rules import templates as rules
from crm_marketing.store import projection, records
from crm_marketing.store.projection import ProjectedContact
from crm_marketing.usecases import campaigns
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound
from crmkit.fields import patchable
from crmkit.records import bump, check_version, new_id, stamp_new

UPDATABLE = patchable(Template)
PREVIEW_UNSUBSCRIBE = "https://example.invalid/unsubscribe/preview"


def merge_context(contact: ProjectedContact, *, campaign_name: str, unsubscribe_url: str) -> dict[str, Any]:
    """The merge fields of one recipient (rules.templates.MERGE_FIELDS)."""
    return {"name": contact.name, "email": contact.email, "company": contact.company, "title": contact.title,
            "city": contact.city, "province": contact.province, "language": contact.language,
            "custom": dict(contact.custom), "campaign_name": campaign_name, "unsubscribe_url": unsubscribe_url}


def get(session: Session, *, principal: Principal, template_id: str, field: str = "id") -> Template:
    access.require_reader(principal)
    template = records.load_template(session, template_id) if template_id else None
    if template is None:
        raise NotFound(f"template {template_id} not found", field=field)
    return template


def list_templates(session: Session, *, principal: Principal, page_size: int,
                   page_token: str) -> tuple[list[Template], str]:
    access.require_reader(principal)
    return records.list_templates(session, page_size, page_token)


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, template: Template) -> Template:
    access.require_writer(principal)
    rules.check(template)
    template.id = new_id()
    template.created_by = principal.user_id
    stamp_new(template, now)
    records.save_template(uow.session, template, new=True)
    emit(uow, principal, MARKETING.TEMPLATE_CREATED, template.id, template.version,
         ev.TemplateSaved(template=template), now)
    return template


def _for_write(uow: UnitOfWork, principal: Principal, template_id: str) -> Template:
    access.require_writer(principal)
    template = records.load_template(uow.session, template_id, for_update=True) if template_id else None
    if template is None:
        raise NotFound(f"template {template_id} not found", field="id")
    return template


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Template, paths: Sequence[str],
           expected_version: int) -> Template:
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} cannot be changed here", field=path)
    template = _for_write(uow, principal, patch.id)
    check_version(template.version, expected_version)
    for path in paths:
        if path == "contents":
            del template.contents[:]
            template.contents.extend(patch.contents)
        else:
            setattr(template, path, getattr(patch, path))
    rules.check(template)
    bump(template, now)
    records.save_template(uow.session, template, new=False)
    emit(uow, principal, MARKETING.TEMPLATE_UPDATED, template.id, template.version,
         ev.TemplateSaved(template=template), now)
    return template


def delete(uow: UnitOfWork, *, principal: Principal, now: datetime, template_id: str, expected_version: int) -> None:
    """Waves keep the template as they froze it, so deleting changes no mail already planned."""
    template = _for_write(uow, principal, template_id)
    check_version(template.version, expected_version)
    records.delete_template(uow.session, template.id)
    emit(uow, principal, MARKETING.TEMPLATE_DELETED, template.id, template.version + 1,
         ev.TemplateDeleted(template=template), now)


def preview(session: Session, *, principal: Principal, template_id: str, draft: Template | None, contact_id: str,
            language: str, campaign_id: str) -> PreviewTemplateResponse:
    access.require_reader(principal)
    if draft is not None:
        template = draft
        if not template.name:
            template.name = "preview"
        rules.check(template, known_fields=False)  # the render below names an unknown field
    else:
        template = get(session, principal=principal, template_id=template_id, field="template_id")
    contact = projection.get(session, contact_id) if contact_id else None
    if contact is None:
        raise NotFound(f"contact {contact_id} is not known to marketing", field="contact_id")
    campaign_name = ""
    if campaign_id:
        campaign_name = campaigns.get(session, principal=principal, campaign_id=campaign_id, field="campaign_id").name
    content = rules.pick(template, language or contact.language)
    rendered = rules.render(content, merge_context(contact, campaign_name=campaign_name,
                                                  unsubscribe_url=PREVIEW_UNSUBSCRIBE))
    return PreviewTemplateResponse(language=rendered.language, subject=rendered.subject, text=rendered.text,
                                   html=rendered.html)
