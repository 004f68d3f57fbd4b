"""Support settings: business hours, SLA policies, routing rules, macros, auto-close. One record,
read by almost every write (the defaults until a manager saves it)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from crm.support.v1.support_pb2 import SupportSettings
from crm_support import store
from crm_support.rules.access import require_staff
from crm_support.rules.settings import check_settings, default_settings
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.fields import patchable
from crmkit.records import check_version
from crmkit.visibility import require_manager

UPDATABLE = patchable(SupportSettings)
_REPLACED = ("sla_policies", "routing_rules", "macros", "staff")


def current(session: Session) -> SupportSettings:
    """The effective settings."""
    return store.load_settings(session) or default_settings()


def get_settings(session: Session, *, principal: Principal) -> SupportSettings:
    require_staff(principal)
    return current(session)


def update_settings(uow: UnitOfWork, *, principal: Principal, patch: SupportSettings, paths: Sequence[str],
                    expected_version: int) -> SupportSettings:
    require_manager(principal, "change support settings")
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    saved = current(uow.session)
    check_version(saved.version, expected_version)
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} is not a setting", field=path)
        if path in _REPLACED:  # lists are replaced whole
            field = getattr(saved, path)
            del field[:]
            field.extend(getattr(patch, path))
        elif path == "business_hours":
            saved.business_hours.CopyFrom(patch.business_hours)
        else:
            setattr(saved, path, getattr(patch, path))
    check_settings(saved)
    saved.version += 1
    store.save_settings(uow.session, saved)
    return saved
