"""The contract status machine and its dates."""
from __future__ import annotations

from crmkit.errors import FailedPrecondition, InvalidArgument
from crmkit.records import check_date

STATUSES = {"draft": ("signed", "terminated"), "signed": ("active", "terminated"),
            "active": ("expired", "terminated"), "expired": (), "terminated": ()}


def check_period(start: str, end: str) -> tuple[str, str]:
    start, end = check_date(start, "start_date"), check_date(end, "end_date")
    if start and end and end < start:
        raise InvalidArgument("the contract ends before it starts", field="end_date")
    return start, end


def check_status_change(current: str, status: str) -> None:
    if status not in STATUSES:
        raise InvalidArgument(f"must be one of {', '.join(STATUSES)}", field="status")
    if status not in STATUSES[current]:
        raise FailedPrecondition(f"a {current} contract cannot become {status}", field="status")
