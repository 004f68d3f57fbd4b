"""The automation settings: scoring weights, decay and threshold, the A/B significance level,
form and visit limits, tracked sites. One document, read by the writes that need it (the
defaults until someone saves it); marketing managers and admins change it."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import AutomationSettings
from crm_marketing.rules import access
from crm_marketing.rules import settings as rules
from crm_marketing.store.settings import AUTOMATION
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.fields import patchable
from crmkit.records import check_version

UPDATABLE = patchable(AutomationSettings)
_MESSAGES = ("weights",)
_LISTS = ("sites",)


def current(session: Session) -> AutomationSettings:
    saved = AUTOMATION.load(session)
    return saved if saved is not None else rules.defaults()


def get(session: Session, *, principal: Principal) -> AutomationSettings:
    access.require_reader(principal)
    return current(session)


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: AutomationSettings, paths: Sequence[str],
           expected_version: int) -> AutomationSettings:
    if not (principal.is_admin or principal.is_manager):
        raise PermissionDenied("managers and admins change the automation settings")
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    saved = current(uow.session)
    check_version(saved.version, expected_version)
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} is not a setting", field=path)
        if path in _MESSAGES:
            getattr(saved, path).CopyFrom(getattr(patch, path))
        elif path in _LISTS:
            field = getattr(saved, path)
            del field[:]
            field.extend(getattr(patch, path))
        else:
            setattr(saved, path, getattr(patch, path))
    rules.check(saved)
    saved.version += 1
    saved.updated_at.FromDatetime(now)
    AUTOMATION.save(uow.session, saved)
    return saved
