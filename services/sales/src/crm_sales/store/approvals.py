"""Approval requests of quotes."""
from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import ApprovalRequest
from crm_sales.tables import approvals
from crmkit.records import dt


def approvals_of(session: Session, quote_id: str) -> list[ApprovalRequest]:
    rows = session.execute(select(approvals.c.data).where(approvals.c.quote_id == quote_id)
                           .order_by(approvals.c.seq)).scalars()
    return [ApprovalRequest.FromString(d) for d in rows]


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


def pending_approvals(session: Session) -> list[ApprovalRequest]:
    rows = session.execute(select(approvals.c.data).where(approvals.c.status == "pending")
                           .order_by(approvals.c.seq)).scalars()
    return [ApprovalRequest.FromString(d) for d in rows]
