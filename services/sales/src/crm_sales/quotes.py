"""Products, price books, quotes (exact totals, numbering, versions), approvals and contracts."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import (
    ApprovalRequest,
    Contract,
    ListQuotesRequest,
    Opportunity,
    PriceBook,
    Product,
    Quote,
)
from crm_sales import approvals, jobs, money, quoting, store, work
from crm_sales.common import audit, bump, check_date, check_version, delegators, emit, new_id, settings, visible
from crm_sales.tables import contracts
from crm_sales.tables import quotes as quotes_table
from crm_sales.visibility import visible_clause
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

REVISABLE = ("lines", "discount_percent", "tax_rate", "special_terms", "valid_until", "notes", "price_book_id",
             "customer_name")
CONTRACT_STATUSES = {"draft": ("signed", "terminated"), "signed": ("active", "terminated"),
                     "active": ("expired", "terminated"), "expired": (), "terminated": ()}


# -- catalogue

def create_product(uow: UnitOfWork, principal: Principal, product: Product) -> Product:
    if not principal.has_role("manager", "finance"):
        raise PermissionDenied("only managers, finance and admins maintain products")
    product.sku = product.sku.strip().upper()
    product.name = product.name.strip()
    if not product.sku:
        raise InvalidArgument("a product needs a SKU", field="sku")
    if not product.name:
        raise InvalidArgument("a product needs a name", field="name")
    if store.sku_taken(uow.session, product.sku):
        raise AlreadyExists(f"SKU {product.sku} exists", field="sku")
    product.id = new_id()
    product.active = True
    store.save_product(uow.session, product, new=True)
    return product


def save_price_book(uow: UnitOfWork, principal: Principal, book: PriceBook) -> PriceBook:
    if not principal.has_role("manager", "finance"):
        raise PermissionDenied("only managers, finance and admins maintain price books")
    book.name = book.name.strip()
    if not book.name:
        raise InvalidArgument("a price book needs a name", field="name")
    book.currency_code = money.check_currency(book.currency_code, "currency_code")
    book.tier = book.tier.strip() or "standard"
    known = {p.id for p in store.all_products(uow.session)}
    seen: set[str] = set()
    for i, entry in enumerate(book.entries):
        if entry.product_id not in known:
            raise InvalidArgument(f"no product {entry.product_id}", field=f"entries[{i}].product_id")
        if entry.product_id in seen:
            raise InvalidArgument("a product appears once per price book", field=f"entries[{i}].product_id")
        seen.add(entry.product_id)
        if entry.unit_price.currency_code and entry.unit_price.currency_code != book.currency_code:
            raise InvalidArgument(f"prices in this book are in {book.currency_code}",
                                  field=f"entries[{i}].unit_price.currency_code")
        entry.unit_price.CopyFrom(money.money(book.currency_code, money.parse(
            entry.unit_price.amount, f"entries[{i}].unit_price.amount")))
    book.id = book.id or new_id()
    if not book.active and not book.entries:
        book.active = True
    store.save_price_book(uow.session, book)
    return book


# -- quotes

def _price(session: Session, quote: Quote) -> None:
    products = {p.id: p for p in store.all_products(session)}
    book = None
    if quote.price_book_id:
        books = [b for b in store.find_price_books(session) if b.id == quote.price_book_id]
        if not books:
            raise InvalidArgument(f"no price book {quote.price_book_id}", field="price_book_id")
        book = books[0]
        quote.currency_code = quote.currency_code or book.currency_code
        if book.currency_code != quote.currency_code:
            raise InvalidArgument(f"price book {book.name} is in {book.currency_code}", field="price_book_id")
    quoting.price_lines(quote, products, book)
    quoting.compute_totals(quote)


def create_quote(uow: UnitOfWork, principal: Principal, quote: Quote, now: datetime) -> Quote:
    if not principal.has_role("rep", "manager"):
        raise PermissionDenied("your role cannot create quotes")
    opp = visible(uow.session, principal, Opportunity, quote.opportunity_id, now, write=True, field="opportunity_id")
    if opp.status != "open":
        raise FailedPrecondition("the opportunity is closed", field="opportunity_id")
    quote.account_id = opp.account_id
    quote.contact_id = quote.contact_id or opp.contact_id
    quote.customer_name = quote.customer_name or opp.account_name or opp.name
    quote.currency_code = quote.currency_code or opp.amount.currency_code or ""
    quote.owner_id, quote.team, quote.region = opp.owner_id, opp.team, opp.region
    quote.valid_until = check_date(quote.valid_until, "valid_until")
    _price(uow.session, quote)
    quote.id = new_id()
    year = now.year
    quote.number = quoting.quote_number(year, store.next_number(uow.session, f"Q-{year}"))
    quote.version = 1
    quote.status = "draft"
    for server_owned in ("approval_id", "sent_at"):
        quote.ClearField(server_owned)
    quote.row_version = 1
    quote.created_at.FromDatetime(now)
    quote.updated_at.FromDatetime(now)
    store.insert_record(uow.session, quote)
    emit(uow, principal, "quote", "created", quote.id, quote.row_version, ev.QuoteChanged(quote=quote), now)
    return quote


def _save(uow: UnitOfWork, principal: Principal, quote: Quote, action: str, now: datetime,
          approval: ApprovalRequest | None = None, comment: str = "") -> Quote:
    quote.row_version += 1
    quote.updated_at.FromDatetime(now)
    store.update_record(uow.session, quote)
    emit(uow, principal, "quote", action, quote.id, quote.row_version,
         ev.QuoteChanged(quote=quote, approval=approval, comment=comment), now)
    audit(uow, principal, action, "quote", quote.id, now, comment)
    return quote


def _editable(uow: UnitOfWork, principal: Principal, quote_id: str, now: datetime) -> Quote:
    return visible(uow.session, principal, Quote, quote_id, now, write=True)


def revise_quote(uow: UnitOfWork, principal: Principal, quote_id: str, changes: Quote, mask: Sequence[str],
                 now: datetime) -> Quote:
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
            raise InvalidArgument(f"'{path}' cannot be revised (revisable: {', '.join(REVISABLE)})", field="update_mask")
        if path == "lines":
            del new.lines[:]
            new.lines.extend(changes.lines)
        else:
            setattr(new, path, getattr(changes, path))
    new.valid_until = check_date(new.valid_until, "valid_until")
    _price(uow.session, new)
    if old.status in ("pending_approval",):
        _withdraw(uow, old, now)
    old.status = "superseded"
    _save(uow, principal, old, "superseded", now)
    new.id = new_id()
    new.version = old.version + 1
    new.status = "draft"
    new.row_version = 1
    for server_owned in ("approval_id", "sent_at"):
        new.ClearField(server_owned)
    new.created_at.FromDatetime(now)
    new.updated_at.FromDatetime(now)
    store.insert_record(uow.session, new)
    emit(uow, principal, "quote", "revised", new.id, new.row_version, ev.QuoteChanged(quote=new), now)
    return new


def _withdraw(uow: UnitOfWork, quote: Quote, now: datetime) -> None:
    request = store.load_approval(uow.session, quote.approval_id)
    if request is not None and request.status == "pending":
        request.status = "withdrawn"
        request.decided_at.FromDatetime(now)
        store.save_approval(uow.session, request, new=False)


def submit_quote(uow: UnitOfWork, principal: Principal, quote_id: str, now: datetime) -> Quote:
    """Start the approval the policies call for; a quote no policy catches is approved at once."""
    quote = _editable(uow, principal, quote_id, now)
    if quote.status not in ("draft", "rejected"):
        raise FailedPrecondition(f"a {quote.status} quote cannot be submitted", field="id")
    steps = approvals.required_steps(quote, settings(uow.session).approval_policies)
    request = ApprovalRequest(id=new_id(), quote_id=quote.id, quote_number=quote.number, quote_version=quote.version,
                              status="pending" if steps else "approved", steps=steps, requested_by=principal.user_id,
                              team=quote.team, region=quote.region)
    request.requested_at.FromDatetime(now)
    if not steps:
        request.decided_at.FromDatetime(now)
    store.save_approval(uow.session, request, new=True)
    quote.approval_id = request.id
    quote.status = "pending_approval" if steps else "approved"
    return _save(uow, principal, quote, "submitted" if steps else "approved", now, approval=request)


def decide(uow: UnitOfWork, principal: Principal, approval_id: str, approve: bool, comment: str,
           now: datetime) -> ApprovalRequest:
    request = store.load_approval(uow.session, approval_id)
    if request is None:
        raise NotFound(f"approval {approval_id} not found", field="id")
    quote = store.load(uow.session, Quote, request.quote_id, for_update=True)
    step = approvals.decide(request, principal, approve, comment, now)
    store.save_approval(uow.session, request, new=False)
    emit(uow, principal, "approval", "decided", request.id, len([s for s in request.steps if s.decided_by]),
         ev.ApprovalDecided(approval=request, step=step), now)
    if request.status in ("approved", "rejected"):
        quote.status = request.status
        _save(uow, principal, quote, request.status, now, approval=request, comment=comment)
    return request


def list_approvals(session: Session, principal: Principal, quote_id: str, pending_for_me: bool,
                   now: datetime) -> list[ApprovalRequest]:
    if quote_id:
        visible(session, principal, Quote, quote_id, now)
        return store.approvals_of(session, quote_id)
    if not pending_for_me:
        raise InvalidArgument("give a quote_id or ask for pending_for_me", field="quote_id")
    found = []
    for request in store.pending_approvals(session):
        step = approvals.current_step(request)
        if approvals.may_decide(principal, step, request) and request.requested_by != principal.user_id:
            found.append(request)
    return found


def send_quote(uow: UnitOfWork, principal: Principal, quote_id: str, recipient: str, now: datetime) -> Quote:
    quote = _editable(uow, principal, quote_id, now)
    if quote.status != "approved":
        raise FailedPrecondition(f"a quote must be approved before it is sent; this one is {quote.status}",
                                 field="status")
    quote.status = "sent"
    quote.sent_at.FromDatetime(now)
    work.schedule_quote_follow_ups(uow, quote, settings(uow.session), now)
    return _save(uow, principal, quote, "sent", now, comment=recipient)


def accept_quote(uow: UnitOfWork, principal: Principal, quote_id: str, declined: bool, reason: str,
                 now: datetime) -> Quote:
    quote = _editable(uow, principal, quote_id, now)
    if quote.status != "sent":
        raise FailedPrecondition(f"only a sent quote can be accepted or declined; this one is {quote.status}",
                                 field="status")
    quote.status = "declined" if declined else "accepted"
    jobs.cancel(uow.session, "quote_follow_up", quote.id)
    return _save(uow, principal, quote, quote.status, now, comment=reason)


def get_quote(session: Session, principal: Principal, quote_id: str, now: datetime) -> Quote:
    return visible(session, principal, Quote, quote_id, now)


def list_quotes(session: Session, principal: Principal, request: ListQuotesRequest, now: datetime) -> tuple[list[Quote], str]:
    t = quotes_table
    stmt = select(t.c.data).where(visible_clause(principal, t, delegators(session, principal, now)))
    if request.opportunity_id:
        stmt = stmt.where(t.c.opportunity_id == request.opportunity_id)
    if request.status:
        stmt = stmt.where(t.c.status == request.status)
    return store.page(session, Quote, stmt, request.page.page_size, request.page.page_token)


# -- contracts

def create_contract(uow: UnitOfWork, principal: Principal, quote_id: str, start: str, end: str,
                    now: datetime) -> Contract:
    quote = _editable(uow, principal, quote_id, now)
    if quote.status != "accepted":
        raise FailedPrecondition("a contract is made from an accepted quote", field="quote_id")
    start, end = check_date(start, "start_date"), check_date(end, "end_date")
    if start and end and end < start:
        raise InvalidArgument("the contract ends before it starts", field="end_date")
    contract = Contract(quote_id=quote.id, opportunity_id=quote.opportunity_id, account_id=quote.account_id,
                        contact_id=quote.contact_id, total=quote.total, status="draft", start_date=start,
                        end_date=end, owner_id=quote.owner_id, team=quote.team, region=quote.region)
    contract.id = new_id()
    contract.number = quoting.contract_number(now.year, store.next_number(uow.session, f"C-{now.year}"))
    contract.version = 1
    contract.created_at.FromDatetime(now)
    contract.updated_at.FromDatetime(now)
    store.insert_record(uow.session, contract)
    emit(uow, principal, "contract", "created", contract.id, 1, ev.ContractChanged(contract=contract), now)
    return contract


def update_contract_status(uow: UnitOfWork, principal: Principal, contract_id: str, status: str, expected: int,
                           now: datetime) -> Contract:
    contract = visible(uow.session, principal, Contract, contract_id, now, write=True)
    check_version(contract.version, expected)
    if status not in CONTRACT_STATUSES:
        raise InvalidArgument(f"must be one of {', '.join(CONTRACT_STATUSES)}", field="status")
    if status not in CONTRACT_STATUSES[contract.status]:
        raise FailedPrecondition(f"a {contract.status} contract cannot become {status}", field="status")
    previous = contract.status
    contract.status = status
    if status == "signed":
        contract.signed_at.FromDatetime(now)
    bump(contract, now)
    store.update_record(uow.session, contract)
    emit(uow, principal, "contract", "status_changed", contract.id, contract.version,
         ev.ContractChanged(contract=contract, previous_status=previous), now)
    return contract


def list_contracts(session: Session, principal: Principal, opportunity_id: str, status: str, now: datetime) -> list[Contract]:
    stmt = select(contracts.c.data).where(visible_clause(principal, contracts, delegators(session, principal, now)))
    if opportunity_id:
        stmt = stmt.where(contracts.c.opportunity_id == opportunity_id)
    if status:
        stmt = stmt.where(contracts.c.status == status)
    items, _ = store.page(session, Contract, stmt, store.MAX_PAGE, "")
    return items
