"""Pure rules of the reports: how amounts are kept exact, which day filters are accepted, and the
campaign figures (weeks, rates, ROI, a campaign's currency, first and last touch). No database, no
network, no clock."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from google.protobuf.message import Message

from crmkit.errors import InvalidArgument

AMOUNT_SCALE = 10_000   # amounts are stored as integer ten-thousandths so sums stay exact in SQL
_SCALE_DIGITS = len(str(AMOUNT_SCALE)) - 1
MAX_UNITS = 2**63 - 1    # what an amount column (BIGINT, SQLite's INTEGER) holds


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
    """Ten-thousandths back to a decimal string: at least cents, more digits only when they count.
    Integer arithmetic: a report formats a few numbers per row, and Decimal was most of its cost."""
    whole, fraction = divmod(abs(units), AMOUNT_SCALE)
    digits = f"{fraction:0{_SCALE_DIGITS}d}"
    return f"{'-' if units < 0 else ''}{whole}.{digits[:2]}{digits[2:].rstrip('0')}"


def check_days(request: Message) -> None:
    """`from_day` / `to_day` are compared as strings in SQL, so only YYYY-MM-DD sorts right."""
    for name in ("from_day", "to_day"):
        value = getattr(request, name)
        if value and (len(value) != 10 or value[4] != "-" or value[7] != "-"):
            raise InvalidArgument("use YYYY-MM-DD", field=name)


# -- campaigns -----------------------------------------------------------------------------------

FINISHED_WAVES = ("completed", "cancelled")   # a wave's sent / delivered counts are final


def week_of(day: str) -> str:
    """The Monday (YYYY-MM-DD) of the ISO week holding `day`; "" for ""."""
    if not day:
        return ""
    d = date.fromisoformat(day)
    return (d - timedelta(days=d.weekday())).isoformat()


def rate(part: int, whole: int) -> float | None:
    """part / whole, rounded to 4 places; None (null, not 0) when there is no whole."""
    return round(part / whole, 4) if whole else None


def roi(revenue_units: int, cost_units: int) -> float | None:
    """(revenue - cost) / cost, rounded to 4 places; None when nothing was spent (an honest null:
    infinitely good and undefined are not numbers to sort by)."""
    if cost_units <= 0:
        return None
    return float(round((Decimal(revenue_units) - cost_units) / cost_units, 4))


def campaign_currency(cost_currency: str, budget_currency: str, deal_currencies: Iterable[str]) -> str:
    """Where a campaign's money is counted: its actual cost's currency, else its budget's, else the one
    currency of its attributed deals ("" when they are in several: none is picked at random)."""
    if cost_currency or budget_currency:
        return cost_currency or budget_currency
    found = {c for c in deal_currencies if c}
    return found.pop() if len(found) == 1 else ""


@dataclass(frozen=True, order=True)
class Touch:
    """One interaction of a person with a campaign; ordered by time, then id."""

    at: datetime
    touch_id: str
    campaign_id: str


def first_and_last(touches: Iterable[Touch], closed_at: datetime | None) -> tuple[str, str]:
    """The campaigns of the first and of the last touch up to the deal's close (touches after it did
    not win it). Equal times are ordered by touch id, so any order of arrival gives one answer."""
    ordered = sorted(t for t in touches if closed_at is None or t.at <= closed_at)
    if not ordered:
        return "", ""
    return ordered[0].campaign_id, ordered[-1].campaign_id
