"""The settings document: scoring and assignment rules, pipelines, approval policies, follow-up
rules, the public pool's rules per team. Each section is validated by its rule module and replaced whole; until an admin saves
one, every section is the built-in default."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import SalesSettings
from crm_sales.events import SALES, emit
from crm_sales.rules import approval_policy, assignment, follow_ups, pipeline, pool, scoring
from crm_sales.rules.fields import listed
from crm_sales.store import settings as rows
from crm_sales.store.picklists import PICKLISTS
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.fields import patchable
from crmkit.records import check_version

SECTIONS = patchable(SalesSettings)
VALIDATORS: dict[str, Callable[[Sequence[Any]], None]] = {
    "scoring_rules": scoring.validate_rules,
    "assignment_rules": assignment.validate_rules,
    "pipelines": pipeline.validate_pipelines,
    "approval_policies": approval_policy.validate_policies,
    "follow_up_rules": follow_ups.validate_follow_ups,
    "pool_rules": pool.validate_rules,
}


def defaults() -> SalesSettings:
    return SalesSettings(
        scoring_rules=list(scoring.DEFAULT_RULES),
        pipelines=[pipeline.DEFAULT_PIPELINE],
        approval_policies=list(approval_policy.DEFAULT_POLICIES),
        follow_up_rules=list(follow_ups.DEFAULT_FOLLOW_UPS),
        pool_rules=[pool.DEFAULT_RULE],
        version=0,
    )


# The defaults are constants: parsing their bytes is cheaper than building the messages per call
# (every caller gets its own copy, so one that edits it cannot change the next one's).
_DEFAULTS = defaults().SerializeToString()


def current(session: Session) -> SalesSettings:
    return rows.load_settings(session) or SalesSettings.FromString(_DEFAULTS)


def update_settings(uow: UnitOfWork, *, principal: Principal, patch: SalesSettings, mask: Sequence[str],
                    expected: int, now: datetime) -> SalesSettings:
    if not principal.is_admin:
        raise PermissionDenied("only an admin changes sales settings")
    settings = current(uow.session)
    check_version(settings.version, expected)
    paths = list(dict.fromkeys(mask))
    if not paths:
        raise InvalidArgument("name the sections to replace in update_mask", field="update_mask")
    for path in paths:
        if path not in SECTIONS:
            raise InvalidArgument(f"unknown section '{path}' (sections: {listed(SalesSettings, SECTIONS)})",
                                  field="update_mask")
        VALIDATORS[path](getattr(patch, path))
        if path == "assignment_rules":  # a rule routes by any source the picklist has, retired ones too
            vocabulary = PICKLISTS.current(uow.session)
            for i, rule in enumerate(patch.assignment_rules):
                vocabulary.check_filter("source", rule.sources, f"assignment_rules[{i}].sources")
        settings.ClearField(path)
        getattr(settings, path).extend(getattr(patch, path))
    settings.version += 1
    rows.save_settings(uow.session, settings)
    if "pool_rules" in paths:  # contacts keeps a copy for its pool of customers
        emit(uow, principal, SALES.SETTINGS_POOL_RULES_CHANGED, "sales", settings.version,
             ev.PoolRulesChanged(pool_rules=settings.pool_rules, settings_version=settings.version), now)
    return settings
