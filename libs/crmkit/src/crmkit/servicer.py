"""What every gRPC servicer stands on. A servicer only translates: it copies the request's
message (use cases change records in place; the request's bytes key idempotency), hands the call
to a use case, and wraps the answer. Reads get a read session; writes go through `write`, the one
transaction owner (see `crmkit.idempotency`). Use cases take the unit of work (or session) first
and everything else by keyword."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crmkit.audit import reads
from crmkit.audit.record import Personal, read_entries, stage_call
from crmkit.auth import Principal, current_authorization, current_principal
from crmkit.db import Database, UnitOfWork
from crmkit.idempotency import run_write

Clock = Callable[[], datetime]
M = TypeVar("M", bound=Message)
P = TypeVar("P")
R = TypeVar("R")
T = TypeVar("T", bound=Message)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Call:
    """Who is calling and when: what a use case needs besides its arguments."""

    principal: Principal
    now: datetime
    # The caller's bearer header, for asking another service on the caller's behalf.
    authorization: str = ""


def copy(message: T) -> T:
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


class ServicerBase:
    # Message types holding personal data (crmkit.audit.Personal): each one a read returns leaves
    # an audit entry. Every write leaves one through the unit of work (see crmkit.audit.record).
    personal_data: ClassVar[Sequence[Personal]] = ()

    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def call(self) -> Call:
        return Call(current_principal(), self.clock(), current_authorization())

    def read(self, fn: Callable[[Session, Call], R]) -> R:
        call = self.call()
        with self.db.read() as session:
            result = fn(session, call)
        if self.personal_data:
            self.audited_read(result, call)
        return result

    def audited_read(self, result: R, call: Call | None = None, action: str = "") -> R:
        """Record the personal records in `result` as read by the caller (reads that do not go
        through `read`: search results, exports); returns `result`."""
        call = call or self.call()
        reads.recorder(self.db).put(read_entries(call.principal, call.now, result, self.personal_data, action))
        return result

    def write(self, request: Message, response_type: type[M], fn: Callable[[UnitOfWork, Call], M]) -> M:
        call = self.call()

        def audited(uow: UnitOfWork, _: None) -> M:
            result = fn(uow, call)
            stage_call(uow, call.principal, call.now, request, result)
            return result
        return run_write(self.db, request, response_type, audited)

    def write_after(self, request: Message, response_type: type[M], prepare: Callable[[Call], P],
                    fn: Callable[[UnitOfWork, Call, P], M]) -> M:
        """A write that first asks other services (`prepare`, outside the transaction). A retry with
        the same idempotency key gets the first answer without `prepare` running again."""
        call = self.call()

        def audited(uow: UnitOfWork, prepared: P) -> M:
            result = fn(uow, call, prepared)
            stage_call(uow, call.principal, call.now, request, result)
            return result
        return run_write(self.db, request, response_type, audited, lambda: prepare(call))


Ctx = Any  # grpc.ServicerContext; servicers never need more of it than the interceptor set
