"""The public pool (公海) of customers: an account its owner does not follow up (no timeline entry
on any of its contacts: calls, notes, mails, deals, tickets ...) or that wins no deal within the
team's rule goes back to the team's pool with its contacts; reps claim from it (within the claim
limit, outside the cool-down; of two claims at once exactly one wins), release with a reason,
and managers assign from it. The rules are sales' (one per team, published on the SALES stream).
Every move is a row of the account's pool history, an event and an audit row with its reason."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import Session

from crm.common.v1.pool_pb2 import PoolMove, PoolRule
from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Account, Contact, TimelineEntry
from crm_contacts import store
from crm_contacts.events import CONTACTS, emit
from crm_contacts.rules import pool as rules
from crm_contacts.rules.visibility import masked
from crm_contacts.store import pool as rows
from crm_contacts.tables import accounts
from crm_contacts.usecases.records import _EVENTS, record_changed, visible
from crmkit import pool
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.records import bump, new_id
from crmkit.visibility import check_assignable, require_manager

EVENT_OF = {pool.RETURNED: CONTACTS.ACCOUNT_POOL_RETURNED, pool.RELEASED: CONTACTS.ACCOUNT_POOL_RELEASED,
            pool.CLAIMED: CONTACTS.ACCOUNT_POOL_CLAIMED, pool.ASSIGNED: CONTACTS.ACCOUNT_POOL_ASSIGNED}
READ_ALL = ("support", "analyst")
_SUMMARY = {pool.RETURNED: "退回公海 / back to the pool", pool.RELEASED: "释放到公海 / released to the pool",
            pool.CLAIMED: "从公海领取 / claimed from the pool", pool.ASSIGNED: "从公海分配 / assigned from the pool"}


def _rule(session: Session, team: str) -> PoolRule:
    return pool.rule_for(team, rows.rules(session)[1])


def _moved(uow: UnitOfWork, account: Account, *, kind: str, user_id: str, principal: Principal, now: datetime,
           reason: str) -> None:
    move = PoolMove(record_type="account", record_id=account.id, kind=kind, team=account.team, user_id=user_id,
                    actor_id=principal.user_id, reason=reason)
    move.at.FromDatetime(now)
    rows.add_move(uow.session, move)
    emit(uow, principal, EVENT_OF[kind], account.id, account.version, ev.AccountPoolMoved(account=account, move=move),
         now)
    store.audit(uow.session, at=now, actor=principal.user_id, action=f"pool_{kind}", entity="account",
                entity_id=account.id, detail=f"{user_id}: {reason}")


def _contacts_follow(uow: UnitOfWork, account: Account, *, from_owner: str, to_owner: str, principal: Principal,
                     now: datetime, kind: str, reason: str) -> None:
    """The account's people go with it (its holder's contacts into the pool, and out to the new
    holder), each with the move on their timeline."""
    for contact_id in rows.contacts_of(uow.session, account.id, from_owner):
        contact = store.load(uow.session, Contact, contact_id, for_update=True)
        if contact is None:
            continue
        contact.owner_id = to_owner
        bump(contact, now)
        store.update_record(uow.session, contact)
        payload = _EVENTS[("contact", "updated")][1](contact=contact, changed_fields=["owner_id"])
        record_changed(uow, principal=principal, now=now, action="updated", record=contact, payload=payload,
                       detail=f"with account {account.id} (public pool): owner {from_owner or '-'} -> {to_owner or '-'}")
        entry = TimelineEntry(id=new_id(), contact_id=contact.id, kind=f"pool_{kind}", author_id=principal.user_id,
                              summary=f"{_SUMMARY[kind]}: {reason}", source_service="contacts",
                              reference_id=account.id)
        entry.occurred_at.FromDatetime(now)
        store.add_timeline_entry(uow.session, entry)


def _sees_pool(principal: Principal, account: Account) -> bool:
    if principal.is_admin or principal.has_role(*READ_ALL):
        return True
    if principal.is_manager:
        return bool((principal.team and account.team == principal.team)
                    or (principal.region and account.region == principal.region))
    return bool(principal.team) and account.team == principal.team


def _pooled(session: Session, principal: Principal, account_id: str) -> Account:
    if not account_id:
        raise InvalidArgument("id is required", field="id")
    account = store.load(session, Account, account_id)
    if account is None or account.deleted or not _sees_pool(principal, account):
        raise NotFound(f"no account {account_id} in your team's pool", field="id")
    if not account.in_pool:
        raise Conflict("this customer is no longer in the pool: someone claimed it first / 已被他人领取", field="id")
    return account


# -- reads

def list_pool(session: Session, *, principal: Principal, team: str, query: str, page_size: int,
              page_token: str) -> tuple[list[Account], str]:
    seen: ColumnElement[bool]
    if principal.is_admin or principal.has_role(*READ_ALL):
        seen = true()
    elif principal.is_manager:
        seen = (accounts.c.team == principal.team) if principal.team else false()
        if principal.region:
            seen = seen | (accounts.c.region == principal.region)
    else:
        if team and team != principal.team:
            raise PermissionDenied("a rep sees only their own team's pool", field="team")
        seen = (accounts.c.team == principal.team) if principal.team else false()
    found, token = rows.list_pool(session, visible=seen, team=team, query=query, size=page_size, token=page_token)
    return [masked(principal, a) for a in found], token


def pool_history(session: Session, *, principal: Principal, account_id: str) -> list[PoolMove]:
    account = store.load(session, Account, account_id) if account_id else None
    if account is None or not (account.in_pool and _sees_pool(principal, account)):
        visible(session, principal=principal, kind=Account, record_id=account_id)
    return rows.moves(session, account_id)


# -- commands

def claim(uow: UnitOfWork, *, principal: Principal, now: datetime, account_id: str) -> Account:
    if not principal.has_role("rep", "manager") and not principal.is_admin:
        raise PermissionDenied("only sales reps claim customers from the pool")
    account = _pooled(uow.session, principal, account_id)
    rule = _rule(uow.session, account.team)
    pool.check_cooldown(rows.last_loss(uow.session, principal.user_id, account.id), rule, now)
    rows.lock_rep(uow.session, principal.user_id)
    pool.check_claim_limit(rows.held(uow.session, principal.user_id), rule, account.team, "customers")
    return _take(uow, account, owner_id=principal.user_id, principal=principal, now=now, kind=pool.CLAIMED,
                 reason="claimed from the pool / 从公海领取")


def assign(uow: UnitOfWork, *, principal: Principal, now: datetime, account_id: str, owner_id: str) -> Account:
    """A manager gives a pooled customer to someone (no claim limit or cool-down: their choice)."""
    require_manager(principal, "assign customers from the pool")
    if not owner_id.strip():
        raise InvalidArgument("name who gets the customer", field="owner_id")
    check_assignable(principal, owner_id)
    account = _pooled(uow.session, principal, account_id)
    return _take(uow, account, owner_id=owner_id.strip(), principal=principal, now=now, kind=pool.ASSIGNED,
                 reason=f"assigned by {principal.user_id} / 经理分配")


def _take(uow: UnitOfWork, account: Account, *, owner_id: str, principal: Principal, now: datetime, kind: str,
          reason: str) -> Account:
    if not rows.take(uow.session, account.id, owner_id):  # the race's decider
        raise Conflict("this customer is no longer in the pool: someone claimed it first / 已被他人领取", field="id")
    account = store.load(uow.session, Account, account.id, for_update=True) or account
    rules.give(account, owner_id, now)
    bump(account, now)
    store.update_record(uow.session, account)
    _contacts_follow(uow, account, from_owner="", to_owner=owner_id, principal=principal, now=now, kind=kind,
                     reason=reason)
    _moved(uow, account, kind=kind, user_id=owner_id, principal=principal, now=now, reason=reason)
    return account


def release(uow: UnitOfWork, *, principal: Principal, now: datetime, account_id: str, reason: str) -> Account:
    text = pool.check_reason(reason)
    account = visible(uow.session, principal=principal, kind=Account, record_id=account_id, write=True)
    if account.in_pool:
        raise FailedPrecondition("the customer is already in the pool", field="id")
    if not account.team:
        raise FailedPrecondition("the customer has no team, so no pool to go to", field="id")
    _to_pool(uow, account, reason=text, principal=principal, now=now, kind=pool.RELEASED)
    return account


def _to_pool(uow: UnitOfWork, account: Account, *, reason: str, principal: Principal, now: datetime,
             kind: str) -> None:
    previous = rules.put_in_pool(account, reason, now)
    bump(account, now)
    store.update_record(uow.session, account)
    _contacts_follow(uow, account, from_owner=previous, to_owner="", principal=principal, now=now, kind=kind,
                     reason=reason)
    _moved(uow, account, kind=kind, user_id=previous, principal=principal, now=now, reason=reason)


# -- scheduled (the pool's worker owns each transaction)

def return_if_stale(uow: UnitOfWork, *, now: datetime, account_id: str) -> bool:
    """Back to the pool when the team's rule says so, checked again under the row lock."""
    account = store.load(uow.session, Account, account_id, for_update=True)
    if account is None or account.deleted or account.in_pool or not account.owner_id or not account.team:
        return False
    since = rules.held_since(account)
    reason = pool.stale_reason(_rule(uow.session, account.team), now,
                               followed_up=pool.max_time(since, rows.last_touch(uow.session, account.id)),
                               held_since=since, converted=rows.has_won(uow.session, account.id))
    if reason is None:
        return False
    _to_pool(uow, account, reason=reason, principal=SYSTEM, now=now, kind=pool.RETURNED)
    return True


def stale_accounts(session: Session, *, now: datetime, limit: int) -> list[str]:
    saved: Sequence[PoolRule] = rows.rules(session)[1]
    own = sorted({r.team.strip() for r in saved if r.team.strip()})
    found: list[str] = []
    for team in [*own, None]:
        followed_before, held_before = pool.cut_offs(pool.rule_for(team or "", saved), now)
        found += rows.stale_candidates(session, team=team, exclude_teams=own, followed_before=followed_before,
                                       held_before=held_before, limit=limit - len(found))
        if len(found) >= limit:
            break
    return found
