"""Moving a rep's work: transfer (they leave: leads, opportunities, open tasks and live quotes
change owner in one audited transaction, and contacts is told to move the customers) and
delegation (a short absence: the delegate sees and works the rep's records until the end date,
and gets their reminders)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Delegation, Lead, Opportunity, Quote, Task, TransferOwnershipResponse
from crm_sales import store
from crm_sales.common import audit, bump, emit, new_id
from crm_sales.tables import leads, opportunities, quotes, tasks
from crm_sales.visibility import require_manager
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument

OPEN_STATUSES = {
    Lead: ("new", "working", "qualified", "nurturing", "disqualified"),
    Opportunity: ("open",),
    Task: ("open",),
    Quote: ("draft", "pending_approval", "approved", "rejected", "sent"),
}
TABLES = {Lead: leads, Opportunity: opportunities, Task: tasks, Quote: quotes}


def _check_people(session: Session, principal: Principal, from_user: str, to_user: str) -> None:
    require_manager(principal, "move a rep's work")
    if not from_user or not to_user:
        raise InvalidArgument("name both reps", field="from_user_id" if not from_user else "to_user_id")
    if from_user == to_user:
        raise InvalidArgument("choose someone else", field="to_user_id")
    reps = store.all_reps(session)
    if to_user in reps and not reps[to_user].active:
        raise FailedPrecondition(f"{to_user} is inactive and cannot take over work", field="to_user_id")


def transfer(uow: UnitOfWork, principal: Principal, from_user: str, to_user: str, reason: str,
             now: datetime) -> TransferOwnershipResponse:
    session = uow.session
    _check_people(session, principal, from_user, to_user)
    target = store.all_reps(session).get(to_user)
    moved: dict[type, list] = {}
    for cls, table in TABLES.items():
        rows = session.execute(select(table.c.data).where(
            table.c.owner_id == from_user, table.c.status.in_(OPEN_STATUSES[cls])).with_for_update()).scalars()
        records = [cls.FromString(d) for d in rows]
        if not principal.is_admin:  # a manager moves only what they manage
            records = [r for r in records if r.team == principal.team or r.region == principal.region]
        for record in records:
            record.owner_id = to_user
            if target is not None:
                record.team, record.region = target.team or record.team, target.region or record.region
            if cls is Quote:
                record.row_version += 1
                record.updated_at.FromDatetime(now)
            else:
                bump(record, now)
            store.update_record(session, record)
        moved[cls] = records
    account_ids = sorted({o.account_id for o in moved[Opportunity] if o.account_id}
                         | {q.account_id for q in moved[Quote] if q.account_id})
    contact_ids = sorted({o.contact_id for o in moved[Opportunity] if o.contact_id}
                         | {t.contact_id for t in moved[Task] if t.contact_id})
    transfer_id = new_id()
    result = TransferOwnershipResponse(
        transfer_id=transfer_id, leads=len(moved[Lead]), opportunities=len(moved[Opportunity]),
        tasks=len(moved[Task]), quotes=len(moved[Quote]), account_ids=account_ids, contact_ids=contact_ids)
    emit(uow, principal, "ownership", "transferred", transfer_id, 1, ev.OwnershipTransferred(
        transfer_id=transfer_id, from_user_id=from_user, to_user_id=to_user, reason=reason,
        lead_ids=[r.id for r in moved[Lead]], opportunity_ids=[r.id for r in moved[Opportunity]],
        task_ids=[r.id for r in moved[Task]], quote_ids=[r.id for r in moved[Quote]],
        account_ids=account_ids, contact_ids=contact_ids), now)
    audit(uow, principal, "transfer", "user", from_user, now,
          f"to {to_user}: {result.leads} leads, {result.opportunities} opportunities, {result.tasks} tasks, "
          f"{result.quotes} quotes; reason: {reason}")
    return result


def delegate(uow: UnitOfWork, principal: Principal, d: Delegation, now: datetime) -> Delegation:
    if principal.user_id != d.from_user_id:
        require_manager(principal, "delegate someone else's work")
    _check_people(uow.session, principal if principal.user_id != d.from_user_id else _as_manager(principal),
                  d.from_user_id, d.to_user_id)
    if not d.HasField("ends_at"):
        raise InvalidArgument("a delegation needs an end date", field="ends_at")
    if not d.HasField("starts_at"):
        d.starts_at.FromDatetime(now)
    if store.dt(d.ends_at) <= store.dt(d.starts_at) or store.dt(d.ends_at) <= now:
        raise InvalidArgument("the delegation must end in the future, after it starts", field="ends_at")
    d.id = new_id()
    d.created_by = principal.user_id
    d.revoked = False
    store.insert_delegation(uow.session, d)
    emit(uow, principal, "delegation", "created", d.id, 1, ev.WorkDelegated(delegation=d), now)
    audit(uow, principal, "delegate", "user", d.from_user_id, now, f"to {d.to_user_id} until {d.ends_at.ToJsonString()}")
    return d


def _as_manager(principal: Principal) -> Principal:
    """A rep may delegate their own work; the checks on the people still apply."""
    return Principal(principal.user_id, (*principal.roles, "manager"), principal.team, principal.region)
