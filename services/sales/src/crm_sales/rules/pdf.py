"""Quotes rendered to PDF from a template. Chinese text needs a CJK font embedded: we look in
SALES_PDF_FONT, then the usual system locations (fonts-wqy-microhei, fonts-noto-cjk). Without
one the render fails loudly rather than printing empty boxes."""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from crm.sales.v1.sales_pb2 import Quote
from crmkit.errors import FailedPrecondition

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


@lru_cache(maxsize=1)
def font_path() -> Path:
    configured = os.environ.get("SALES_PDF_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FailedPrecondition("no CJK font for quote PDFs: install fonts-wqy-microhei or set SALES_PDF_FONT")


@dataclass(frozen=True)
class Template:
    """The quote layout; a company-specific template changes these texts, not the code."""

    company: str = "枢纽CRM示例公司 Shuniu Demo Co., Ltd."
    title: str = "报价单 QUOTATION"
    footer: str = "本报价单经审批后生效。This quotation is valid once approved."
    headers: tuple[str, ...] = ("产品 Product", "数量 Qty", "单价 Unit price", "折扣 Disc.", "金额 Amount")
    widths: tuple[int, ...] = (70, 20, 35, 25, 40)


DEFAULT_TEMPLATE = Template()


def render(quote: Quote, template: Template = DEFAULT_TEMPLATE) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"{quote.number} v{quote.version}")
    pdf.set_creator("Shuniu CRM")
    pdf.add_font("cjk", "", str(font_path()))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 10, template.title, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 6, template.company, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.ln(4)
    for label, value in (
        ("报价单号 Quote no.", f"{quote.number}  (v{quote.version})"),
        ("客户 Customer", quote.customer_name),
        ("币种 Currency", quote.currency_code),
        ("有效期至 Valid until", quote.valid_until or "-"),
    ):
        pdf.cell(45, 6, label)
        pdf.cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_fill_color(230, 236, 245)
    for header, width in zip(template.headers, template.widths, strict=True):
        pdf.cell(width, 7, header, border=1, fill=True, align="C")
    pdf.ln()
    for line in quote.lines:
        cells = (line.name, line.quantity, line.unit_price.amount, f"{line.discount_percent}%", line.net.amount)
        for i, (text, width) in enumerate(zip(cells, template.widths, strict=True)):
            pdf.cell(width, 7, _fit(pdf, text, width), border=1, align="L" if i == 0 else "R")
        pdf.ln()
        if line.description:  # what the rep wrote about the line is part of the offer
            pdf.set_font("cjk", size=8)
            pdf.multi_cell(sum(template.widths), 5, line.description, border=1, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("cjk", size=10)
    pdf.ln(2)
    for label, amount in (
        ("小计 Subtotal", quote.subtotal.amount),
        ("折扣 Discount", f"-{quote.discount_total.amount}"),
        (f"税额 Tax ({_percent(quote.tax_rate)})", quote.tax_total.amount),
        ("总计 Total", f"{quote.total.amount} {quote.currency_code}"),
    ):
        pdf.cell(sum(template.widths[:-1]), 7, label, align="R")
        pdf.cell(template.widths[-1], 7, amount, border=1, align="R", new_x="LMARGIN", new_y="NEXT")
    if quote.special_terms:
        pdf.ln(3)
        pdf.multi_cell(0, 6, f"特别条款 Special terms: {quote.special_terms}")
    if quote.notes:
        pdf.ln(1)
        pdf.multi_cell(0, 6, f"备注 Notes: {quote.notes}")
    pdf.ln(4)
    pdf.set_font("cjk", size=8)
    pdf.multi_cell(0, 5, template.footer)
    return bytes(pdf.output())


class RenderCache:
    """Rendered PDFs by quote id and content: a quote (one revision in one state) is rendered
    once, not on every GET. Keyed on a digest of the whole record, so any change renders anew and
    nothing needs invalidating; bounded by total bytes, least recently used out first."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.renders = 0  # how many times a PDF was actually rendered (for tests and curiosity)

    def render(self, quote: Quote, template: Template = DEFAULT_TEMPLATE) -> bytes:
        key = (quote.id, hashlib.sha256(quote.SerializeToString(deterministic=True)
                                        + repr(template).encode()).digest())
        with self._lock:
            cached = self._items.get(key)
            if cached is not None:
                self._items.move_to_end(key)
                return cached
        content = render(quote, template)  # outside the lock: renders of different quotes overlap
        with self._lock:
            self.renders += 1
            if key not in self._items and len(content) <= self.max_bytes:
                self._items[key] = content
                self._size += len(content)
                while self._size > self.max_bytes:
                    _, dropped = self._items.popitem(last=False)
                    self._size -= len(dropped)
        return content


CACHE = RenderCache()


def render_cached(quote: Quote) -> bytes:
    return CACHE.render(quote)


def _percent(rate: str) -> str:
    from decimal import Decimal

    return f"{(Decimal(rate or '0') * 100).normalize():f}%"


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Shorten text that would overflow its cell."""
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"
