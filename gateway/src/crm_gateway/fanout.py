"""One list over several services, newest first: each service is asked for a page at its own
cursor, the answers are merged and one page returned; the page token holds each service's
position (its cursor after the last item taken from it; absent: nothing left there), so a page
never repeats or skips an item whatever the services' clocks. The audit log and import jobs use
it; each says how to ask a service, how its items order and how its cursor after an item is
written."""
from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from crm_gateway.problems import invalid_field

T = TypeVar("T")
TOKEN_PATTERN = "^[A-Za-z0-9_=-]*$"


def encode_positions(cursors: dict[str, str]) -> str:
    """The page token: each service's cursor ("" = from its newest item); "" when none is left."""
    if not cursors:
        return ""
    return base64.urlsafe_b64encode(json.dumps(cursors, sort_keys=True).encode()).decode()


def decode_positions(token: str, services: Sequence[str]) -> dict[str, str]:
    """Each service's cursor from a token this list issued (no token: every service from its start)."""
    if not token:
        return dict.fromkeys(services, "")
    try:
        cursors = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(cursors, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in cursors.items()):
            raise ValueError(token)
    except ValueError:
        raise invalid_field("page_token", "not a token this endpoint issued") from None
    if not set(cursors) <= set(services):
        raise invalid_field("page_token", "issued for other filters (another service)")
    return cursors


def merged_page(services: Sequence[str], size: int, cursors: dict[str, str], *,
                fetch: Callable[[str, str, int], tuple[Sequence[T], str]], key: Callable[[T], Any],
                cursor_after: Callable[[T], str]) -> tuple[list[T], dict[str, str]]:
    """The first `size` items by `key` over every service still at a cursor, and the cursors after
    them. `fetch(service, cursor, size)` → (that service's items in its order, its next token);
    `cursor_after(item)` is the service's cursor continuing after the item. Items with equal keys
    come in the order of `services`."""
    fetched: dict[str, tuple[Sequence[T], str]] = {}
    for name in services:
        if name in cursors:
            fetched[name] = fetch(name, cursors[name], size)
    streams = [[(name, item) for item in items] for name, (items, _) in fetched.items()]
    page = list(heapq.merge(*streams, key=lambda pair: key(pair[1])))[:size]
    taken: dict[str, list[T]] = {name: [] for name in fetched}
    for name, item in page:
        taken[name].append(item)
    after: dict[str, str] = {}
    for name, (items, next_token) in fetched.items():
        if len(taken[name]) < len(items):
            after[name] = cursor_after(taken[name][-1]) if taken[name] else cursors[name]
        elif next_token:
            after[name] = next_token
    return [item for _, item in page], after
