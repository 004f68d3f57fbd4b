"""Opaque page tokens over a monotonically growing sequence column, and page sizes."""
from __future__ import annotations

import base64
import json

from crmkit.errors import InvalidArgument

MAX_PAGE = 200
DEFAULT_PAGE = 50
_MAX_SEQ = 2**63 - 1  # the largest value a BIGINT column holds; a larger one is not ours


def page_size(requested: int, *, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    return min(requested, maximum) if requested > 0 else default


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int:
    """The sequence number a token was made from; anything else is the caller's mistake."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        return parse_seq(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise bad_token() from None


def encode_key(*parts: str) -> str:
    """A cursor after a row of a list ordered by text columns (no sequence column to page on)."""
    return base64.urlsafe_b64encode(("k" + json.dumps(list(parts), ensure_ascii=False)).encode()).decode().rstrip("=")


def decode_key(token: str, parts: int) -> tuple[str, ...]:
    """The `parts` strings a key cursor was made from; anything else is the caller's mistake."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        values = json.loads(raw[1:]) if raw.startswith("k") else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_token() from None
    if not (isinstance(values, list) and len(values) == parts and all(isinstance(v, str) for v in values)):
        raise bad_token()
    return tuple(values)


def parse_seq(digits: str) -> int:
    """A sequence number a cursor carries: ASCII digits ("١٢" is digits, not ours) within BIGINT,
    since a larger one overflows the database driver (OverflowError, not a 400). ValueError else."""
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or int(digits) > _MAX_SEQ:
        raise ValueError(digits)
    return int(digits)


def bad_token() -> InvalidArgument:
    return InvalidArgument("page_token is not a token this service issued", field="page_token")
