"""Custom field definitions: which extra keys a contact's or an account's `custom_fields` may
hold, of which type (an admin defines them; every create and update checks values against them)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import CustomFieldDefinition
from crm_contacts import store
from crm_contacts.rules.records import check_definition
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import PermissionDenied


def define_custom_field(uow: UnitOfWork, *, principal: Principal,
                        definition: CustomFieldDefinition) -> CustomFieldDefinition:
    if not principal.is_admin:
        raise PermissionDenied("only an admin can define custom fields")
    check_definition(definition)
    store.save_definition(uow.session, definition)
    return definition


def list_custom_fields(session: Session, *, entity: str) -> list[CustomFieldDefinition]:
    return list(store.definitions(session, entity or "contact").values())
