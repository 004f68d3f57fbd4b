"""Highlights computed from the query plan, for engines without a highlighter
that understands our analysis (the embedded one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from crmkit.search.analysis import (
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    QueryPlan,
    apply_highlight,
    highlight_spans,
    normalize_email,
    phone_index_keys,
)
from crmkit.search.port import FieldKind, IndexSchema, values


def _whole(value: str) -> str:
    return f"{HIGHLIGHT_PRE}{escape(value)}{HIGHLIGHT_POST}"


def document_highlights(
    schema: IndexSchema, plan: QueryPlan, document: Mapping[str, Any], stem: Callable[[str], str]
) -> dict[str, list[str]]:
    """Field -> highlighted fragments, one per matching value."""
    out: dict[str, list[str]] = {}
    for name, kind in schema.fields.items():
        fragments: list[str] = []
        for value in values(document.get(name)):
            if kind == FieldKind.TEXT or (kind == FieldKind.EMAIL and plan.words):
                spans = highlight_spans(value, plan, stem)
                if spans:
                    fragments.append(apply_highlight(value, spans))
            elif kind == FieldKind.PHONE and plan.phone_keys:
                keys = phone_index_keys(value, schema.phone_region)
                if any(k.startswith(q) for k in keys for q in plan.phone_keys):
                    fragments.append(_whole(value))
            elif kind == FieldKind.EMAIL and plan.email and normalize_email(value).startswith(plan.email):
                fragments.append(_whole(value))
        if fragments:
            out[name] = fragments
    return out
