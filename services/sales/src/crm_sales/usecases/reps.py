"""The sales team: who can receive leads (active reps, their team and region)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import SalesRep
from crm_sales.store import people, records
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.visibility import require_manager


def upsert_rep(uow: UnitOfWork, *, principal: Principal, rep: SalesRep) -> SalesRep:
    require_manager(principal, "maintain the sales team")
    rep.user_id = rep.user_id.strip()
    if not rep.user_id:
        raise InvalidArgument("user_id is required", field="user_id")
    if principal.is_manager and not principal.is_admin and rep.team and rep.team != principal.team:
        raise PermissionDenied("a manager maintains their own team", field="team")
    rep.ClearField("open_leads")
    people.save_rep(uow.session, rep)
    return rep


def list_reps(session: Session, *, team: str) -> list[SalesRep]:
    counts = records.open_lead_counts(session)
    found = []
    for rep in sorted(people.all_reps(session).values(), key=lambda r: r.user_id):
        if team and rep.team != team:
            continue
        rep.open_leads = counts.get(rep.user_id, 0)
        found.append(rep)
    return found
