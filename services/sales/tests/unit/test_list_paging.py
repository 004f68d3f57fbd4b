"""The approvals inbox and the price books page by cursor: every item once, in order, across pages;
without a page size, the whole list as before paging (up to the largest page)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import Opportunity, PriceBook, Quote, QuoteLine
from crm_sales.usecases import approvals, catalogue, opportunities, quotes
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")


def submitted_quote(sales: Any, n: int) -> Quote:
    opp = sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=NOW, opp=Opportunity(
        name=f"唐山钢铁 {n}", amount=Money(currency_code="CNY", amount="100000"))))
    quote = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW, quote=Quote(
        opportunity_id=opp.id, currency_code="CNY",
        lines=[QuoteLine(name="咨询服务", quantity="1", discount_percent="20",
                         unit_price=Money(currency_code="CNY", amount="500000"))])))
    return sales.write(lambda uow: quotes.submit_quote(uow, principal=REP1, now=NOW, quote_id=quote.id))


def all_pages(fetch: Any, size: int) -> list[list[str]]:
    pages, token = [], ""
    while True:
        items, token = fetch(size, token)
        pages.append([i.id for i in items])
        if not token:
            return pages


def test_the_approvals_waiting_for_me_page_oldest_first(sales: Any) -> None:
    waiting = [submitted_quote(sales, n).approval_id for n in range(5)]

    def fetch(size: int, token: str) -> Any:
        return sales.read(lambda s: approvals.list_approvals(s, principal=MANAGER, now=NOW, quote_id="",
                                                             pending_for_me=True, page_size=size, page_token=token))

    assert all_pages(fetch, 2) == [waiting[0:2], waiting[2:4], waiting[4:]]
    assert all_pages(fetch, 5) == [waiting]
    assert all_pages(fetch, 0) == [waiting]  # an old caller, no page size: everything, no next page
    # the requester's own submissions are not theirs to decide
    mine, _ = sales.read(lambda s: approvals.list_approvals(s, principal=REP1, now=NOW, quote_id="",
                                                            pending_for_me=True))
    assert mine == []
    with pytest.raises(InvalidArgument) as err:
        fetch(2, "not-a-token")
    assert err.value.field == "page_token"


def test_price_books_page_by_id_with_their_filters(sales: Any) -> None:
    books = [sales.write(lambda uow, n=n: catalogue.save_price_book(uow, principal=MANAGER, book=PriceBook(
        name=f"价目表 {n}", currency_code="CNY" if n % 2 == 0 else "USD", tier="standard"))) for n in range(7)]
    cny = sorted(b.id for b in books if b.currency_code == "CNY")

    def fetch(size: int, token: str, currency: str = "CNY") -> Any:
        return sales.read(lambda s: catalogue.list_price_books(s, currency_code=currency, tier="", page_size=size,
                                                               page_token=token))

    assert all_pages(fetch, 3) == [cny[0:3], cny[3:]]
    assert all_pages(fetch, 0) == [cny]
    assert sum(all_pages(lambda size, token: fetch(size, token, ""), 2), []) == sorted(b.id for b in books)
    with pytest.raises(InvalidArgument) as err:
        fetch(3, "czE")  # a sequence cursor is not this list's
    assert err.value.field == "page_token"
