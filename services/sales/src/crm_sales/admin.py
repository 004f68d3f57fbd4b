"""Sales configuration: reps (who can receive leads) and the settings document (scoring,
assignment, pipelines, approvals, follow-ups), validated section by section."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import SalesRep, SalesSettings
from crm_sales import approvals, assignment, pipeline, scoring, store, work
from crm_sales.common import check_version, settings
from crm_sales.visibility import require_manager
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, PermissionDenied

SECTIONS = {
    "scoring_rules": scoring.validate_rules,
    "assignment_rules": assignment.validate_rules,
    "pipelines": pipeline.validate_pipelines,
    "approval_policies": approvals.validate_policies,
    "follow_up_rules": work.validate_follow_ups,
}


def upsert_rep(uow: UnitOfWork, principal: Principal, rep: SalesRep) -> SalesRep:
    require_manager(principal, "maintain the sales team")
    rep.user_id = rep.user_id.strip()
    if not rep.user_id:
        raise InvalidArgument("user_id is required", field="user_id")
    if principal.is_manager and not principal.is_admin and rep.team and rep.team != principal.team:
        raise PermissionDenied("a manager maintains their own team", field="team")
    rep.ClearField("open_leads")
    store.save_rep(uow.session, rep)
    return rep


def list_reps(session: Session, team: str) -> list[SalesRep]:
    counts = store.open_lead_counts(session)
    found = []
    for rep in sorted(store.all_reps(session).values(), key=lambda r: r.user_id):
        if team and rep.team != team:
            continue
        rep.open_leads = counts.get(rep.user_id, 0)
        found.append(rep)
    return found


def update_settings(uow: UnitOfWork, principal: Principal, patch: SalesSettings, mask: Sequence[str],
                    expected: int) -> SalesSettings:
    if not principal.is_admin:
        raise PermissionDenied("only an admin changes sales settings")
    current = settings(uow.session)
    check_version(current.version, expected)
    paths = list(dict.fromkeys(mask))
    if not paths:
        raise InvalidArgument("name the sections to replace in update_mask", field="update_mask")
    for path in paths:
        if path not in SECTIONS:
            raise InvalidArgument(f"unknown section '{path}' (sections: {', '.join(SECTIONS)})", field="update_mask")
        SECTIONS[path](getattr(patch, path))
        current.ClearField(path)
        getattr(current, path).extend(getattr(patch, path))
    current.version += 1
    store.save_settings(uow.session, current)
    return current
