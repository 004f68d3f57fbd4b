"""The public pool (公海) of leads: a rep's team's pool listed, claimed (within the claim limit and
outside the cool-down; of two claims at once exactly one wins), released with a reason, assigned
by a manager; and the scheduled return of the leads nobody followed up. Every move is a row of
the lead's pool history, an event (audited by the unit of work) and an audit entry with its reason."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import Session

from crm.common.v1.pool_pb2 import PoolMove, PoolRule
from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Lead
from crm_sales.events import SALES, emit
from crm_sales.rules import pool as rules
from crm_sales.rules.access import masked_lead
from crm_sales.store import audit, people, records
from crm_sales.store import pool as store
from crm_sales.tables import leads
from crm_sales.usecases import settings
from crm_sales.usecases.access import visible as visible_lead
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.records import bump
from crmkit.visibility import require_manager

EVENT_OF = {rules.RETURNED: SALES.LEAD_POOL_RETURNED, rules.RELEASED: SALES.LEAD_POOL_RELEASED,
            rules.CLAIMED: SALES.LEAD_POOL_CLAIMED, rules.ASSIGNED: SALES.LEAD_POOL_ASSIGNED}


def moved(uow: UnitOfWork, lead: Lead, *, kind: str, user_id: str, principal: Principal, now: datetime,
          reason: str) -> PoolMove:
    """Record one move (the lead already saved at its new version): history row, event, audit."""
    move = PoolMove(record_type="lead", record_id=lead.id, kind=kind, team=lead.team, user_id=user_id,
                    actor_id=principal.user_id, reason=reason)
    move.at.FromDatetime(now)
    store.add_move(uow.session, move)
    emit(uow, principal, EVENT_OF[kind], lead.id, lead.version, ev.LeadPoolMoved(lead=lead, move=move), now)
    audit.record(uow.session, principal, f"pool_{kind}", "lead", lead.id, now, reason, user_id=user_id,
                 team=lead.team)
    return move


def _pool_rule(session: Session, team: str) -> PoolRule:
    return rules.rule_for(team, settings.current(session).pool_rules)


def _sees_pool(principal: Principal, lead: Lead) -> bool:
    """A rep sees their team's pool; a manager the pools in their view; admins and readers all."""
    if principal.is_admin or principal.has_role("support", "analyst", "finance", "legal"):
        return True
    if principal.is_manager:
        return bool((principal.team and lead.team == principal.team)
                    or (principal.region and lead.region == principal.region))
    return bool(principal.team) and lead.team == principal.team


def _pooled(session: Session, principal: Principal, lead_id: str) -> Lead:
    if not lead_id:
        raise InvalidArgument("id is required", field="id")
    lead = records.load(session, Lead, lead_id)
    if lead is None or not lead.in_pool or not _sees_pool(principal, lead):
        if lead is not None and not lead.in_pool and _sees_pool(principal, lead) and lead.owner_id:
            raise Conflict("this lead is no longer in the pool: someone claimed it first / 已被他人领取",
                           field="id", owner_id=lead.owner_id)
        raise NotFound(f"no lead {lead_id} in your team's pool", field="id")
    return lead


# -- reads

def list_pool(session: Session, *, principal: Principal, team: str, query: str, page_size: int,
              page_token: str) -> tuple[list[Lead], str]:
    visible: ColumnElement[bool]
    if principal.is_admin or principal.has_role("support", "analyst", "finance", "legal"):
        visible = true()
    elif principal.is_manager:
        visible = (leads.c.team == principal.team) if principal.team else false()
        if principal.region:
            visible = visible | (leads.c.region == principal.region)
    else:
        if team and team != principal.team:
            raise PermissionDenied("a rep sees only their own team's pool", field="team")
        visible = (leads.c.team == principal.team) if principal.team else false()
    found, token = store.list_pool(session, visible=visible, team=team, query=query, size=page_size,
                                   token=page_token)
    return [masked_lead(principal, lead) for lead in found], token


def pool_history(session: Session, *, principal: Principal, now: datetime, lead_id: str) -> list[PoolMove]:
    """Every move of a lead the caller sees (as its holder, or in a pool they see)."""
    lead = records.load(session, Lead, lead_id) if lead_id else None
    if lead is None:
        raise NotFound(f"lead {lead_id} not found", field="id")
    if not (lead.in_pool and _sees_pool(principal, lead)):
        visible_lead(session, Lead, lead_id, principal=principal, now=now)
    return store.moves(session, lead_id)


# -- commands

def claim(uow: UnitOfWork, *, principal: Principal, now: datetime, lead_id: str) -> Lead:
    if not principal.has_role("rep", "manager") and not principal.is_admin:
        raise PermissionDenied("only sales reps claim leads from the pool")
    session = uow.session
    lead = _pooled(session, principal, lead_id)
    rule = _pool_rule(session, lead.team)
    rules.check_cooldown(store.last_loss(session, principal.user_id, lead.id), rule, now)
    store.lock_rep(session, principal.user_id)
    rules.check_claim_limit(store.held(session, principal.user_id), rule, lead.team)
    return _take(uow, lead, owner_id=principal.user_id, principal=principal, now=now, kind=rules.CLAIMED,
                 reason="claimed from the pool / 从公海领取")


def assign(uow: UnitOfWork, *, principal: Principal, now: datetime, lead_id: str, owner_id: str) -> Lead:
    """A manager gives a pooled lead to a rep of the lead's team (no claim limit or cool-down:
    the manager decides)."""
    require_manager(principal, "assign leads from the pool")
    if not owner_id.strip():
        raise InvalidArgument("name the rep who gets the lead", field="owner_id")
    session = uow.session
    lead = _pooled(session, principal, lead_id)
    # The roster is optional (as for assign_lead): a user it does not list keeps the lead's team;
    # one it lists must be active and, unless an admin decides, in the lead's team.
    rep = people.all_reps(session).get(owner_id)
    if rep is not None and not rep.active:
        raise FailedPrecondition(f"{owner_id} is not an active sales rep", field="owner_id")
    if rep is not None and rep.team != lead.team and not principal.is_admin:
        raise FailedPrecondition(f"{owner_id} is not in team '{lead.team}', whose pool holds this lead",
                                 field="owner_id")
    return _take(uow, lead, owner_id=owner_id, principal=principal, now=now, kind=rules.ASSIGNED,
                 reason=f"assigned by {principal.user_id} / 经理分配")


def _take(uow: UnitOfWork, lead: Lead, *, owner_id: str, principal: Principal, now: datetime, kind: str,
          reason: str) -> Lead:
    # The conditional UPDATE decides a race: the loser finds the lead gone from the pool.
    if not store.take(uow.session, lead.id, owner_id):
        raise Conflict("this lead is no longer in the pool: someone claimed it first / 已被他人领取", field="id")
    lead = records.load(uow.session, Lead, lead.id, for_update=True) or lead
    rules.take_out(lead)
    lead.owner_id = owner_id
    lead.assigned_at.FromDatetime(now)  # the new holder's clock starts now (rules.pool.last_follow_up)
    bump(lead, now)
    records.update_record(uow.session, lead)
    moved(uow, lead, kind=kind, user_id=owner_id, principal=principal, now=now, reason=reason)
    return lead


def release(uow: UnitOfWork, *, principal: Principal, now: datetime, lead_id: str, reason: str) -> Lead:
    """The holder (or their manager) gives the lead back to its team's pool, saying why."""
    text = rules.check_reason(reason)
    lead = visible_lead(uow.session, Lead, lead_id, principal=principal, now=now, write=True)
    if lead.in_pool:
        raise FailedPrecondition("the lead is already in the pool", field="id")
    if lead.status not in rules.HELD:
        raise FailedPrecondition(f"a {lead.status} lead does not go to the pool", field="id")
    if not lead.team:
        raise FailedPrecondition("the lead has no team, so no pool to go to; ask a manager to assign it",
                                 field="id")
    previous = rules.put_in_pool(lead, text, now)
    bump(lead, now)
    records.update_record(uow.session, lead)
    moved(uow, lead, kind=rules.RELEASED, user_id=previous, principal=principal, now=now, reason=text)
    return lead


# -- scheduled (the pool's worker owns each transaction)

def return_if_stale(uow: UnitOfWork, *, now: datetime, lead_id: str) -> bool:
    """Back to the pool when the team's rule says so, checked again under the row lock (another
    replica, or a follow-up, may have come first); True when it went back."""
    lead = records.load(uow.session, Lead, lead_id, for_update=True)
    if lead is None or not lead.team:
        return False
    reason = rules.stale_reason(lead, _pool_rule(uow.session, lead.team), now)
    if reason is None:
        return False
    previous = rules.put_in_pool(lead, reason, now)
    bump(lead, now)
    records.update_record(uow.session, lead)
    moved(uow, lead, kind=rules.RETURNED, user_id=previous, principal=SYSTEM, now=now, reason=reason)
    return True


def stale_leads(session: Session, *, now: datetime, limit: int) -> list[str]:
    """The held leads each team's rule takes back now (the default rule for teams without one)."""
    saved: Sequence[PoolRule] = settings.current(session).pool_rules
    own = sorted({r.team.strip() for r in saved if r.team.strip()})
    found: list[str] = []
    for team in [*own, None]:
        rule = rules.rule_for(team or "", saved)
        followed_before, assigned_before = rules.stale_before(rule, now)
        found += store.stale_candidates(session, team=team, exclude_teams=own, followed_before=followed_before,
                                        assigned_before=assigned_before, limit=limit - len(found))
        if len(found) >= limit:
            break
    return found
