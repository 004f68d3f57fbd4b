"""Quote arithmetic and numbering. Pure and exact.

Per line: gross = quantity × unit price (to the cent), line discount = gross × line % (to the
cent), net = gross − discount. Then the order discount applies to the sum of nets (to the
cent); tax = (subtotal − all discounts) × tax rate (to the cent); total = taxable + tax.
Rounding per line is what a customer can re-add on paper: the printed lines sum to the total."""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import PriceBook, Product, Quote
from crm_sales.rules import money as m
from crmkit import limits
from crmkit.errors import FailedPrecondition, InvalidArgument

HUNDRED = Decimal(100)
MAX_LINES = limits.MAX_QUOTE_LINES
LONG_TEXTS = {"notes": limits.MAX_NOTES, "special_terms": limits.MAX_NOTES}


def check_size(quote: Quote) -> None:
    """The documented maxima, before any pricing: the PDF of a quote renders in well under a
    second at these sizes (300k characters of notes took 8 s)."""
    limits.check_count("lines", quote.lines, MAX_LINES)
    limits.check_texts(quote, LONG_TEXTS)
    for i, line in enumerate(quote.lines):
        limits.check_texts(line, {"description": limits.MAX_NOTES}, prefix=f"lines[{i}].")


def _percent(value: str, field: str) -> Decimal:
    pct = m.parse(value, field, default="0")
    if pct > HUNDRED:
        raise InvalidArgument("a discount is at most 100 percent", field=field)
    return pct


def price_lines(quote: Quote, products: Mapping[str, Product], book: PriceBook | None) -> None:
    """Fill sku, name and unit price of each line from the catalogue and price book."""
    prices: dict[str, Money] = {e.product_id: e.unit_price for e in book.entries} if book else {}
    for i, line in enumerate(quote.lines):
        if line.product_id:
            product = products.get(line.product_id)
            if product is None:
                raise InvalidArgument(f"no product {line.product_id}", field=f"lines[{i}].product_id")
            if not product.active:
                raise FailedPrecondition(f"product {product.sku} is no longer sold", field=f"lines[{i}].product_id")
            line.sku = line.sku or product.sku
            line.name = line.name or product.name
            if not line.unit_price.amount:
                if line.product_id not in prices:
                    raise FailedPrecondition(
                        f"product {product.sku} has no price in price book {book.name if book else '(none)'}",
                        field=f"lines[{i}].unit_price",
                    )
                line.unit_price.CopyFrom(prices[line.product_id])
        if not line.name:
            raise InvalidArgument("a line needs a product or a name", field=f"lines[{i}].name")
        if not line.unit_price.amount:
            raise InvalidArgument("a line needs a unit price", field=f"lines[{i}].unit_price")


def compute_totals(quote: Quote) -> None:
    """Validate and compute every amount of the quote in place."""
    currency = m.check_currency(quote.currency_code, "currency_code")
    quote.currency_code = currency
    if not quote.lines:
        raise InvalidArgument("a quote needs at least one line", field="lines")
    if len(quote.lines) > MAX_LINES:
        raise InvalidArgument(f"at most {MAX_LINES} lines", field="lines")
    subtotal = Decimal(0)
    line_discounts = Decimal(0)
    for i, line in enumerate(quote.lines):
        quantity = m.parse(line.quantity, f"lines[{i}].quantity")
        if quantity <= 0:
            raise InvalidArgument("quantity must be positive", field=f"lines[{i}].quantity")
        if line.unit_price.currency_code and line.unit_price.currency_code != currency:
            raise InvalidArgument(f"the quote is in {currency}, this price is in {line.unit_price.currency_code}",
                                  field=f"lines[{i}].unit_price.currency_code")
        price = m.parse(line.unit_price.amount, f"lines[{i}].unit_price.amount")
        pct = _percent(line.discount_percent, f"lines[{i}].discount_percent")
        gross = m.cents(quantity * price)
        discount = m.cents(gross * pct / HUNDRED)
        line.quantity = str(quantity)
        line.unit_price.CopyFrom(m.money(currency, price))
        line.discount_percent = str(pct)
        line.gross.CopyFrom(m.money(currency, gross))
        line.discount.CopyFrom(m.money(currency, discount))
        line.net.CopyFrom(m.money(currency, gross - discount))
        subtotal += gross
        line_discounts += discount
    order_pct = _percent(quote.discount_percent, "discount_percent")
    order_discount = m.cents((subtotal - line_discounts) * order_pct / HUNDRED)
    discount_total = line_discounts + order_discount
    rate = m.parse(quote.tax_rate, "tax_rate", default="0")
    if rate >= 1:
        raise InvalidArgument("a tax rate is a fraction, e.g. 0.13 for 13%", field="tax_rate")
    taxable = subtotal - discount_total
    tax = m.cents(taxable * rate)
    quote.discount_percent = str(order_pct)
    quote.tax_rate = str(rate)
    quote.subtotal.CopyFrom(m.money(currency, subtotal))
    quote.discount_total.CopyFrom(m.money(currency, discount_total))
    quote.tax_total.CopyFrom(m.money(currency, tax))
    quote.total.CopyFrom(m.money(currency, taxable + tax))
    effective = discount_total / subtotal * HUNDRED if subtotal else Decimal(0)
    quote.effective_discount_percent = str(m.cents(effective))


def quote_number(year: int, sequence: int) -> str:
    return f"Q-{year}-{sequence:06d}"


def contract_number(year: int, sequence: int) -> str:
    return f"C-{year}-{sequence:06d}"
