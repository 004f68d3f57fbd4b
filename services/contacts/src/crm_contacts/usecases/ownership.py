"""Offboarding: every live account and contact a leaving user owns moves to another user in one
call, customers without any open deal included (sales moves the deals). Each move is a normal
update (new version, event, audit row naming the operation); a repeated call finds nothing left
to move, so the gateway may retry it.

Delegations: sales owns them; contacts keeps a copy from its events so that a delegate sees and
works the delegator's customers while the delegation lasts (`lend`), and no longer once it ended."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from crm.common.v1.ownership_pb2 import ReassignRequest, ReassignResponse
from crm.contacts.v1.contacts_pb2 import Account, Contact
from crm.sales.v1.sales_pb2 import Delegation
from crm_contacts import store
from crm_contacts.rules import pool as pool_rules
from crm_contacts.rules.visibility import VISIBILITY
from crm_contacts.tables import delegations
from crm_contacts.usecases.records import _EVENTS, record_changed
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.records import bump, dt
from crmkit.visibility import require_manager


def check_request(principal: Principal, request: ReassignRequest) -> None:
    require_manager(principal, "move a user's work")
    if not request.from_user_id:
        raise InvalidArgument("name the user who leaves", field="from_user_id")
    if not request.to_user_id:
        raise InvalidArgument("name the user who takes over", field="to_user_id")
    if request.from_user_id == request.to_user_id:
        raise InvalidArgument("choose someone else", field="to_user_id")


def reassign(uow: UnitOfWork, *, principal: Principal, now: datetime, request: ReassignRequest) -> ReassignResponse:
    check_request(principal, request)
    result = ReassignResponse(service="contacts")
    detail = f"offboarding {request.operation_id or '-'}: owner {request.from_user_id} -> {request.to_user_id}"
    if request.reason:
        detail += f"; {request.reason}"
    for kind, name in ((Account, "accounts"), (Contact, "contacts")):
        table = store.table_for(store.entity_name(kind))
        ids = uow.session.execute(select(table.c.id).where(
            table.c.owner_id == request.from_user_id, table.c.deleted.is_(False)).order_by(table.c.seq)).scalars()
        moved = 0
        for record_id in list(ids):
            record = store.load(uow.session, kind, record_id, for_update=True)
            # A manager moves only what they manage; an admin everything.
            if record is None or not VISIBILITY.can_write(principal, record.owner_id, record.team, record.region):
                continue
            record.owner_id = request.to_user_id
            if isinstance(record, Account):
                pool_rules.give(record, request.to_user_id, now)  # the public pool's clock starts again
            record.team = request.to_team or record.team
            record.region = request.to_region or record.region
            bump(record, now)
            store.update_record(uow.session, record)
            entity = store.entity_of(record)
            changed = ["owner_id"] + [f for f, v in (("team", request.to_team), ("region", request.to_region)) if v]
            payload = _EVENTS[(entity, "updated")][1](**{entity: record}, changed_fields=changed)
            record_changed(uow, principal=principal, now=now, action="updated", record=record, payload=payload,
                           detail=detail)
            moved += 1
        result.moved[name] = moved
    return result


def record_delegation(uow: UnitOfWork, *, delegation: Delegation) -> None:
    """A delegation made or ended in sales (its latest snapshot wins; a repeat is harmless)."""
    d = delegation
    if not (d.id and d.from_user_id and d.to_user_id and d.HasField("ends_at")):
        return
    uow.session.execute(delete(delegations).where(delegations.c.id == d.id))
    uow.session.execute(insert(delegations).values(
        id=d.id, from_user_id=d.from_user_id, to_user_id=d.to_user_id,
        starts_at=dt(d.starts_at) if d.HasField("starts_at") else dt(d.ends_at), ends_at=dt(d.ends_at),
        revoked=d.revoked))


def may_borrow(principal: Principal) -> bool:
    """Managers and roles that read everything need nothing lent."""
    return not (principal.is_admin or principal.is_manager or principal.has_role(*VISIBILITY.read_all))


def lend(session: Session, principal: Principal, now: datetime) -> Principal:
    """The caller, covering for whoever has delegated their work to them right now (unchanged
    when nobody has)."""
    if not may_borrow(principal):
        return principal
    rows = session.connection().execute(_LENT_TO, {"to_user": principal.user_id, "now": now}).scalars()
    return principal.lent(list(rows))


# Built once: every call of a rep runs it, and building it per call cost several times its SQL.
_LENT_TO = select(delegations.c.from_user_id).where(
    delegations.c.to_user_id == bindparam("to_user"), delegations.c.revoked.is_(False),
    delegations.c.starts_at <= bindparam("now"), delegations.c.ends_at > bindparam("now"))
