"""How a message's fields behave on writes, as its proto declares them with
`[(crm.common.v1.field_behavior) = OUTPUT_ONLY]` or `IMMUTABLE`: the gateway refuses output-only
fields in a body and documents them read-only, and a service's update takes exactly the patchable
ones, so the two cannot disagree."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from crm.common.v1.options_pb2 import IMMUTABLE, OUTPUT_ONLY, field_behavior

if TYPE_CHECKING:
    from google.protobuf.descriptor_pb2 import FieldOptions
    from google.protobuf.internal.containers import RepeatedScalarFieldContainer
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

# protoc's .pyi declares an extension as a plain FieldDescriptor; `Extensions[...]` wants it typed.
_FIELD_BEHAVIOR = cast("_ExtensionFieldDescriptor[FieldOptions, RepeatedScalarFieldContainer[int]]", field_behavior)


def behaviors(field: FieldDescriptor) -> frozenset[int]:
    return frozenset(field.GetOptions().Extensions[_FIELD_BEHAVIOR])


@cache
def _with(descriptor: Descriptor, behavior: int) -> frozenset[str]:
    return frozenset(f.name for f in descriptor.fields if behavior in behaviors(f))


def output_only(message: type[Message] | Descriptor) -> frozenset[str]:
    return _with(_descriptor(message), OUTPUT_ONLY)


def immutable(message: type[Message] | Descriptor) -> frozenset[str]:
    return _with(_descriptor(message), IMMUTABLE)


@cache
def _patchable(descriptor: Descriptor) -> frozenset[str]:
    fixed = _with(descriptor, OUTPUT_ONLY) | _with(descriptor, IMMUTABLE)
    return frozenset(f.name for f in descriptor.fields if f.name not in fixed)


def patchable(message: type[Message] | Descriptor) -> frozenset[str]:
    """The fields an update mask may name: neither output-only nor immutable."""
    return _patchable(_descriptor(message))


def _descriptor(message: type[Message] | Descriptor) -> Descriptor:
    if isinstance(message, Descriptor):
        return message
    # The C (upb) descriptor passes isinstance(..., Descriptor) at run time; the stubs keep the two apart.
    return cast(Descriptor, message.DESCRIPTOR)
