"""Shared picklists, declared once in proto/crm/common/v1/picklists.proto. A string field holding a
picklist key says so with `[(crm.common.v1.picklist) = "crm.common.v1.CustomerSource"]`; the
services check values with `check()` and the gateway lists `keys_of(field)` as the field's enum, so
the two cannot disagree. A key is the enum value's name without the enum's prefix, lower-cased."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, cast

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor

from crm.common.v1 import picklists_pb2
from crm.common.v1.options_pb2 import picklist
from crmkit.errors import InvalidArgument

if TYPE_CHECKING:
    from google.protobuf.descriptor_pb2 import FieldOptions
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

# protoc's .pyi declares an extension as a plain FieldDescriptor; `Extensions[...]` wants it typed.
_PICKLIST = cast("_ExtensionFieldDescriptor[FieldOptions, str]", picklist)


def _prefix(enum: EnumDescriptor) -> str:
    # CustomerSource → CUSTOMER_SOURCE_
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(enum.name)).upper() + "_"


@cache
def keys(enum_full_name: str) -> tuple[str, ...]:
    """The keys of a picklist enum, in declaration order, without its UNSPECIFIED value."""
    enum = descriptor_pool.Default().FindEnumTypeByName(enum_full_name)
    prefix = _prefix(enum)
    return tuple(v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0)


def keys_of(field: FieldDescriptor) -> tuple[str, ...] | None:
    """The keys a field may hold when its proto marks it as a picklist, else None."""
    name = field.GetOptions().Extensions[_PICKLIST]
    return keys(name) if name else None


SOURCES: tuple[str, ...] = keys(picklists_pb2.DESCRIPTOR.enum_types_by_name["CustomerSource"].full_name)


def check(value: str, allowed: tuple[str, ...], field: str) -> None:
    """Blank is "not given"; anything else must be a key, as typed (no case folding, no mapping)."""
    if value and value not in allowed:
        raise InvalidArgument(f"must be one of {', '.join(allowed)}", field=field)
