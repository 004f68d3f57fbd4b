"""Exact money: Decimal parsed from strings, rounded to the cent half-up, never a float."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from crm.common.v1.types_pb2 import Money
from crmkit import limits
from crmkit.currencies import check_currency as check_currency  # the services' one ISO 4217 check
from crmkit.errors import InvalidArgument

CENT = Decimal("0.01")


def parse(value: str, field: str, *, default: str | None = None, allow_negative: bool = False) -> Decimal:
    text = (value or "").strip().replace(",", "")
    if not text:
        if default is None:
            raise InvalidArgument("a decimal number is required", field=field)
        text = default
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidArgument(f"'{value}' is not a decimal number", field=field) from None
    if not number.is_finite():
        raise InvalidArgument(f"'{value}' is not a finite number", field=field)
    if number < 0 and not allow_negative:
        raise InvalidArgument("must not be negative", field=field)
    return number


def parse_amount(value: str, field: str) -> Decimal:
    """An amount of money as typed (a lead's budget): `parse`, under limits.MAX_AMOUNT."""
    amount = parse(value, field)
    limits.check_amount(field, amount)
    return amount


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)




def money(currency: str, value: Decimal) -> Money:
    return Money(currency_code=currency, amount=str(cents(value)))


def normalize(m: Money, field: str, *, required: bool = False) -> Money:
    """Validated copy with the amount to the cent, or an empty Money when not given."""
    if not m.amount and not m.currency_code:
        if required:
            raise InvalidArgument("an amount is required", field=field)
        return Money()
    amount = parse_amount(m.amount, f"{field}.amount")
    return money(check_currency(m.currency_code, f"{field}.currency_code"), amount)


def to_cents(m: Money) -> int:
    if not m.amount:
        return 0
    return int(cents(Decimal(m.amount)) * 100)


def from_cents(currency: str, value: int) -> Money:
    return money(currency, Decimal(value) / 100)
