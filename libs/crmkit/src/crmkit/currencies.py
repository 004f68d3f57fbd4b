"""ISO 4217 currency codes, from pycountry's table: a typo such as "RMB" or "ZZZ" is refused
rather than becoming a currency of its own in every total and report."""
from __future__ import annotations

import pycountry

from crmkit.errors import InvalidArgument

# "no currency" and the code reserved for testing are ISO codes, but never a price
_NOT_MONEY = frozenset({"XXX", "XTS"})
CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_MONEY


def check_currency(code: str, field: str) -> str:
    """The code, trimmed and upper-cased, or InvalidArgument naming the field."""
    clean = (code or "").strip().upper()
    if clean not in CODES:
        hint = " (the yuan is CNY)" if clean == "RMB" else ""
        raise InvalidArgument(f"'{code}' is not an ISO 4217 currency code, e.g. CNY{hint}", field=field)
    return clean
