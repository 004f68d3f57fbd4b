"""Deciding a quote's approval steps, and the approvals waiting for someone."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import ApprovalRequest, Quote
from crm_sales.events import SALES, emit
from crm_sales.rules import approval_policy
from crm_sales.store import approvals, records
from crm_sales.usecases import quotes
from crm_sales.usecases.access import visible
from crmkit import paging
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound


def decide(uow: UnitOfWork, *, principal: Principal, now: datetime, approval_id: str, approve: bool,
           comment: str) -> ApprovalRequest:
    request = approvals.load_approval(uow.session, approval_id)
    if request is None:
        raise NotFound(f"approval {approval_id} not found", field="id")
    quote = records.load(uow.session, Quote, request.quote_id, for_update=True)
    if quote is None:  # approvals are never without their quote; say so rather than fail obscurely
        raise NotFound(f"quote {request.quote_id} of approval {approval_id} not found", field="id")
    try:  # an approval of a quote the caller may not see is as missing as the quote (no existence leak)
        visible(uow.session, Quote, request.quote_id, principal=principal, now=now)
    except NotFound:
        raise NotFound(f"approval {approval_id} not found", field="id") from None
    step = approval_policy.decide(request, principal, approve, comment, now)
    approvals.save_approval(uow.session, request, new=False)
    emit(uow, principal, SALES.APPROVAL_DECIDED, request.id, len([s for s in request.steps if s.decided_by]),
         ev.ApprovalDecided(approval=request, step=step), now)
    if request.status in ("approved", "rejected"):
        quote.status = request.status
        quotes.save(uow, principal=principal, now=now, quote=quote, action=request.status, approval=request,
                    comment=comment)
    return request


def list_approvals(session: Session, *, principal: Principal, now: datetime, quote_id: str,
                   pending_for_me: bool, page_size: int = 0,
                   page_token: str = "") -> tuple[list[ApprovalRequest], str]:
    """A page (oldest first) and the token of the next one ("" on the last). The default page is
    the largest, so a caller written before paging still gets every approval it got then."""
    size = paging.page_size(page_size, default=paging.MAX_PAGE)
    after = paging.decode_cursor(page_token) if page_token else 0
    if quote_id:
        visible(session, Quote, quote_id, principal=principal, now=now)
        return _page(approvals.approvals_of(session, quote_id, after=after, limit=size + 1), size)
    if not pending_for_me:
        raise InvalidArgument("give a quote_id or ask for pending_for_me", field="quote_id")
    found: list[tuple[int, ApprovalRequest]] = []
    for seq, request in approvals.pending_approvals(session, after=after):
        step = approval_policy.current_step(request)
        if approval_policy.may_decide(principal, step, request) and request.requested_by != principal.user_id:
            found.append((seq, request))
            if len(found) > size:
                break
    return _page(found, size)


def _page(rows: list[tuple[int, ApprovalRequest]], size: int) -> tuple[list[ApprovalRequest], str]:
    return [r for _, r in rows[:size]], paging.encode_cursor(rows[size - 1][0]) if len(rows) > size else ""
