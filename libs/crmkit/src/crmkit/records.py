"""What every versioned record goes through: a new id and version, a bump on change, the
optimistic-concurrency check, and the UTC timestamps SQLite hands back naive."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

import uuid_utils
from google.protobuf.timestamp_pb2 import Timestamp

from crmkit.errors import Conflict, InvalidArgument


def new_id() -> str:
    """A new record's or event's id: a UUID of version 7, whose first 48 bits are the time in ms
    (RFC 9562), so ids made later sort later. Every index holding ids (a record's id, its tags,
    identities, audit entries and subject keys, the outbox's and each consumer's inbox's event
    ids, the read models' keys) then grows at its right edge: a batch writes to a few pages at
    its end, where a random id lands on a different page per row. At a million contacts that is
    the difference between a page cache that holds what a batch touches and one that does not
    (an import row's index work ~7x over three such indexes, measured)."""
    return str(uuid_utils.uuid7())


def stamp_new(record: Any, now: datetime | Timestamp) -> None:
    """A record about to be created: id (unless given), version 1, created and updated now. `now`
    as a Timestamp: converted once by the caller for a batch of records (an import)."""
    record.id = record.id or new_id()
    record.version = 1
    if isinstance(now, Timestamp):
        record.created_at.CopyFrom(now)
        record.updated_at.CopyFrom(now)
    else:
        record.created_at.FromDatetime(now)
        record.updated_at.FromDatetime(now)


def bump(record: Any, now: datetime) -> None:
    record.version += 1
    record.updated_at.FromDatetime(now)


def check_version(current: int, expected: int) -> None:
    """`expected` is the caller's If-Match (0: no check)."""
    if expected and expected != current:
        raise Conflict(f"version {expected} is stale, the record is at version {current}", field="If-Match",
                       current_version=current)


def dt(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def check_date(value: str, field: str) -> str:
    """A calendar day as YYYY-MM-DD ('' stays '')."""
    if not value:
        return ""
    try:
        parsed = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise InvalidArgument("use a date like 2026-03-31", field=field) from None
    return parsed.strftime("%Y-%m-%d")
