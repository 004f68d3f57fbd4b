"""Quotes: exact totals, gap-free numbers, revisions (a new version with the same number), and
the way from draft through approval to sent and accepted; the PDF a customer receives."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import ApprovalRequest, Opportunity, Quote, QuotePdf
from crm_sales.events import SALES, emit
from crm_sales.rules import approval_policy, pdf, quoting
from crm_sales.rules.fields import listed
from crm_sales.rules.leads import check_email
from crm_sales.store import approvals, audit, catalogue, jobs, records
from crm_sales.usecases import settings, tasks
from crm_sales.usecases.access import delegators, visible
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from crmkit.fields import patchable
from crmkit.records import check_date, new_id

REVISABLE = patchable(Quote)
SERVER_OWNED = ("approval_id", "sent_at")


def _price(session: Session, quote: Quote) -> None:
    quoting.check_size(quote)
    products = {p.id: p for p in catalogue.all_products(session)}
    book = None
    if quote.price_book_id:
        books = [b for b in catalogue.find_price_books(session) if b.id == quote.price_book_id]
        if not books:
            raise InvalidArgument(f"no price book {quote.price_book_id}", field="price_book_id")
        book = books[0]
        quote.currency_code = quote.currency_code or book.currency_code
        if book.currency_code != quote.currency_code:
            raise InvalidArgument(f"price book {book.name} is in {book.currency_code}", field="price_book_id")
    quoting.price_lines(quote, products, book)
    quoting.compute_totals(quote)


def _stamp(quote: Quote, now: datetime) -> None:
    """A new quote row: its own id and row version; `version` is the revision number."""
    quote.id = new_id()
    quote.status = "draft"
    for server_owned in SERVER_OWNED:
        quote.ClearField(server_owned)
    quote.row_version = 1
    quote.created_at.FromDatetime(now)
    quote.updated_at.FromDatetime(now)


def save(uow: UnitOfWork, *, principal: Principal, now: datetime, quote: Quote, action: str,
         approval: ApprovalRequest | None = None, comment: str = "") -> Quote:
    """Write a quote whose status moved on, with its event (crm.sales.quote.<action>) and audit row."""
    quote.row_version += 1
    quote.updated_at.FromDatetime(now)
    records.update_record(uow.session, quote)
    emit(uow, principal, SALES.of("quote", action), quote.id, quote.row_version,
         ev.QuoteChanged(quote=quote, approval=approval, comment=comment), now)
    audit.record(uow.session, principal, action, "quote", quote.id, now, comment)
    return quote


def _editable(uow: UnitOfWork, principal: Principal, quote_id: str, now: datetime) -> Quote:
    return visible(uow.session, Quote, quote_id, principal=principal, now=now, write=True)


def create_quote(uow: UnitOfWork, *, principal: Principal, now: datetime, quote: Quote) -> Quote:
    if not principal.has_role("rep", "manager"):
        raise PermissionDenied("your role cannot create quotes")
    opp = visible(uow.session, Opportunity, quote.opportunity_id, principal=principal, now=now, write=True,
                  field="opportunity_id")
    if opp.status != "open":
        raise FailedPrecondition("the opportunity is closed", field="opportunity_id")
    quote.account_id = opp.account_id
    quote.contact_id = quote.contact_id or opp.contact_id
    quote.customer_name = quote.customer_name or opp.account_name or opp.name
    quote.currency_code = quote.currency_code or opp.amount.currency_code or ""
    quote.owner_id, quote.team, quote.region = opp.owner_id, opp.team, opp.region
    quote.valid_until = check_date(quote.valid_until, "valid_until")
    _price(uow.session, quote)
    _stamp(quote, now)
    quote.number = quoting.quote_number(now.year, catalogue.next_number(uow.session, f"Q-{now.year}"))
    quote.version = 1
    records.insert_record(uow.session, quote)
    emit(uow, principal, SALES.QUOTE_CREATED, quote.id, quote.row_version, ev.QuoteChanged(quote=quote), now)
    return quote


def revise_quote(uow: UnitOfWork, *, principal: Principal, now: datetime, quote_id: str, changes: Quote,
                 mask: Sequence[str]) -> Quote:
    """A new version with the same number; the previous one is superseded and stays readable."""
    old = _editable(uow, principal, quote_id, now)
    if old.status in ("superseded", "accepted"):
        raise FailedPrecondition(f"a {old.status} quote cannot be revised", field="id")
    paths = list(dict.fromkeys(p.split(".")[0] for p in mask))
    if not paths:
        raise InvalidArgument("nothing to revise: the update mask is empty", field="update_mask")
    new = Quote()
    new.CopyFrom(old)
    for path in paths:
        if path not in REVISABLE:
            raise InvalidArgument(f"'{path}' cannot be revised (revisable: {listed(Quote, REVISABLE)})",
                                  field="update_mask")
        if path == "lines":
            del new.lines[:]
            new.lines.extend(changes.lines)
        else:
            setattr(new, path, getattr(changes, path))
    new.valid_until = check_date(new.valid_until, "valid_until")
    _price(uow.session, new)
    if old.status == "pending_approval":
        _withdraw(uow, old, now)
    old.status = "superseded"
    save(uow, principal=principal, now=now, quote=old, action="superseded")
    _stamp(new, now)
    new.version = old.version + 1
    records.insert_record(uow.session, new)
    emit(uow, principal, SALES.QUOTE_REVISED, new.id, new.row_version, ev.QuoteChanged(quote=new), now)
    return new


def _withdraw(uow: UnitOfWork, quote: Quote, now: datetime) -> None:
    request = approvals.load_approval(uow.session, quote.approval_id)
    if request is not None and request.status == "pending":
        request.status = "withdrawn"
        for step in request.steps:  # nobody is asked any more, as after a rejection
            if step.status in ("pending", "waiting"):
                step.status = "skipped"
        request.decided_at.FromDatetime(now)
        approvals.save_approval(uow.session, request, new=False)


def submit_quote(uow: UnitOfWork, *, principal: Principal, now: datetime, quote_id: str) -> Quote:
    """Start the approval the policies call for; a quote no policy catches is approved at once."""
    quote = _editable(uow, principal, quote_id, now)
    if quote.status not in ("draft", "rejected"):
        raise FailedPrecondition(f"a {quote.status} quote cannot be submitted", field="id")
    steps = approval_policy.required_steps(quote, settings.current(uow.session).approval_policies)
    request = ApprovalRequest(id=new_id(), quote_id=quote.id, quote_number=quote.number, quote_version=quote.version,
                              status="pending" if steps else "approved", steps=steps, requested_by=principal.user_id,
                              team=quote.team, region=quote.region)
    request.requested_at.FromDatetime(now)
    if not steps:
        request.decided_at.FromDatetime(now)
    approvals.save_approval(uow.session, request, new=True)
    quote.approval_id = request.id
    quote.status = "pending_approval" if steps else "approved"
    return save(uow, principal=principal, now=now, quote=quote, action="submitted" if steps else "approved",
                approval=request)


def send_quote(uow: UnitOfWork, *, principal: Principal, now: datetime, quote_id: str, recipient: str) -> Quote:
    recipient = check_email(recipient, "recipient_email") if recipient.strip() else ""
    quote = _editable(uow, principal, quote_id, now)
    if quote.status != "approved":
        raise FailedPrecondition(f"a quote must be approved before it is sent; this one is {quote.status}",
                                 field="status")
    quote.status = "sent"
    quote.sent_at.FromDatetime(now)
    tasks.schedule_quote_follow_ups(uow, quote=quote, settings=settings.current(uow.session), now=now)
    return save(uow, principal=principal, now=now, quote=quote, action="sent", comment=recipient)


def accept_quote(uow: UnitOfWork, *, principal: Principal, now: datetime, quote_id: str, declined: bool,
                 reason: str) -> Quote:
    if declined and not reason.strip():
        raise InvalidArgument("say why the customer declined", field="reason")
    quote = _editable(uow, principal, quote_id, now)
    if quote.status != "sent":
        raise FailedPrecondition(f"only a sent quote can be accepted or declined; this one is {quote.status}",
                                 field="status")
    quote.status = "declined" if declined else "accepted"
    jobs.cancel(uow.session, jobs.QUOTE_FOLLOW_UP, quote.id)
    return save(uow, principal=principal, now=now, quote=quote, action=quote.status, comment=reason)


def get_quote(session: Session, *, principal: Principal, now: datetime, quote_id: str) -> Quote:
    return visible(session, Quote, quote_id, principal=principal, now=now)


def render_pdf(session: Session, *, principal: Principal, now: datetime, quote_id: str) -> QuotePdf:
    quote = get_quote(session, principal=principal, now=now, quote_id=quote_id)
    return QuotePdf(filename=f"{quote.number}-v{quote.version}.pdf", content=pdf.render_cached(quote))


def list_quotes(session: Session, *, principal: Principal, now: datetime, opportunity_id: str, status: str,
                page_size: int, page_token: str) -> tuple[list[Quote], str]:
    return records.list_quotes(session, opportunity_id=opportunity_id, status=status, principal=principal,
                               delegators=delegators(session, principal, now), size=page_size, token=page_token)
