"""A currency typo is refused, naming the field, instead of becoming a currency of its own in reports."""
from __future__ import annotations

import pytest

from crmkit.currencies import check_currency
from crmkit.errors import InvalidArgument


@pytest.mark.parametrize(("typed", "stored"), [("CNY", "CNY"), (" usd ", "USD"), ("jpy", "JPY"), ("HKD", "HKD")])
def test_iso_codes_are_kept_trimmed_and_upper_case(typed: str, stored: str) -> None:
    assert check_currency(typed, "amount.currency_code") == stored


@pytest.mark.parametrize("typed", ["RMB", "ZZZ", "XXX", "", "CN", "CNYY", "人民币"])
def test_other_codes_are_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        check_currency(typed, "amount.currency_code")
    assert e.value.field == "amount.currency_code"
    assert "ISO 4217" in str(e.value)
