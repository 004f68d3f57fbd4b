"""The hash chain of a service's audit log: append, verify, prune.

Each row's hash is sha256 over its content and the previous row's hash, so editing, removing or
reordering a row breaks every check after it. Appends take the head row FOR UPDATE (on SQLite the
write transaction already holds the database's one write lock), so two writers never both extend
the same head: the chain cannot fork. The head's `anchor_*` records where the kept chain starts
once retention pruned the oldest rows; only that prefix may ever be deleted."""
from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, text, update
from sqlalchemy.orm import Session

from crmkit.runtime_tables import audit_head_row as head
from crmkit.runtime_tables import audit_row as log

GENESIS = "0" * 64
HEAD_ID = 1
_READ_HEAD = select(head).where(head.c.id == HEAD_ID)
# Set for the pruning transaction only: the PostgreSQL trigger lets DELETE through with it, and
# only for rows at or before the anchor.
PRUNE_SETTING = "crmkit.audit_prune"
# The encoders json.dumps would build on every call with these options (an import appends thousands
# of entries at once); the same output.
_FIELDS_JSON = json.JSONEncoder(ensure_ascii=False)
_DETAILS_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)
_HASHED_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Entry:
    """One audit row before it has a place in the chain. Names fields, never their values."""

    at: datetime
    actor: str
    action: str
    record_type: str
    record_id: str
    fields: Sequence[str] = ()
    request_id: str = ""
    client_addr: str = ""
    method: str = ""
    event_id: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        at = self.at.astimezone(UTC) if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        return {
            "at": at, "actor": self.actor[:200], "action": self.action[:60],
            "record_type": self.record_type[:60], "record_id": self.record_id[:100],
            "fields": _FIELDS_JSON.encode(sorted(set(self.fields))) if self.fields else "[]",
            "request_id": self.request_id[:100], "client_addr": self.client_addr[:100],
            "method": self.method[:200], "event_id": self.event_id[:36],
            "details": _DETAILS_JSON.encode(dict(self.details)),
        }


def _ts(value: datetime) -> str:
    """One spelling of a time whatever the database hands back (SQLite: naive UTC)."""
    aware = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(row: Mapping[str, Any], at: str = "") -> str:
    """sha256 over a row's content, in a fixed order, and the previous row's hash. `at`: the row's
    time as `_ts` spells it, when the caller has it already."""
    content = [
        int(row["seq"]), at or _ts(row["at"]), row["actor"], row["action"], row["record_type"], row["record_id"],
        row["fields"], row["request_id"], row["client_addr"], row["method"], row["event_id"], row["details"],
        row["prev_hash"],
    ]
    return hashlib.sha256(_HASHED_JSON.encode(content).encode()).hexdigest()


_COLUMNS = ("seq", "at", "actor", "action", "record_type", "record_id", "fields", "request_id", "client_addr",
            "method", "event_id", "details", "prev_hash", "hash")
_ROW_VALUES = operator.itemgetter(*_COLUMNS)  # a row's values as a tuple, in _COLUMNS' order


@dataclass(frozen=True)
class _Sql:
    """The append's statements in the driver's own parameter style."""

    lock: str
    insert: str
    move: str
    create_head: str
    sqlite: bool


_SQL: dict[str, _Sql] = {}


def _sql(conn: Connection) -> _Sql:
    name = conn.dialect.name
    found = _SQL.get(name)
    if found is None:
        style = conn.dialect.paramstyle
        marks = ", ".join("?" if style == "qmark" else "%s" for _ in _COLUMNS)
        p = "?" if style == "qmark" else "%s"
        found = _SQL[name] = _Sql(
            lock=f"SELECT seq, hash FROM crm_audit_head WHERE id = {HEAD_ID}" + ("" if name == "sqlite" else " FOR UPDATE"),
            insert=f"INSERT INTO crm_audit_log ({', '.join(_COLUMNS)}) VALUES ({marks})",
            move=f"UPDATE crm_audit_head SET seq = {p}, hash = {p} WHERE id = {HEAD_ID}",
            create_head=f"INSERT INTO crm_audit_head (id, seq, hash, anchor_seq, anchor_hash) VALUES ({p}, 0, {p}, 0, {p})",
            sqlite=name == "sqlite",
        )
    return found


# PostgreSQL takes at most 65,535 parameters a statement; 14 columns a row.
_PG_ROWS_PER_INSERT = 1000
_PG_GROUP = "(" + ", ".join("%s" for _ in _COLUMNS) + ")"


@functools.lru_cache(maxsize=64)
def _multi_row_insert(n: int) -> str:
    return f"INSERT INTO crm_audit_log ({', '.join(_COLUMNS)}) VALUES " + ", ".join([_PG_GROUP] * n)


def append(session: Session | Connection, entries: Sequence[Entry]) -> int:
    """Extend the chain inside the caller's transaction; the head stays locked until it commits.
    Returns the new head's seq."""
    if not entries:
        return -1
    conn = session.connection() if isinstance(session, Session) else session
    sql = _sql(conn)
    # The driver's cursor on the transaction's own connection: SQLAlchemy's statement layer cost
    # more per statement than SQLite took to run it, on every write of every service.
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql.lock)
        found = cursor.fetchone()
        if found is None:  # a database built from the runtime tables alone, without the migration
            cursor.execute(sql.create_head, (HEAD_ID, GENESIS, GENESIS))
            seq, prev = 0, GENESIS
        else:
            seq, prev = int(found[0]), str(found[1])
        rows = []
        # a transaction's entries mostly share one time: each spelling of it computed once
        last_at: datetime | None = None
        hashed_at = stored_at = ""
        for entry in entries:
            seq += 1
            row = entry.values()
            row["seq"], row["prev_hash"] = seq, prev
            if row["at"] != last_at:
                last_at = row["at"]
                hashed_at = _ts(row["at"])
                stored_at = row["at"].strftime("%Y-%m-%d %H:%M:%S.%f")
            row["hash"] = prev = row_hash(row, hashed_at)
            if sql.sqlite:  # stored as SQLAlchemy's DateTime stores it on SQLite: naive UTC text
                row["at"] = stored_at
            rows.append(_ROW_VALUES(row))
        if sql.sqlite:
            cursor.executemany(sql.insert, rows)
        else:  # one statement per chunk: executemany ran one per row on the server (15% of a sender's CPU)
            for start in range(0, len(rows), _PG_ROWS_PER_INSERT):
                chunk = rows[start:start + _PG_ROWS_PER_INSERT]
                cursor.execute(_multi_row_insert(len(chunk)), [value for row in chunk for value in row])
        cursor.execute(sql.move, (seq, prev))
    finally:
        cursor.close()
    return seq


@dataclass(frozen=True)
class Verification:
    intact: bool
    rows_checked: int
    first_broken_seq: int = 0
    problem: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS

    def report(self, service: str) -> str:
        if self.intact:
            return (f"{service}: audit log intact, {self.rows_checked} rows checked, "
                    f"head seq {self.head_seq} hash {self.head_hash}")
        return f"{service}: audit log BROKEN at seq {self.first_broken_seq}: {self.problem}"


def verify(session: Session, batch: int = 2000) -> Verification:
    """Walk the chain from its anchor to its head; the first row that does not check is reported."""
    h = session.execute(_READ_HEAD).first()
    head_seq, head_hash = (int(h.seq), str(h.hash)) if h else (0, GENESIS)
    expected, prev = (int(h.anchor_seq) + 1, str(h.anchor_hash)) if h else (1, GENESIS)
    checked = 0

    def broken(seq: int, problem: str) -> Verification:
        return Verification(False, checked, seq, problem, head_seq, head_hash)

    last = expected - 1
    while True:
        rows = session.execute(select(log).where(log.c.seq > last).order_by(log.c.seq).limit(batch)).mappings().all()
        for row in rows:
            if row["seq"] != expected:
                return broken(expected, f"rows {expected}..{row['seq'] - 1} are missing")
            if row["prev_hash"] != prev:
                return broken(expected - 1, f"row {expected - 1} was changed or replaced "
                                            f"(row {expected} recorded another hash for it)")
            if row_hash(dict(row)) != row["hash"]:
                return broken(expected, "the row's content does not match its hash (edited)")
            prev, expected, checked = row["hash"], expected + 1, checked + 1
        if len(rows) < batch:
            break
        last = int(rows[-1]["seq"])
    if expected - 1 != head_seq or prev != head_hash:
        return broken(expected, f"the chain ends at seq {expected - 1} but its head says {head_seq}: "
                                "rows at the end were removed")
    return Verification(True, checked, 0, "", head_seq, head_hash)


def prune(session: Session, *, before: datetime, limit: int, postgres: bool) -> int:
    """Remove up to `limit` of the oldest rows, all older than `before`, keeping the chain
    verifiable: the anchor moves to the last removed row first. Returns how many were removed."""
    h = session.execute(select(head).where(head.c.id == HEAD_ID).with_for_update()).first()
    if h is None or h.seq <= h.anchor_seq:
        return 0
    first_kept = session.execute(select(func.min(log.c.seq)).where(log.c.at >= before)).scalar()
    upto = min(int(h.anchor_seq) + limit, int(h.seq) if first_kept is None else int(first_kept) - 1)
    if upto <= h.anchor_seq:
        return 0
    last_hash = session.execute(select(log.c.hash).where(log.c.seq == upto)).scalar()
    if last_hash is None:
        return 0  # a gap where the prefix should be: verify reports it, pruning must not hide it
    session.execute(update(head).where(head.c.id == HEAD_ID).values(anchor_seq=upto, anchor_hash=last_hash))
    if postgres:
        session.execute(text(f"SET LOCAL {PRUNE_SETTING} = 'on'"))
    result = session.execute(delete(log).where(log.c.seq <= upto))
    return int(getattr(result, "rowcount", 0) or 0)
