"""Naming a message's fields in error messages."""
from __future__ import annotations

from collections.abc import Collection

from google.protobuf.message import Message


def listed(message: type[Message], names: Collection[str]) -> str:
    """`names` in the message's field order: a frozenset (crmkit.fields) has no stable order, and
    an error message should read the same on every call."""
    return ", ".join(f.name for f in message.DESCRIPTOR.fields if f.name in names)
