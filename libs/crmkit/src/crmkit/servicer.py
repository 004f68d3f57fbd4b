"""What every gRPC servicer stands on. A servicer only translates: it copies the request's
message (use cases change records in place; the request's bytes key idempotency), hands the call
to a use case, and wraps the answer. Reads get a read session; writes go through `write`, the one
transaction owner (see `crmkit.idempotency`). Use cases take the unit of work (or session) first
and everything else by keyword."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy.orm import Session

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
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def call(self) -> Call:
        return Call(current_principal(), self.clock(), current_authorization())

    def read(self, fn: Callable[[Session, Call], R]) -> R:
        call = self.call()
        with self.db.read() as session:
            return fn(session, call)

    def write(self, request: Message, response_type: type[M], fn: Callable[[UnitOfWork, Call], M]) -> M:
        call = self.call()
        return run_write(self.db, request, response_type, lambda uow, _: fn(uow, call))

    def write_after(self, request: Message, response_type: type[M], prepare: Callable[[Call], P],
                    fn: Callable[[UnitOfWork, Call, P], M]) -> M:
        """A write that first asks other services (`prepare`, outside the transaction). A retry with
        the same idempotency key gets the first answer without `prepare` running again."""
        call = self.call()
        return run_write(self.db, request, response_type, lambda uow, prepared: fn(uow, call, prepared),
                         lambda: prepare(call))


Ctx = Any  # grpc.ServicerContext; servicers never need more of it than the interceptor set
