"""The quote PDF shows what the rep typed on each line: a customer reading it sees the line's
description under the product, in Chinese too."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import Quote, QuoteLine
from crm_sales.rules import pdf

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)")


def test_a_line_s_description_is_printed_under_its_product(tmp_path: Path) -> None:
    try:
        pdf.font_path()
    except Exception:
        pytest.skip("no CJK font installed")
    quote = Quote(number="Q-2026-000042", version=1, customer_name="海尔集团", currency_code="CNY",
                  tax_rate="0.13", lines=[QuoteLine(
                      name="CRM 企业版", quantity="3", discount_percent="0", description="含上门实施与两天培训",
                      unit_price=Money(currency_code="CNY", amount="100.00"),
                      net=Money(currency_code="CNY", amount="300.00"))])
    path = tmp_path / "q.pdf"
    path.write_bytes(pdf.render(quote))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "CRM 企业版" in text and "含上门实施与两天培训" in text
