"""Moving a rep's work: transfer (they leave: leads, opportunities, open tasks and live quotes
change owner in one audited transaction, and contacts is told to move the customers) and
delegation (a short absence: the delegate sees and works the rep's records until the end date,
and gets their reminders)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Delegation, Lead, Opportunity, Quote, Task, TransferOwnershipResponse
from crm_sales.events import SALES, emit
from crm_sales.rules.access import as_manager
from crm_sales.store import audit, people, records
from crm_sales.usecases.access import check_manages
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.records import bump, dt, new_id
from crmkit.visibility import require_manager

OPEN_STATUSES: dict[type[Any], tuple[str, ...]] = {
    Lead: ("new", "working", "qualified", "nurturing", "disqualified"),
    Opportunity: ("open",),
    Task: ("open",),
    Quote: ("draft", "pending_approval", "approved", "rejected", "sent"),
}


def _check_people(session: Session, principal: Principal, from_user: str, to_user: str) -> None:
    require_manager(principal, "move a rep's work")
    if not from_user or not to_user:
        raise InvalidArgument("name both reps", field="from_user_id" if not from_user else "to_user_id")
    if from_user == to_user:
        raise InvalidArgument("choose someone else", field="to_user_id")
    reps = people.all_reps(session)
    if to_user in reps and not reps[to_user].active:
        raise FailedPrecondition(f"{to_user} is inactive and cannot take over work", field="to_user_id")


def _move(record: Any, to_user: str, target: Any) -> list[str]:
    """The record to its new owner (and their team and region, when the rep directory knows
    them); the fields that changed."""
    before = (record.owner_id, record.team, record.region)
    record.owner_id = to_user
    if target is not None:
        record.team, record.region = target.team or record.team, target.region or record.region
    return [name for name, was in zip(("owner_id", "team", "region"), before, strict=True)
            if getattr(record, name) != was]


def _announce(uow: UnitOfWork, principal: Principal, record: Any, from_user: str, changed: list[str],
              now: datetime) -> None:
    """Each moved lead and deal's own event, as an assignment or an edit would publish it: read
    models (reporting's owner / team / region, a webhook subscriber's copy) follow the record, not
    the transfer's summary."""
    if isinstance(record, Lead):
        emit(uow, principal, SALES.LEAD_ASSIGNED, record.id, record.version,
             ev.LeadAssigned(lead=record, previous_owner_id=from_user, reason="transfer"), now)
    elif isinstance(record, Opportunity):
        emit(uow, principal, SALES.OPPORTUNITY_UPDATED, record.id, record.version,
             ev.OpportunityUpdated(opportunity=record, changed_fields=changed), now)


def transfer(uow: UnitOfWork, *, principal: Principal, now: datetime, from_user: str, to_user: str,
             reason: str) -> TransferOwnershipResponse:
    session = uow.session
    _check_people(session, principal, from_user, to_user)
    target = people.all_reps(session).get(to_user)
    moved: dict[type[Any], list[Any]] = {}
    for cls, statuses in OPEN_STATUSES.items():
        found = records.owned(session, cls, from_user, statuses)
        if not principal.is_admin:  # a manager moves only what they manage
            found = [r for r in found if r.team == principal.team or r.region == principal.region]
        for record in found:
            changed = _move(record, to_user, target)
            if cls is Quote:  # a quote's `version` is its revision; row_version guards the row
                record.row_version += 1
                record.updated_at.FromDatetime(now)
            else:
                bump(record, now)
            records.update_record(session, record)
            _announce(uow, principal, record, from_user, changed, now)
        moved[cls] = found
    account_ids = sorted({o.account_id for o in moved[Opportunity] if o.account_id}
                         | {q.account_id for q in moved[Quote] if q.account_id})
    contact_ids = sorted({o.contact_id for o in moved[Opportunity] if o.contact_id}
                         | {t.contact_id for t in moved[Task] if t.contact_id})
    transfer_id = new_id()
    result = TransferOwnershipResponse(
        transfer_id=transfer_id, leads=len(moved[Lead]), opportunities=len(moved[Opportunity]),
        tasks=len(moved[Task]), quotes=len(moved[Quote]), account_ids=account_ids, contact_ids=contact_ids)
    emit(uow, principal, SALES.OWNERSHIP_TRANSFERRED, transfer_id, 1, ev.OwnershipTransferred(
        transfer_id=transfer_id, from_user_id=from_user, to_user_id=to_user, reason=reason,
        lead_ids=[r.id for r in moved[Lead]], opportunity_ids=[r.id for r in moved[Opportunity]],
        task_ids=[r.id for r in moved[Task]], quote_ids=[r.id for r in moved[Quote]],
        account_ids=account_ids, contact_ids=contact_ids), now)
    audit.record(session, principal, "transfer", "user", from_user, now,
                 f"to {to_user}: {result.leads} leads, {result.opportunities} opportunities, {result.tasks} tasks, "
                 f"{result.quotes} quotes; reason: {reason}")
    return result


def delegate(uow: UnitOfWork, *, principal: Principal, now: datetime, delegation: Delegation) -> Delegation:
    d = delegation
    own = principal.user_id == d.from_user_id
    if not own:
        require_manager(principal, "delegate someone else's work")
    _check_people(uow.session, as_manager(principal) if own else principal, d.from_user_id, d.to_user_id)
    if not own:
        check_manages(uow.session, principal, d.from_user_id, field="from_user_id")
    if not d.HasField("ends_at"):
        raise InvalidArgument("a delegation needs an end date", field="ends_at")
    if not d.HasField("starts_at"):
        d.starts_at.FromDatetime(now)
    if dt(d.ends_at) <= dt(d.starts_at) or dt(d.ends_at) <= now:
        raise InvalidArgument("the delegation must end in the future, after it starts", field="ends_at")
    d.id = new_id()
    d.created_by = principal.user_id
    d.revoked = False
    people.insert_delegation(uow.session, d)
    emit(uow, principal, SALES.DELEGATION_CREATED, d.id, 1, ev.WorkDelegated(delegation=d), now)
    audit.record(uow.session, principal, "delegate", "user", d.from_user_id, now,
                 f"to {d.to_user_id} until {d.ends_at.ToJsonString()}")
    return d


def list_delegations(session: Session, *, principal: Principal, now: datetime, user_id: str, active_only: bool,
                     page_size: int = 0, page_token: str = "") -> tuple[list[Delegation], str]:
    """A manager or an admin lists anyone's (user_id) or every delegation; anyone else lists the
    ones they give or receive (whose absences and stand-ins are not theirs to read)."""
    if not (principal.is_admin or principal.is_manager):
        if user_id and user_id != principal.user_id:
            raise PermissionDenied("only a manager or an admin can list someone else's delegations")
        user_id = principal.user_id
    return people.list_delegations(session, user_id, now if active_only else None, size=page_size,
                                   token=page_token)


def end_delegation(uow: UnitOfWork, *, principal: Principal, now: datetime, delegation_id: str,
                   reason: str) -> Delegation:
    """The delegator is back early: the delegation ends now (the delegator, its author, a manager
    or an admin may end it); ending one already over changes nothing."""
    if not delegation_id:
        raise InvalidArgument("id is required", field="id")
    d = people.load_delegation(uow.session, delegation_id)
    if d is None:
        raise NotFound(f"delegation {delegation_id} not found", field="id")
    if principal.user_id not in (d.from_user_id, d.created_by, d.to_user_id):
        require_manager(principal, "end someone else's delegation")
    if d.revoked or dt(d.ends_at) <= now:
        return d
    d.revoked = True
    if dt(d.starts_at) < now:
        d.ends_at.FromDatetime(now)
    people.update_delegation(uow.session, d)
    emit(uow, principal, SALES.DELEGATION_ENDED, d.id, 2, ev.WorkDelegated(delegation=d), now)
    audit.record(uow.session, principal, "end_delegation", "user", d.from_user_id, now,
                 f"delegation {d.id} to {d.to_user_id} ended" + (f"; reason: {reason}" if reason else ""))
    return d
