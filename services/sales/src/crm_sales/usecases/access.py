"""Loading a record the caller may see: NOT_FOUND when it is missing or hidden (no existence
leak), PERMISSION_DENIED when it may be read but not changed. Delegations lend a rep the records
of whoever they cover for, until the delegation ends."""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from crm_sales.ports import ContactsPort
from crm_sales.rules.access import VISIBILITY
from crm_sales.store import people, records
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied

T = TypeVar("T")


def delegators(session: Session, principal: Principal, now: datetime) -> list[str]:
    """Whose records the caller sees through an active delegation (managers see by team anyway)."""
    if principal.is_admin or principal.is_manager:
        return []
    return people.active_delegators(session, principal.user_id, now)


def visible(session: Session, cls: type[T], record_id: str, *, principal: Principal, now: datetime,
            write: bool = False, field: str = "id") -> T:
    if not record_id:
        raise InvalidArgument(f"{field} is required", field=field)
    record: Any = records.load(session, cls, record_id, for_update=write)
    kind = cls.__name__.lower()
    # Delegations only matter for a record someone else owns: skip that query for one's own.
    lent = delegators(session, principal, now) if record is not None and record.owner_id != principal.user_id else []
    if record is None or not VISIBILITY.can_read(principal, record.owner_id, record.team, record.region, lent):
        raise NotFound(f"{kind} {record_id} not found", field=field)
    if write and not VISIBILITY.can_write(principal, record.owner_id, record.team, record.region, lent):
        raise PermissionDenied(f"you may read but not change this {kind}")
    return cast(T, record)


def check_customer(contacts: ContactsPort, *, principal: Principal, authorization: str, account_id: str = "",
                   contact_id: str = "", prefix: str = "") -> None:
    """A sales record may name only an account and a contact its author sees in contacts: else it
    would write into a stranger's customer timeline. NOT_FOUND, as for a missing one (no leak)."""
    if principal.is_admin:
        return
    for kind, record_id in (("account", account_id), ("contact", contact_id)):
        if record_id and not contacts.can_see(kind, record_id, authorization=authorization):
            raise NotFound(f"{kind} {record_id} not found", field=f"{prefix}{kind}_id")


def check_manages(session: Session, principal: Principal, user_id: str, *, field: str) -> None:
    """A manager acts for a rep of their own team or region (the rep roster says whose: lending
    their work, reading their reminders); an admin for anyone."""
    if principal.is_admin:
        return
    rep = people.all_reps(session).get(user_id)
    if rep is None or not ((principal.team and rep.team == principal.team)
                           or (principal.region and rep.region == principal.region)):
        raise PermissionDenied(f"{user_id} is not a rep of your team or region", field=field)


def deal_customer(contacts: ContactsPort, *, principal: Principal, authorization: str, account_id: str,
                  contact_id: str, given_name: str) -> str:
    """check_customer for a deal, answering the account name it keeps (its pipeline card, and its
    quotes' customer and PDF): the one the client gave, else the account's in contacts (without
    it a quote named the deal instead). When the name is read, that one GetAccount is also the
    account's check: the caller sees it, or it is not found."""
    if given_name or not account_id:
        check_customer(contacts, principal=principal, authorization=authorization, account_id=account_id,
                       contact_id=contact_id)
        return given_name
    name = contacts.account_name(account_id, authorization=authorization)
    if not name and not principal.is_admin:
        raise NotFound(f"account {account_id} not found", field="account_id")
    check_customer(contacts, principal=principal, authorization=authorization, contact_id=contact_id)
    return name
