"""Idempotent writes, and the one place a write transaction is owned.

A retried call with the same idempotency key returns the first answer and writes nothing, however
the world changed since: the stored answer is looked up *first*, before anything else runs (no call
to another service, no read), and the key is matched against a hash of the request as received.
Only then are the write's preparations run (reads of other services, outside any transaction),
then one unit of work: the write, its outbox rows, and the key with the answer, committed together
so either all happened or none did. None did when the caller's deadline passed before the commit
(`crmkit.deadlines`, checked by `UnitOfWork.commit`): the caller's retry finds no stored answer
and does the work once."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar, overload

from google.protobuf.message import Message
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crmkit.auth import current_principal
from crmkit.db import Database, UnitOfWork
from crmkit.errors import Conflict
from crmkit.events import utcnow
from crmkit.grpc_server import current_method, idempotency_key
from crmkit.runtime_tables import idempotency_row

M = TypeVar("M", bound=Message)
P = TypeVar("P")
_STORED = select(idempotency_row.c.request_hash, idempotency_row.c.response).where(
    idempotency_row.c.principal == bindparam("principal"), idempotency_row.c.key == bindparam("key")
)
_STORE = insert(idempotency_row)


def request_hash(method: str, request: Message) -> str:
    digest = hashlib.sha256(method.encode())
    digest.update(request.SerializeToString(deterministic=True))
    return digest.hexdigest()


def _nothing() -> None:
    return None


@overload
def run_write(db: Database, request: Message, response_type: type[M], write: Callable[[UnitOfWork, None], M]) -> M: ...
@overload
def run_write(db: Database, request: Message, response_type: type[M], write: Callable[[UnitOfWork, P], M],
              prepare: Callable[[], P]) -> M: ...
def run_write(db: Database, request: Message, response_type: type[M], write: Callable[[UnitOfWork, Any], M],
              prepare: Callable[[], Any] = _nothing) -> M:
    """Answer a write: a stored answer for the call's idempotency key, or `prepare()` (outside the
    transaction) then `write(uow, prepared)` in one unit of work that also stores the answer."""
    key = idempotency_key.get()
    if not key:
        prepared = prepare()
        with db.unit_of_work() as uow:
            result = write(uow, prepared)
            uow.commit()
            return result
    principal = current_principal().user_id
    fingerprint = request_hash(current_method.get(), request)
    if prepare is not _nothing:  # without preparations, the lookup inside the transaction is first
        with db.read() as session:
            stored = _stored(session, principal, key, fingerprint, response_type)
        if stored is not None:
            return stored
    prepared = prepare()
    try:
        with db.unit_of_work() as uow:
            stored = _stored(uow.session, principal, key, fingerprint, response_type)
            if stored is not None:  # a concurrent call with this key finished meanwhile
                return stored
            result = write(uow, prepared)
            uow.session.execute(_STORE, {
                "principal": principal, "key": key, "method": current_method.get(), "request_hash": fingerprint,
                "response": result.SerializeToString(), "created_at": utcnow(),
            })
            uow.commit()
            return result
    except IntegrityError:
        # A concurrent call with the same key committed first; our writes were rolled back.
        with db.read() as session:
            stored = _stored(session, principal, key, fingerprint, response_type)
        if stored is None:
            raise
        return stored


def _stored(session: Session, principal: str, key: str, fingerprint: str, response_type: type[M]) -> M | None:
    row = session.execute(_STORED, {"principal": principal, "key": key}).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict("this Idempotency-Key was already used for a different request", field="Idempotency-Key")
    return response_type.FromString(row.response)
