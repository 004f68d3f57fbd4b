"""Reading a service's audit log: `list_entries` (filters, newest first, keyset pages), the
`AuditLog` gRPC servicer every service registers (crmkit.service does it), and `entries_about`
for a data-subject export (every entry naming one of a person's records)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from crm.common.v1 import audit_pb2 as pb
from crm.common.v1.audit_pb2_grpc import AuditLogServicer as _Base
from crm.common.v1.types_pb2 import PageResponse
from crmkit.audit import chain
from crmkit.auth import Principal, current_principal
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.runtime_tables import audit_row as log

if TYPE_CHECKING:
    from crmkit.db import Database

READER_ROLES = ("auditor",)  # and admins (Principal.has_role)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AuditLog"].full_name
MAX_PAGE = 500


@dataclass(frozen=True)
class Filter:
    actor: str = ""
    record_type: str = ""
    record_id: str = ""
    action: str = ""
    request_id: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, request: pb.ListAuditEntriesRequest) -> Filter:
        since = request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None
        until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
        if since and until and since >= until:
            raise InvalidArgument("since must be before until", field="since")
        return cls(request.actor, request.record_type, request.record_id, request.action, request.request_id,
                   since, until)

    def apply(self, query: Select[Any]) -> Select[Any]:
        for column, value in ((log.c.actor, self.actor), (log.c.record_type, self.record_type),
                              (log.c.record_id, self.record_id), (log.c.action, self.action),
                              (log.c.request_id, self.request_id)):
            if value:
                query = query.where(column == value)
        if self.since:
            query = query.where(log.c.at >= self.since)
        if self.until:
            query = query.where(log.c.at < self.until)
        return query


def to_message(row: RowMapping, service: str) -> pb.AuditEntry:
    entry = pb.AuditEntry(
        service=service, seq=row["seq"], actor=row["actor"], action=row["action"], record_type=row["record_type"],
        record_id=row["record_id"], fields=json.loads(row["fields"] or "[]"), request_id=row["request_id"],
        client_addr=row["client_addr"], method=row["method"], event_id=row["event_id"], details=row["details"],
        hash=row["hash"],
    )
    at = row["at"]
    entry.at.FromDatetime(at if at.tzinfo else at.replace(tzinfo=UTC))
    return entry


def list_entries(session: Session, *, service: str, flt: Filter, size: int, token: str
                 ) -> tuple[list[pb.AuditEntry], str]:
    """Newest first; the token is the seq to continue below."""
    query = flt.apply(select(log)).order_by(log.c.seq.desc()).limit(size + 1)
    if token:
        query = query.where(log.c.seq < decode_cursor(token))
    rows = session.execute(query).mappings().all()
    entries = [to_message(row, service) for row in rows[:size]]
    return entries, encode_cursor(entries[-1].seq) if len(rows) > size else ""


def entries_about(session: Session, *, service: str, record_ids: Iterable[str]) -> list[pb.AuditEntry]:
    """Every entry about one of these records, oldest first (what an export of a person shows)."""
    ids = sorted({i for i in record_ids if i})
    found: list[pb.AuditEntry] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.execute(select(log).where(log.c.record_id.in_(chunk)).order_by(log.c.seq)).mappings()
        found.extend(to_message(row, service) for row in rows)
    found.sort(key=lambda e: e.seq)
    return found


def check_reader(principal: Principal) -> None:
    if not principal.has_role(*READER_ROLES):
        raise PermissionDenied("reading the audit log needs the auditor role")


class AuditLogServicer(_Base):
    def __init__(self, db: Database, service: str) -> None:
        self.db, self.service = db, service

    def ListAuditEntries(self, request: pb.ListAuditEntriesRequest, context: Any) -> pb.ListAuditEntriesResponse:
        check_reader(current_principal())
        flt = Filter.of(request)
        size = page_size(request.page.page_size, maximum=MAX_PAGE)
        with self.db.read() as session:
            entries, token = list_entries(session, service=self.service, flt=flt, size=size,
                                          token=request.page.page_token)
        return pb.ListAuditEntriesResponse(entries=entries, page=PageResponse(next_page_token=token))

    def VerifyAuditLog(self, request: pb.VerifyAuditLogRequest, context: Any) -> pb.VerifyAuditLogResponse:
        check_reader(current_principal())
        with self.db.snapshot() as session:  # one snapshot: appends during the walk are not breaks
            result = chain.verify(session)
        return pb.VerifyAuditLogResponse(
            intact=result.intact, rows_checked=result.rows_checked, first_broken_seq=result.first_broken_seq,
            problem=result.problem, head_seq=result.head_seq, head_hash=result.head_hash)


def registration(db: Database, service: str) -> Any:
    """A `Components.servicers` entry: the AuditLog service on this service's database."""
    from crm.common.v1.audit_pb2_grpc import add_AuditLogServicer_to_server

    servicer = AuditLogServicer(db, service)
    return lambda server: add_AuditLogServicer_to_server(servicer, server)


__all__: Sequence[str] = ["Filter", "list_entries", "entries_about", "AuditLogServicer", "registration",
                          "SERVICE_NAME", "check_reader"]
