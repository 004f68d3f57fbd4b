"""The documented maxima of sales (crmkit.limits) as a user meets them: refused naming the field
before anything is written, and a quote's PDF rendered once per revision, not on every GET."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import Lead, Opportunity, Quote, QuoteLine
from crm_sales.rules import pdf
from crm_sales.tables import leads as leads_table
from crm_sales.usecases import leads, opportunities, quotes
from crmkit import limits
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")


def _opp(sales: Any) -> Opportunity:
    return sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=NOW, opp=Opportunity(
        name="唐山钢铁 MES", amount=Money(currency_code="CNY", amount="100000"))))


def _quote(**fields: Any) -> Quote:
    lines = fields.pop("lines", [QuoteLine(name="咨询服务", quantity="1",
                                           unit_price=Money(currency_code="CNY", amount="5000"))])
    return Quote(currency_code="CNY", lines=lines, **fields)


def test_a_quote_with_notes_longer_than_documented_is_refused_and_not_stored(sales: Any) -> None:
    opp = _opp(sales)
    for field, quote in (
        ("notes", _quote(opportunity_id=opp.id, notes="备" * 300_000)),  # rendered 8 s on every GET
        ("special_terms", _quote(opportunity_id=opp.id, special_terms="x" * (limits.MAX_NOTES + 1))),
        ("lines", _quote(opportunity_id=opp.id, lines=[QuoteLine(name="行", quantity="1", unit_price=Money(
            currency_code="CNY", amount="1"))] * (limits.MAX_QUOTE_LINES + 1))),
        ("lines[0].name", _quote(opportunity_id=opp.id, lines=[QuoteLine(name="长" * 501, quantity="1")])),
    ):
        with pytest.raises(InvalidArgument) as refused:
            sales.write(lambda uow, q=quote: quotes.create_quote(uow, principal=REP1, now=NOW, quote=q))
        assert refused.value.field == field
    listed, _ = sales.read(lambda s: quotes.list_quotes(s, principal=REP1, now=NOW, opportunity_id=opp.id,
                                                        status="", page_size=10, page_token=""))
    assert listed == []
    at_limit = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW, quote=_quote(
        opportunity_id=opp.id, notes="备" * limits.MAX_NOTES)))
    assert len(at_limit.notes) == limits.MAX_NOTES


def test_a_revision_is_held_to_the_same_maxima(sales: Any) -> None:
    opp = _opp(sales)
    first = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW,
                                                        quote=_quote(opportunity_id=opp.id)))
    with pytest.raises(InvalidArgument) as refused:
        sales.write(lambda uow: quotes.revise_quote(uow, principal=REP1, now=NOW, quote_id=first.id,
                                                    changes=Quote(notes="x" * (limits.MAX_NOTES + 1)),
                                                    mask=["notes"]))
    assert refused.value.field == "notes"


def test_lead_and_opportunity_texts_have_documented_maxima(sales: Any) -> None:
    with pytest.raises(InvalidArgument) as refused:
        sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
            name="李雷", notes="x" * (limits.MAX_NOTES + 1))))
    assert refused.value.field == "notes"
    with pytest.raises(InvalidArgument) as refused:
        sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(
            name="李雷", title="经" * (limits.MAX_SHORT_TEXT + 1))))
    assert refused.value.field == "title"
    with pytest.raises(InvalidArgument) as refused:
        sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=NOW, opp=Opportunity(
            name="大单", description="x" * (limits.MAX_NOTES + 1))))
    assert refused.value.field == "description"


def test_an_import_over_the_row_limit_is_refused_before_any_row_is_written(sales: Any) -> None:
    rows = "\n".join(f"李雷{i},公司{i}" for i in range(limits.MAX_IMPORT_ROWS + 1))
    with pytest.raises(InvalidArgument) as refused:
        sales.write(lambda uow: leads.import_leads(uow, principal=MANAGER, now=NOW, text=f"name,company\n{rows}",
                                                   default_source=""))
    assert refused.value.field == "csv" and str(limits.MAX_IMPORT_ROWS) in refused.value.message
    assert sales.read(lambda s: s.execute(select(func.count()).select_from(leads_table)).scalar_one()) == 0
    done = sales.write(lambda uow: leads.import_leads(uow, principal=MANAGER, now=NOW,
                                                      text="name,company\n李雷,公司\n韩梅梅,公司", default_source=""))
    assert done.created == 2


def test_a_quote_pdf_is_rendered_once_per_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []

    def fake_render(quote: Quote, template: pdf.Template = pdf.DEFAULT_TEMPLATE) -> bytes:
        rendered.append(quote.id)
        return f"%PDF {quote.id} {quote.row_version}".encode()

    monkeypatch.setattr(pdf, "render", fake_render)
    cache = pdf.RenderCache(max_bytes=64)
    quote = Quote(id="q-1", number="Q-1", version=1, row_version=1, notes="备注")
    assert cache.render(quote) == cache.render(quote) == b"%PDF q-1 1"
    assert rendered == ["q-1"]  # the second GET was served from the cache
    quote.row_version, quote.status = 2, "sent"
    assert cache.render(quote) == b"%PDF q-1 2" and rendered == ["q-1", "q-1"]  # a change renders anew
    for i in range(10):  # more than 64 bytes of other quotes: the oldest leave, the bound holds
        cache.render(Quote(id=f"other-{i}"))
    assert sum(len(v) for v in cache._items.values()) <= 64


def test_getting_a_quote_pdf_twice_renders_it_once(sales: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []

    def fake_render(quote: Quote, template: pdf.Template = pdf.DEFAULT_TEMPLATE) -> bytes:
        rendered.append(quote.id)
        return b"%PDF-1.4 " + quote.number.encode()

    monkeypatch.setattr(pdf, "render", fake_render)
    monkeypatch.setattr(pdf, "CACHE", pdf.RenderCache())
    opp = _opp(sales)
    quote = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW, quote=_quote(
        opportunity_id=opp.id, notes="备" * limits.MAX_NOTES)))
    first = sales.read(lambda s: quotes.render_pdf(s, principal=REP1, now=NOW, quote_id=quote.id))
    again = sales.read(lambda s: quotes.render_pdf(s, principal=REP1, now=NOW, quote_id=quote.id))
    assert first == again and first.content.startswith(b"%PDF") and rendered == [quote.id]


def test_an_amount_reporting_could_not_count_is_refused_naming_it(sales: Any) -> None:
    # 15 digits pass the API's pattern, but a trillion or more overflows reporting's 64-bit sums:
    # the deal would be parked there and never counted
    for opp, field in ((Opportunity(name="巨额", amount=Money(currency_code="CNY", amount="999999999999999")), "amount.amount"),
                       (Opportunity(name="巨额", budget=Money(currency_code="CNY", amount="1000000000000")), "budget.amount")):
        with pytest.raises(InvalidArgument) as refused:
            sales.write(lambda uow, o=opp: opportunities.create(uow, principal=REP1, now=NOW, opp=o))
        assert refused.value.field == field and "less than 1,000,000,000,000" in refused.value.message
    with pytest.raises(InvalidArgument) as refused:
        sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="王", budget="1e13")))
    assert refused.value.field == "budget"
    kept = sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=NOW, opp=Opportunity(
        name="大单", amount=Money(currency_code="CNY", amount="999999999999.99"))))
    assert kept.amount.amount == "999999999999.99"
