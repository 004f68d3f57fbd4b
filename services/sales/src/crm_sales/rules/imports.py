"""Lead and product imports, the pure part: one row → a record plus every problem the row has (each
field checked on its own, not only the first). No I/O, no clock.

Nothing the user typed is lost: a phone that does not validate is kept (its digits in `phone`, as
typed in `phone_raw`, `phone_unverified`), an unknown source is mapped, kept in the notes as
"source:<value>" (keep_unknown_values), or the row is refused naming the value."""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from crm.common.v1.imports_pb2 import ColumnMapping
from crm.sales.v1.sales_pb2 import Lead, Product
from crm_sales.rules import leads as lead_rules
from crm_sales.rules import money
from crmkit import limits, picklists
from crmkit.errors import InvalidArgument
from crmkit.imports.jobs import EntityRules
from crmkit.imports.mapping import Cells, Problem, picklist_value

LEAD_TARGETS = (*lead_rules.CSV_FIELDS, "owner_id")
PRODUCT_TARGETS = ("sku", "name", "description", "unit", "active")
LEAD_PICKLISTS = {"source": lead_rules.SOURCES, "industry": picklists.INDUSTRIES}
ENTITIES = {
    "lead": EntityRules("leads", LEAD_TARGETS, ("rep", "manager", "marketing"), LEAD_PICKLISTS),
    "product": EntityRules("products", PRODUCT_TARGETS, ("manager", "finance"), create=False),  # a SKU is unique
}
MAX_PRODUCT_TEXT = {"name": 300, "description": limits.MAX_NOTES, "unit": 30}
_TRUE, _FALSE = ("true", "yes", "1", "是", "y"), ("false", "no", "0", "否", "n")


def _cells(header: Sequence[str], targets: Sequence[str], values: Sequence[str]) -> list[tuple[str, str, str]]:
    """(target, column, value as typed, trimmed) of each mapped, non-blank cell."""
    return [(t, header[i], values[i].strip()) for i, t in enumerate(targets)
            if t and i < len(values) and values[i].strip()]


def build_lead(header: Sequence[str], targets: Sequence[str], values: Sequence[str],
               mapping: ColumnMapping, vocabulary: picklists.Vocabulary = picklists.DEFAULTS) -> tuple[Lead, Cells]:
    """`vocabulary`: the picklists as the administrator has them now (values added, retired)."""
    lead, cells = Lead(), Cells()
    column_of: dict[str, str] = {}
    for target, column, raw in _cells(header, targets, values):
        column_of[target] = column
        if target in LEAD_PICKLISTS:  # a key or either label; any text where the list is not restricted
            value = picklist_value(target, raw, vocabulary.active(target), mapping, cells, column,
                                   named=functools.partial(vocabulary.match, target),
                                   free_text=not vocabulary.restricted(target))
            if value is not None:
                setattr(lead, target, value)
        elif target == "phone":
            _phone(lead, raw, cells, column)
        else:
            setattr(lead, target, raw)
    if cells.kept_tags:
        lead.notes = "\n".join(filter(None, [lead.notes, *cells.kept_tags]))
    # the record-wide rules, each on its own; then the service's normalization as the last word
    checks = {
        "name": lambda: None if lead.name or lead.company else _fail("a lead needs a name or a company", "name"),
        "name_length": lambda: limits.check_length("name", lead.name, 300),
        "company": lambda: limits.check_length("company", lead.company, 300),
        "notes": lambda: limits.check_length("notes", lead.notes, limits.MAX_NOTES),
        "email": lambda: lead_rules.normalize_email(lead),
        "budget": lambda: money.parse_amount(lead.budget, "budget") if lead.budget else None,
        "currency_code": lambda: money.check_currency(lead.currency_code, "currency_code")
        if lead.currency_code else None,
    }
    for check in checks.values():
        try:
            check()
        except InvalidArgument as exc:
            name = exc.field or ""
            cells.problems.append(Problem(name, column_of.get(name, ""), exc.message, getattr(lead, name, "")
                                          if name in LEAD_TARGETS else ""))
    if not cells.problems:
        try:
            lead_rules.normalize(lead, vocabulary)
        except InvalidArgument as exc:
            name = exc.field or ""
            cells.problems.append(Problem(name, column_of.get(name.split(".")[0], ""), exc.message))
    return lead, cells


def _fail(message: str, field: str) -> None:
    raise InvalidArgument(message, field=field)


def _phone(lead: Lead, raw: str, cells: Cells, column: str) -> None:
    try:
        lead.phone = lead_rules.normalize_phone(raw)
    except InvalidArgument as exc:
        digits = re.sub(r"\D", "", raw)
        if not digits:
            cells.problems.append(Problem("phone", column, f"'{raw}' has no digits to keep as a phone number", raw))
            return
        lead.phone = ("+" if raw.startswith("+") else "") + digits
        lead.phone_raw = raw
        lead.phone_unverified = True
        cells.notes.append(Problem("phone", column, f"{exc.message}: kept as typed, unverified", raw))


def lead_identities(lead: Lead) -> list[str]:
    """What makes two leads the same person: their email, their phone (digits for an unverified one)."""
    return [v for v in (lead.email, lead.phone) if v]


def merge_lead(into: Lead, row: Lead) -> list[str]:
    """Fill the existing lead's blank fields from the row (nothing it holds is overwritten); the
    fields filled."""
    filled = []
    for name in lead_rules.CSV_FIELDS:
        if name != "source" and not getattr(into, name) and getattr(row, name):
            setattr(into, name, getattr(row, name))
            filled.append(name)
    if not into.phone and row.phone:
        into.phone_unverified, into.phone_raw = row.phone_unverified, row.phone_raw
    return filled


def build_product(header: Sequence[str], targets: Sequence[str], values: Sequence[str]) -> tuple[Product, Cells]:
    product, cells = Product(active=True), Cells()
    for target, column, raw in _cells(header, targets, values):
        if target == "active":
            lowered = raw.lower()
            if lowered not in (*_TRUE, *_FALSE):
                cells.problems.append(Problem("active", column, "must be true or false", raw))
            product.active = lowered in _TRUE
            continue
        if target == "sku":
            raw = raw.upper()
            if len(raw) > 64 or any(c.isspace() for c in raw):
                cells.problems.append(Problem("sku", column, "at most 64 characters, no spaces", raw))
        elif len(raw) > MAX_PRODUCT_TEXT[target]:
            cells.problems.append(Problem(target, column, f"at most {MAX_PRODUCT_TEXT[target]} characters", raw))
        setattr(product, target, raw)
    if not product.sku and not any(p.field == "sku" for p in cells.problems):
        cells.problems.append(Problem("sku", "", "a product needs a SKU"))
    if not product.name:
        cells.problems.append(Problem("name", "", "a product needs a name"))
    return product, cells


def merge_product(into: Product, row: Product) -> list[str]:
    filled = []
    for name in ("name", "description", "unit"):
        if not getattr(into, name) and getattr(row, name):
            setattr(into, name, getattr(row, name))
            filled.append(name)
    return filled
