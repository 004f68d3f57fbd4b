"""Approval requests of quotes."""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import ApprovalRequest
from crm_sales.tables import approvals
from crmkit.records import dt


def approvals_of(session: Session, quote_id: str, *, after: int = 0,
                 limit: int | None = None) -> list[tuple[int, ApprovalRequest]]:
    """A quote's approval trail, oldest first, after the sequence number `after`: (seq, request)."""
    stmt = (select(approvals.c.seq, approvals.c.data).where(approvals.c.quote_id == quote_id, approvals.c.seq > after)
            .order_by(approvals.c.seq).limit(limit))
    return [(row.seq, ApprovalRequest.FromString(row.data)) for row in session.execute(stmt)]


def load_approval(session: Session, approval_id: str) -> ApprovalRequest | None:
    data = session.execute(select(approvals.c.data).where(approvals.c.id == approval_id)).scalar_one_or_none()
    return None if data is None else ApprovalRequest.FromString(data)


def save_approval(session: Session, request: ApprovalRequest, *, new: bool) -> None:
    values = dict(id=request.id, quote_id=request.quote_id, status=request.status, team=request.team,
                  region=request.region, requested_at=dt(request.requested_at), data=request.SerializeToString())
    if new:
        session.execute(insert(approvals).values(**values))
    else:
        session.execute(update(approvals).where(approvals.c.id == request.id).values(**values))


def pending_approvals(session: Session, *, after: int = 0, chunk: int = 100) -> Iterator[tuple[int, ApprovalRequest]]:
    """The pending requests, oldest first, after the sequence number `after`: (seq, request), read
    `chunk` at a time as the caller goes (it stops once it has a page). Keyset queries rather than a
    server-side cursor: the read sessions on PostgreSQL run outside a transaction block."""
    while True:
        rows = session.execute(select(approvals.c.seq, approvals.c.data)
                               .where(approvals.c.status == "pending", approvals.c.seq > after)
                               .order_by(approvals.c.seq).limit(chunk)).all()
        for row in rows:
            yield row.seq, ApprovalRequest.FromString(row.data)
        if len(rows) < chunk:
            return
        after = rows[-1].seq
