"""Pure: the periods an instant or a day falls in, as the read models keep them (UTC days
YYYY-MM-DD, the Monday of the ISO week, YYYY-Qn quarters) and the quarter arithmetic forecasts use."""
from __future__ import annotations

from datetime import date, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm_reporting.rules import week_of


def quarter_of(day: str) -> str:
    """YYYY-Qn of a YYYY-MM-DD (or YYYY-MM) day; "" for ""."""
    if not day:
        return ""
    return f"{day[:4]}-Q{(int(day[5:7]) - 1) // 3 + 1}"


def day_of(stamp: Timestamp) -> str:
    """The UTC day of a timestamp; "" when it is unset."""
    if not stamp.seconds and not stamp.nanos:
        return ""
    return stamp.ToDatetime().date().isoformat()


def grains(prefix: str, day: str) -> dict[str, str]:
    """{prefix_day, prefix_week, prefix_quarter} of `day` (all "" for "")."""
    valid = _valid_day(day)
    return {f"{prefix}_day": valid, f"{prefix}_week": week_of(valid), f"{prefix}_quarter": quarter_of(valid)}


def _valid_day(day: str) -> str:
    try:
        return date.fromisoformat(day).isoformat() if day else ""
    except ValueError:
        return ""


def days_between(start: str, end: str) -> int | None:
    if not start or not end:
        return None
    return max(0, (date.fromisoformat(end) - date.fromisoformat(start)).days)


def next_quarter(now: datetime) -> str:
    year, q = now.year, (now.month - 1) // 3 + 1
    return f"{year + 1}-Q1" if q == 4 else f"{year}-Q{q + 1}"


def shift_quarter(quarter: str, by: int) -> str:
    """YYYY-Qn moved by `by` quarters."""
    index = int(quarter[:4]) * 4 + int(quarter[6]) - 1 + by
    return f"{index // 4:04d}-Q{index % 4 + 1}"    # YYYY, as the read models keep it (0001-Q1 - 4 = 0000-Q1)
