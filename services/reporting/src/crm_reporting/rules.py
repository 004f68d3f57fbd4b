"""Pure rules of the reports: how amounts are kept exact, and which day filters are accepted.
No database, no network, no clock."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from google.protobuf.message import Message

from crmkit.errors import InvalidArgument

AMOUNT_SCALE = 10_000   # amounts are stored as integer ten-thousandths so sums stay exact in SQL


def amount_units(amount: str) -> int:
    """A money amount as integer ten-thousandths; what is not a finite number counts as 0."""
    try:
        value = Decimal(amount or "0")
    except InvalidOperation:
        return 0
    if not value.is_finite():
        return 0
    return int((value * AMOUNT_SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


def format_amount(units: int) -> str:
    """Ten-thousandths back to a decimal string: at least cents, more digits only when they count."""
    value = Decimal(units).scaleb(-len(str(AMOUNT_SCALE)) + 1)
    cents = value.quantize(Decimal("0.01"))
    return f"{cents if cents == value else value.normalize():f}"


def check_days(request: Message) -> None:
    """`from_day` / `to_day` are compared as strings in SQL, so only YYYY-MM-DD sorts right."""
    for name in ("from_day", "to_day"):
        value = getattr(request, name)
        if value and (len(value) != 10 or value[4] != "-" or value[7] != "-"):
            raise InvalidArgument("use YYYY-MM-DD", field=name)
