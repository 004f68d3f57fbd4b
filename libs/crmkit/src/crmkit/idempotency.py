"""Idempotent writes: a retried call with the same idempotency key returns the first answer and
writes nothing. The key, the request hash and the response are stored in the same transaction
as the write itself, so either both happened or neither did."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from crmkit.auth import current_principal
from crmkit.db import Database, UnitOfWork
from crmkit.errors import Conflict
from crmkit.events import utcnow
from crmkit.grpc_server import current_method, idempotency_key
from crmkit.runtime_tables import idempotency_row

M = TypeVar("M", bound=Message)
_STORED = select(idempotency_row.c.request_hash, idempotency_row.c.response).where(
    idempotency_row.c.principal == bindparam("principal"), idempotency_row.c.key == bindparam("key")
)
_STORE = insert(idempotency_row)


def request_hash(method: str, request: Message) -> str:
    digest = hashlib.sha256(method.encode())
    digest.update(request.SerializeToString(deterministic=True))
    return digest.hexdigest()


def run_write(db: Database, request: Message, response_type: type[M], fn: Callable[[UnitOfWork], M]) -> M:
    """Run `fn` in one unit of work, honouring the call's idempotency key if it has one."""
    key = idempotency_key.get()
    method = current_method.get()
    if not key:
        with db.unit_of_work() as uow:
            result = fn(uow)
            uow.commit()
            return result
    principal = current_principal().user_id
    fingerprint = request_hash(method, request)
    try:
        with db.unit_of_work() as uow:
            stored = _stored(uow, principal, key, fingerprint, response_type)
            if stored is not None:
                return stored
            result = fn(uow)
            uow.session.execute(_STORE, {
                "principal": principal, "key": key, "method": method, "request_hash": fingerprint,
                "response": result.SerializeToString(), "created_at": utcnow(),
            })
            uow.commit()
            return result
    except IntegrityError:
        # A concurrent call with the same key committed first; our writes were rolled back.
        with db.unit_of_work() as uow:
            stored = _stored(uow, principal, key, fingerprint, response_type)
        if stored is None:
            raise
        return stored


def _stored(uow: UnitOfWork, principal: str, key: str, fingerprint: str, response_type: type[M]) -> M | None:
    row = uow.session.execute(_STORED, {"principal": principal, "key": key}).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict("this Idempotency-Key was already used for a different request", field="Idempotency-Key")
    return response_type.FromString(row.response)
