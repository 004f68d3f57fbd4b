"""Data-subject export and erasure, the same mechanism in every service (GDPR Art. 15, 17, 20).

A service declares where it holds a person's data as a list of `Holding`s (a table, the columns
that name the person, the message type of its snapshot, and how a row is erased: deleted, or
anonymized in place when the business keeps the fact) and serves the `crm.privacy.v1.DataSubject`
contract with `SubjectServicer`. Erasure also removes every row of the runtime tables (outbox,
dead letters, stored idempotency answers) whose bytes carry one of the person's identifiers, and
deletes the subject keys (crmkit.shredding) of every record it erased or anonymized, so the sealed
personal fields of their events can no longer be opened anywhere; then on SQLite it rewrites the
file (VACUUM) and truncates the WAL, so no freed page keeps the old bytes.

The suppression list holds keyed hashes (HMAC-SHA256) of erased emails and phones: a service
that captures people refuses those, without keeping the address itself."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from sqlalchemy import LargeBinary, Table, and_, delete, literal, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean

from crm.privacy.v1 import privacy_pb2 as ppb
from crm.privacy.v1.privacy_pb2_grpc import PrivacyServiceStub
from crmkit import shredding
from crmkit.auth import current_principal
from crmkit.config import AuthSettings, ConfigError
from crmkit.db import Database, UnitOfWork
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.grpc_client import GrpcPort
from crmkit.runtime_tables import dead_letter_row, idempotency_row, outbox_row

log = logging.getLogger("crmkit.privacy")

# What a holding's match columns hold; any other name is a reference collected by an earlier
# holding (`Holding.collect`), e.g. the ids of a person's leads for the tables that name a lead.
CONTACT, EMAIL, PHONE = "contact", "email", "phone"
# The names contacts knows the person by: never matched on (not unique), only replaced inside the
# free text of records kept anonymized (`redact`).
NAME = "name"
# Identifiers shorter than this are never searched for inside bytes (they would match anything).
MIN_NEEDLE = 6
ERASER_ROLES = ("dpo",)


class _BlobContains(FunctionElement[bool]):
    """`haystack` (bytes) contains `needle` (bytes): instr() on SQLite, position() on PostgreSQL."""

    type = Boolean()
    inherit_cache = True


@compiles(_BlobContains)
def _blob_contains_default(element: _BlobContains, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)}) > 0"


@compiles(_BlobContains, "postgresql")
def _blob_contains_pg(element: _BlobContains, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"position({compiler.process(needle, **kw)} in {compiler.process(haystack, **kw)}) > 0"


def blob_contains(column: Any, needle: bytes) -> ColumnElement[bool]:
    return _BlobContains(column, literal(needle, LargeBinary))


# The new values of an erased row that stays (its fact is kept), or None: this row is deleted.
Anonymize = Callable[[Row[Any], "Found"], dict[str, Any] | None]


@dataclass(frozen=True)
class Holding:
    """One place a service keeps a person's data."""

    name: str                           # the export's section, the receipt's count
    table: Table
    match: Mapping[str, str]            # column -> CONTACT | EMAIL | PHONE | a collected reference
    message: type[Message] | None = None  # the type of the `data` snapshot, for the export
    # Also match rows whose `data` bytes carry one of the person's identifiers.
    scan: bool = False
    # (reference, column): the matched rows' values of `column` become `reference` for later holdings.
    collect: tuple[str, str] | None = None
    # None: erased rows are deleted; else the new values of an erased row (the fact stays).
    anonymize: Anonymize | None = None
    export: bool = True
    # False: rows that hold no personal data besides ids that point at nothing once the person is
    # erased (aggregate facts); exported, never changed.
    erase: bool = True


@dataclass
class Found:
    """What erasure or export found, per holding, and the identifiers collected on the way."""

    refs: dict[str, set[str]] = field(default_factory=dict)
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def needles(self) -> list[bytes]:
        """The identifiers searched for inside bytes: ids, emails, phones; never names."""
        values = {v for kind, vs in self.refs.items() if kind != NAME for v in vs if len(v) >= MIN_NEEDLE}
        return sorted(v.encode() for v in values)

    def redact(self, text: str) -> str:
        """`text` with every name of the person replaced."""
        for name in sorted(self.refs.get(NAME, ()), key=len, reverse=True):
            if name:
                text = text.replace(name, REDACTED)
        return text


REDACTED = "[erased]"


def subject_refs(subject: ppb.Subject) -> dict[str, set[str]]:
    return {
        CONTACT: {c for c in subject.contact_ids if c},
        EMAIL: {e.strip().lower() for e in subject.emails if e.strip()},
        PHONE: {p.strip() for p in subject.phones if p.strip()},
        NAME: {n.strip() for n in subject.names if n.strip()},
    }


def _condition(holding: Holding, refs: Mapping[str, set[str]]) -> ColumnElement[bool] | None:
    clauses: list[ColumnElement[bool]] = []
    for column, kind in holding.match.items():
        values = refs.get(kind)
        if values:
            clauses.append(holding.table.c[column].in_(sorted(values)))
    if holding.scan and "data" in holding.table.c:
        for kind, values in sorted(refs.items()):
            if kind == NAME:
                continue
            for value in sorted(values):
                if len(value) >= MIN_NEEDLE:
                    clauses.append(blob_contains(holding.table.c.data, value.encode()))
    return or_(*clauses) if clauses else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, bytes):
        return None
    return value


def _record(holding: Holding, row: Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if key == "data" and holding.message is not None and isinstance(value, bytes):
            out["record"] = MessageToDict(holding.message.FromString(value), preserving_proto_field_name=True)
        elif not isinstance(value, bytes):
            out[key] = _jsonable(value)
    return out


def _rows(session: Session, holding: Holding, refs: Mapping[str, set[str]]) -> list[Row[Any]]:
    condition = _condition(holding, refs)
    if condition is None:
        return []
    return list(session.execute(select(holding.table).where(condition)))


def _collect(holding: Holding, rows: Sequence[Row[Any]], refs: dict[str, set[str]]) -> None:
    if holding.collect is not None:
        ref, column = holding.collect
        refs.setdefault(ref, set()).update(str(r._mapping[column]) for r in rows if r._mapping[column])


def export(session: Session, holdings: Sequence[Holding], subject: ppb.Subject) -> Found:
    found = Found(refs=subject_refs(subject))
    for holding in holdings:
        rows = _rows(session, holding, found.refs)
        _collect(holding, rows, found.refs)
        if holding.export:
            found.sections.setdefault(holding.name, []).extend(_record(holding, r) for r in rows)
    return found


def _key_clause(table: Table, row: Row[Any]) -> ColumnElement[bool]:
    return and_(*(col == row._mapping[col.name] for col in table.primary_key.columns))


def erase(session: Session, holdings: Sequence[Holding], subject: ppb.Subject) -> Found:
    """Erase the person from the business tables, then from the runtime tables. Repeatable: a
    second run finds nothing (anonymized rows no longer carry the identifiers)."""
    found = Found(refs=subject_refs(subject))
    records: set[str] = set()  # the ids of every record erased or anonymized: their keys go
    for holding in holdings:
        rows = _rows(session, holding, found.refs)
        _collect(holding, rows, found.refs)
        if not holding.erase:
            continue
        for row in rows:
            records.update(str(row._mapping[c.name]) for c in holding.table.primary_key.columns)
            if "id" in holding.table.c:
                records.add(str(row._mapping["id"]))
            values = holding.anonymize(row, found) if holding.anonymize is not None else None
            if values is None:
                session.execute(delete(holding.table).where(_key_clause(holding.table, row)))
            else:
                session.execute(update(holding.table).where(_key_clause(holding.table, row)).values(values))
        found.counts[holding.name] = found.counts.get(holding.name, 0) + len(rows)
    found.counts.update(erase_runtime(session, found.needles()))
    records.update(v for kind, vs in found.refs.items() if kind not in (EMAIL, PHONE, NAME) for v in vs)
    found.counts["subject keys"] = shredding.destroy(session, records)
    return found


def erase_runtime(session: Session, needles: Sequence[bytes]) -> dict[str, int]:
    """Outbox rows (published or not: an unpublished one would only spread the data), parked
    events and stored idempotency answers that carry any of `needles`."""
    counts: dict[str, int] = {}
    for name, table, column in (("outbox", outbox_row, outbox_row.c.payload),
                                ("dead letters", dead_letter_row, dead_letter_row.c.payload),
                                ("idempotency answers", idempotency_row, idempotency_row.c.response)):
        total = 0
        for start in range(0, len(needles), 50):
            chunk = needles[start:start + 50]
            if chunk:
                result = session.execute(delete(table).where(or_(*(blob_contains(column, n) for n in chunk))))
                total += getattr(result, "rowcount", 0) or 0
        counts[name] = total
    return counts


def compact(db: Database) -> None:
    """SQLite: rewrite the file without its free pages (deleted rows' bytes stay in them until
    overwritten) and empty the WAL (it holds earlier images of the changed pages). PostgreSQL
    reclaims dead tuples with (auto)vacuum; its storage must be encrypted at rest."""
    if not db.is_sqlite:
        return
    lock = db.write_lock
    if lock is not None:
        lock.acquire()
    try:
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("VACUUM")
            for _ in range(50):  # readers still on old WAL frames make TRUNCATE report busy
                busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy is None or busy[0] == 0:
                    break
                time.sleep(0.05)
    finally:
        if lock is not None:
            lock.release()


def check_caller() -> None:
    """Only the privacy service (a service credential), an admin or a DPO may ask a service for
    everything about a person."""
    principal = current_principal()
    if not principal.has_role(*ERASER_ROLES):
        raise PermissionDenied("data-subject requests need the dpo or admin role")


def require_subject(subject: ppb.Subject) -> None:
    if not (subject.contact_ids or subject.emails or subject.phones):
        raise InvalidArgument("name the person by contact_ids, emails or phones", field="subject")


def document(sections: Mapping[str, list[dict[str, Any]]]) -> bytes:
    return json.dumps(sections, ensure_ascii=False, sort_keys=True, default=str).encode()


def audit_entries(session: Session, service: str, found: Found) -> list[dict[str, Any]]:
    """The service's audit entries (crmkit.audit) about any record of the person: who did what to
    it and when. A database without the audit log yet contributes none."""
    from sqlalchemy.exc import DBAPIError

    from crmkit.audit.api import entries_about

    ids = {v for kind, vs in found.refs.items() if kind not in (EMAIL, PHONE, NAME) for v in vs}
    ids.update(str(r["id"]) for rows in found.sections.values() for r in rows if r.get("id"))
    try:
        entries = entries_about(session, service=service, record_ids=ids)
    except DBAPIError:
        return []
    return [MessageToDict(e, preserving_proto_field_name=True) for e in entries]


# -- the gRPC side: one servicer every service registers --------------------------------------


Extra = Callable[[Session, Found], None]


class SubjectServicer:
    """`crm.privacy.v1.DataSubject` over a service's holdings. Hooks add what tables cannot say:
    `export_extra(session, found)` may add sections and attachments; `before_erase(uow, found)`
    runs in the erasure's transaction after the holdings; `after_erase(found)` after the commit
    (a search index); `resolve` answers ResolveSubject (contacts only)."""

    def __init__(self, db: Database, service: str, holdings: Sequence[Holding], *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 export_extra: Callable[[Session, Found, list[ppb.Attachment]], None] | None = None,
                 before_erase: Callable[[UnitOfWork, Found], None] | None = None,
                 after_erase: Callable[[Found], None] | None = None,
                 resolve: Callable[[Session, ppb.Subject], ppb.Subject] | None = None,
                 suppression: SuppressionList | None = None) -> None:
        self.db, self.service, self.holdings, self.clock = db, service, list(holdings), clock
        self._export_extra, self._before, self._after = export_extra, before_erase, after_erase
        self._resolve, self.suppression = resolve, suppression
        self._erase_lock = threading.Lock()

    def ResolveSubject(self, request: ppb.ResolveSubjectRequest, context: Any) -> ppb.Subject:  # noqa: N802
        check_caller()
        require_subject(request.subject)
        if self._resolve is None:
            return request.subject
        with self.db.read() as session:
            return self._resolve(session, request.subject)

    def ExportSubject(self, request: ppb.ExportSubjectRequest, context: Any) -> ppb.SubjectPart:  # noqa: N802
        check_caller()
        require_subject(request.subject)
        attachments: list[ppb.Attachment] = []
        with self.db.read() as session:
            found = export(session, self.holdings, request.subject)
            if self._export_extra is not None:
                self._export_extra(session, found, attachments)
            audit = audit_entries(session, self.service, found)
            if audit:
                found.sections["audit"] = audit
        records = sum(len(rows) for rows in found.sections.values())
        return ppb.SubjectPart(service=self.service, document=document(found.sections),
                               attachments=attachments, records=records)

    def EraseSubject(self, request: ppb.EraseSubjectRequest, context: Any) -> ppb.EraseSubjectResponse:  # noqa: N802
        check_caller()
        require_subject(request.subject)
        if self.suppression is not None:
            self.suppression.add(request.suppression_hashes)
        with self._erase_lock:  # one erasure at a time per process: VACUUM wants the file alone
            with self.db.unit_of_work() as uow:
                found = erase(uow.session, self.holdings, request.subject)
                if self._before is not None:
                    self._before(uow, found)
                uow.commit()
            if self._after is not None:
                self._after(found)
            compact(self.db)
        response = ppb.EraseSubjectResponse(service=self.service)
        response.counts.extend(ppb.ErasedCount(holding=k, rows=v) for k, v in sorted(found.counts.items()))
        response.confirmed_at.FromDatetime(self.clock())
        log.info("subject erased", extra={"fields": {"erasure_id": request.erasure_id,
                                                      "rows": sum(found.counts.values())}})
        return response


# -- suppression ------------------------------------------------------------------------------


def suppression_key(auth: AuthSettings, env: Mapping[str, str] | None = None) -> bytes:
    """`PRIVACY_SUPPRESSION_KEY`, or one derived from JWT_SECRET for local use. Every service
    that hashes must use the same key."""
    env = os.environ if env is None else env
    configured = env.get("PRIVACY_SUPPRESSION_KEY", "")
    if configured:
        return configured.encode()
    if not auth.jwt_secret:
        raise ConfigError("set PRIVACY_SUPPRESSION_KEY (there is no JWT_SECRET to derive it from)")
    return hmac.new(auth.jwt_secret.encode(), b"crm-privacy-suppression", hashlib.sha256).digest()


def suppression_hash(key: bytes, kind: str, value: str) -> str:
    """The keyed hash of an email (lower-cased) or a phone (E.164): the same address always gives
    the same hash, and without the key no one can test an address against the list."""
    normalized = value.strip().lower() if kind == EMAIL else value.strip()
    return hmac.new(key, f"{kind}:{normalized}".encode(), hashlib.sha256).hexdigest()


def suppression_hashes(key: bytes, emails: Iterable[str], phones: Iterable[str]) -> list[str]:
    return sorted({suppression_hash(key, EMAIL, e) for e in emails if e.strip()}
                  | {suppression_hash(key, PHONE, p) for p in phones if p.strip()})


class _PrivacyPort(GrpcPort):
    stub = PrivacyServiceStub


class SuppressionList:
    """What a capturing service refuses: the privacy service's list, copied into memory and
    refreshed at most every `refresh_seconds` when asked (a create costs a set lookup, not a call).
    An erasure adds its hashes at once (EraseSubjectRequest.suppression_hashes). When the privacy
    service cannot be reached, the copy it has keeps being used and the next check tries again."""

    def __init__(self, key: bytes, addr: str | None, authorization: Callable[[], str], *,
                 refresh_seconds: float = 2.0) -> None:
        self.key = key
        self._port = _PrivacyPort(addr, timeout=1.0) if addr else None
        self._authorization = authorization
        self._refresh = refresh_seconds
        self._hashes: set[str] = set()
        self._seq = 0
        self._checked = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, auth: AuthSettings, authorization: Callable[[], str],
                 env: Mapping[str, str] | None = None) -> SuppressionList:
        env = os.environ if env is None else env
        return cls(suppression_key(auth, env), env.get("PRIVACY_SERVICE_ADDR") or None, authorization)

    def add(self, hashes: Iterable[str]) -> None:
        with self._lock:
            self._hashes.update(hashes)

    def _maybe_refresh(self) -> None:
        if self._port is None or time.monotonic() - self._checked < self._refresh:
            return
        self._checked = time.monotonic()
        try:
            answer = self._port.client.call(
                "ListSuppressions", ppb.ListSuppressionsRequest(after_seq=self._seq),
                metadata=(("authorization", self._authorization()),))
        except Exception as exc:  # noqa: BLE001 - fail over to the copy we have
            log.warning("suppression list not refreshed", extra={"fields": {"error": type(exc).__name__}})
            return
        with self._lock:
            for item in answer.suppressions:
                self._hashes.add(item.hash)
                self._seq = max(self._seq, item.seq)

    def suppressed(self, *, emails: Iterable[str] = (), phones: Iterable[str] = ()) -> str | None:
        """"email" or "phone" when one of them was erased and may not be captured again."""
        self._maybe_refresh()
        with self._lock:
            if not self._hashes:
                return None
            for email in emails:
                if email.strip() and suppression_hash(self.key, EMAIL, email) in self._hashes:
                    return EMAIL
            for phone in phones:
                if phone.strip() and suppression_hash(self.key, PHONE, phone) in self._hashes:
                    return PHONE
        return None
