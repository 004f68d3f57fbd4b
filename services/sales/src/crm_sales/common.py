"""What every use case shares: the clock, events + audit rows written with the change, the
effective settings, and loading a record the caller may see."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import Actor
from crm.sales.v1.sales_pb2 import FollowUpRule, SalesSettings
from crm_sales import approvals, pipeline, scoring, store
from crm_sales.tables import audit_log
from crm_sales.visibility import can_read, can_write
from crmkit import logs
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from crmkit.events import new_event

Clock = Callable[[], datetime]
T = TypeVar("T")
SYSTEM = Principal("system", ("service",), "platform", "", "sales scheduler")

DEFAULT_FOLLOW_UPS: tuple[FollowUpRule, ...] = (
    FollowUpRule(id="stalled_needs", trigger="stage_duration", stage="needs_confirmed", days=5,
                 task_title="需求确认已超过5天，请跟进 / in needs confirmed for more than 5 days: follow up",
                 task_kind="follow_up"),
    FollowUpRule(id="call_after_quote", trigger="quote_sent", days=3,
                 task_title="报价已发送3天，请致电客户 / quote sent 3 days ago: call the customer",
                 task_kind="call"),
)


def system_clock() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def actor_of(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, roles=list(principal.roles), team=principal.team,
                 region=principal.region)


def emit(uow: UnitOfWork, principal: Principal, aggregate: str, action: str, aggregate_id: str, version: int,
         payload: Message, now: datetime) -> None:
    uow.emit(new_event(
        producer="sales", event_type=f"crm.sales.{aggregate}.{action}", aggregate_type=aggregate,
        aggregate_id=aggregate_id, aggregate_version=version, payload=payload, actor=actor_of(principal),
        correlation_id=logs.request_id_var.get(), occurred_at=now,
    ))


def audit(uow: UnitOfWork, principal: Principal, action: str, entity: str, entity_id: str, now: datetime,
          detail: str = "") -> None:
    uow.session.execute(insert(audit_log).values(at=now, actor=principal.user_id, action=action, entity=entity,
                                                 entity_id=entity_id, detail=detail[:4000]))


def defaults() -> SalesSettings:
    return SalesSettings(
        scoring_rules=list(scoring.DEFAULT_RULES),
        pipelines=[pipeline.DEFAULT_PIPELINE],
        approval_policies=list(approvals.DEFAULT_POLICIES),
        follow_up_rules=list(DEFAULT_FOLLOW_UPS),
        version=0,
    )


# The defaults are constants: parsing their bytes is cheaper than building the messages per call
# (every caller gets its own copy, so one that edits it cannot change the next one's).
_DEFAULTS = defaults().SerializeToString()


def settings(session: Session) -> SalesSettings:
    return store.load_settings(session) or SalesSettings.FromString(_DEFAULTS)


def delegators(session: Session, principal: Principal, now: datetime) -> list[str]:
    if principal.is_admin or principal.is_manager:
        return []
    return store.active_delegators(session, principal.user_id, now)


def visible(session: Session, principal: Principal, cls: type[T], record_id: str, now: datetime, *,
            write: bool = False, field: str = "id") -> T:
    """The record, or NOT_FOUND when missing or not visible (no existence leak)."""
    if not record_id:
        raise InvalidArgument(f"{field} is required", field=field)
    record: Any = store.load(session, cls, record_id, for_update=write)
    kind = cls.__name__.lower()
    # Delegations only matter for a record someone else owns: skip that query for one's own.
    lent = delegators(session, principal, now) if record is not None and record.owner_id != principal.user_id else []
    if record is None or not can_read(principal, record.owner_id, record.team, record.region, lent):
        raise NotFound(f"{kind} {record_id} not found", field=field)
    if write and not can_write(principal, record.owner_id, record.team, record.region, lent):
        raise PermissionDenied(f"you may read but not change this {kind}")
    return record  # type: ignore[no-any-return]


def check_version(current: int, expected: int) -> None:
    if expected and expected != current:
        raise Conflict(f"version {expected} is stale, the record is at version {current}", field="If-Match",
                       current_version=current)


def stamp_new(record: Any, now: datetime) -> None:
    record.id = new_id()
    record.version = 1
    record.created_at.FromDatetime(now)
    record.updated_at.FromDatetime(now)


def bump(record: Any, now: datetime) -> None:
    record.version += 1
    record.updated_at.FromDatetime(now)


def check_date(value: str, field: str) -> str:
    if not value:
        return ""
    try:
        parsed = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise InvalidArgument("use a date like 2026-03-31", field=field) from None
    return parsed.strftime("%Y-%m-%d")

