"""JSON schemas derived from the proto message descriptors, and a validator for them.

One registry feeds both the request validation and the OpenAPI document, so the documented
shapes are the enforced ones. Only the JSON Schema subset generated here is validated (type,
properties, additionalProperties, items, $ref, enum, format date-time, minimum/maximum,
minItems, required); no third-party validator is needed for that.

Mapping: string → string, bool → boolean, 32/64-bit ints → integer (64-bit ints are written as
JSON numbers while they are exact), double → number, repeated → array, map<string, V> → object
of V, nested message → $ref to its own schema, Timestamp → RFC 3339 string, Struct → free object.
Every object has additionalProperties false.

Which fields a client may send comes from the proto (`crmkit.fields`): a message's schema marks
its OUTPUT_ONLY fields readOnly; `input()` leaves them out of a request body and `patch()` keeps
only the patchable ones, and a body naming a left-out field gets "is read-only" for it."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1.options_pb2 import OUTPUT_ONLY
from crm_gateway.problems import FieldError, invalid, invalid_field
from crmkit.fields import behaviors, output_only, patchable

JsonSchema = dict[str, Any]
REF_PREFIX = "#/components/schemas/"
MAX_ERRORS = 50

_F = FieldDescriptor
_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_INT64 = {"type": "integer", "format": "int64", "minimum": -(2**63), "maximum": 2**63 - 1}
_UINT32 = {"type": "integer", "format": "uint32", "minimum": 0, "maximum": 2**32 - 1}
_UINT64 = {"type": "integer", "format": "uint64", "minimum": 0, "maximum": 2**64 - 1}
_SCALARS: dict[int, JsonSchema] = {
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_INT32: _INT32, _F.TYPE_SINT32: _INT32, _F.TYPE_SFIXED32: _INT32,
    _F.TYPE_INT64: _INT64, _F.TYPE_SINT64: _INT64, _F.TYPE_SFIXED64: _INT64,
    _F.TYPE_UINT32: _UINT32, _F.TYPE_FIXED32: _UINT32,
    _F.TYPE_UINT64: _UINT64, _F.TYPE_FIXED64: _UINT64,
    _F.TYPE_DOUBLE: {"type": "number"}, _F.TYPE_FLOAT: {"type": "number"},
    _F.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: dict[str, JsonSchema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Struct": {"type": "object", "description": "free-form JSON object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.FieldMask": {"type": "string"},
}


MessageType = type[Message] | Descriptor


def ref(name: str) -> JsonSchema:
    return {"$ref": REF_PREFIX + name}


def descriptor_of(message: MessageType) -> Descriptor:
    # The stubs type DESCRIPTOR as the pure-Python or the upb class; both have what is read here.
    return message if isinstance(message, Descriptor) else cast(Descriptor, message.DESCRIPTOR)


class SchemaRegistry:
    """Named component schemas. `message()` walks a descriptor and registers it (and every
    nested message) once; asking again for the same name returns the same $ref."""

    def __init__(self) -> None:
        self.schemas: dict[str, JsonSchema] = {}
        self.read_only: dict[str, frozenset[str]] = {}  # input schema name → rejected fields
        # proto full name → schema name, for two packages' messages of the same short name
        self.names: dict[str, str] = {}
        self._origin: dict[str, str] = {}

    def message(
        self, message: MessageType, *, name: str | None = None, exclude: Iterable[str] = (),
        inputs: bool = False,
    ) -> JsonSchema:
        """The message's schema (registered once under `name`), without the `exclude`d fields;
        with `inputs`, nested messages are their `input()` shapes."""
        descriptor = descriptor_of(message)
        name = name or self.names.get(descriptor.full_name, descriptor.name)
        excluded = frozenset(exclude) & frozenset(f.name for f in descriptor.fields)
        origin = f"{descriptor.full_name}-{sorted(excluded)}{'-input' if inputs else ''}"
        if name in self.schemas:
            if self._origin[name] != origin:
                raise ValueError(f"schema name {name!r} used for {origin} and {self._origin[name]}")
            return ref(name)
        self._origin[name] = origin
        self.schemas[name] = {}  # placeholder so recursive messages terminate
        properties: JsonSchema = {}
        for f in descriptor.fields:
            if f.name not in excluded:
                properties[f.name] = self._field(f, inputs)
                if OUTPUT_ONLY in behaviors(f):
                    properties[f.name]["readOnly"] = True
        schema: JsonSchema = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if excluded:
            self.read_only[name] = excluded
            schema["description"] = (
                f"{descriptor.name} as sent by a client; the server sets "
                + ", ".join(sorted(excluded))
            )
        self.schemas[name] = schema
        return ref(name)

    def input(
        self, message: MessageType, name: str | None = None, *, exclude: Iterable[str] = (),
        required: Iterable[str] = (),
    ) -> JsonSchema:
        """The message as a client sends it: without its output-only fields, nor the `exclude`d
        ones (those the URL or a header gives), nested messages likewise."""
        descriptor = descriptor_of(message)
        name = name or f"{descriptor.name}Input"
        schema = self.message(descriptor, name=name, exclude=output_only(descriptor) | set(exclude), inputs=True)
        self._require(name, required)
        return schema

    def patch(self, message: MessageType, name: str) -> JsonSchema:
        """The body of an update: only the fields an update mask may name (`crmkit.fields.patchable`)."""
        return self.only(message, name, patchable(descriptor_of(message)))

    def only(
        self, message: MessageType, name: str, keep: Iterable[str], *, required: Iterable[str] = (),
    ) -> JsonSchema:
        """The message restricted to `keep` (e.g. the sections of the settings one route replaces)."""
        descriptor = descriptor_of(message)
        dropped = {f.name for f in descriptor.fields} - set(keep)
        schema = self.message(descriptor, name=name, exclude=dropped, inputs=True)
        self._require(name, required)
        return schema

    def _require(self, name: str, required: Iterable[str]) -> None:
        names = list(required)
        if names:
            unknown = set(names) - set(self.schemas[name]["properties"])
            if unknown:
                raise ValueError(f"{name}: required {sorted(unknown)} are not in the schema")
            self.schemas[name]["required"] = names

    def add(self, name: str, schema: JsonSchema) -> JsonSchema:
        if name in self.schemas and self.schemas[name] != schema:
            raise ValueError(f"schema name {name!r} registered twice")
        self.schemas[name] = schema
        return ref(name)

    def page(self, item: JsonSchema, name: str, *, paged: bool = True) -> JsonSchema:
        properties: JsonSchema = {"items": {"type": "array", "items": item}}
        if paged:
            properties["next_page_token"] = {
                "type": "string", "description": "pass as page_token; empty on the last page",
            }
        return self.add(name, {
            "type": "object", "properties": properties,
            "required": sorted(properties), "additionalProperties": False,
        })

    def _field(self, field: FieldDescriptor, inputs: bool) -> JsonSchema:
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": self._single(entry.fields_by_name["value"], inputs)}
        single = self._single(field, inputs)
        return {"type": "array", "items": single} if field.is_repeated else single

    def _single(self, field: FieldDescriptor, inputs: bool) -> JsonSchema:
        nested, enum = field.message_type, field.enum_type
        if nested is not None:
            known = _WELL_KNOWN.get(nested.full_name)
            if known is not None:
                return dict(known)
            if inputs and output_only(nested):
                return self.input(nested)
            return self.message(nested)
        if enum is not None:
            return {"type": "string", "enum": [v.name for v in enum.values]}
        return dict(_SCALARS[field.type])

    # -- validation -----------------------------------------------------------------------

    def validate(self, value: Any, schema: JsonSchema) -> list[FieldError]:
        errors: list[FieldError] = []
        self._check(value, schema, "", errors, frozenset())
        return errors

    def _check(
        self, value: Any, schema: JsonSchema, path: str, errors: list[FieldError],
        read_only: frozenset[str],
    ) -> None:
        if len(errors) >= MAX_ERRORS:
            return
        target = schema.get("$ref")
        if target:
            name = target.removeprefix(REF_PREFIX)
            schema, read_only = self.schemas[name], self.read_only.get(name, frozenset())
        where = path or "body"
        expected = schema.get("type")
        if expected is not None and not _is_type(value, expected):
            if value is None:
                message = 'null is not allowed; send "", 0, false, [] or {} to clear a field'
            else:
                message = f"expected {_article(expected)}, got {_json_type(value)}"
            errors.append(FieldError(where, message))
            return
        if isinstance(value, dict):
            self._check_object(value, schema, path, errors, read_only)
        elif isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                errors.append(FieldError(where, f"needs at least {schema['minItems']} item(s)"))
            items = schema.get("items")
            if items is not None:
                for i, item in enumerate(value):
                    self._check(item, items, f"{path}[{i}]", errors, frozenset())
        elif isinstance(value, str):
            if "enum" in schema and value not in schema["enum"]:
                errors.append(FieldError(where, f"must be one of {', '.join(schema['enum'])}"))
            if schema.get("format") == "date-time" and parse_timestamp(value) is None:
                errors.append(FieldError(where, "expected an RFC 3339 date-time, e.g. 2025-01-31T08:00:00Z"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            low, high = schema.get("minimum"), schema.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                errors.append(FieldError(where, f"must be between {low} and {high}"))

    def _check_object(
        self, value: dict[str, Any], schema: JsonSchema, path: str, errors: list[FieldError],
        read_only: frozenset[str],
    ) -> None:
        properties: JsonSchema = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(FieldError(_join(path, key), "is required"))
        for key, item in value.items():
            field_path = _join(path, key)
            if key in properties:
                self._check(item, properties[key], field_path, errors, frozenset())
            elif key in read_only:
                errors.append(FieldError(field_path, "is read-only; the server sets it"))
            elif extra is False:
                errors.append(FieldError(field_path, "unknown field"))
            elif isinstance(extra, dict):
                self._check(item, extra, field_path, errors, frozenset())


def to_message(body: dict[str, Any], message: Message) -> Message:
    """Fill `message` from an already validated body."""
    try:
        return json_format.ParseDict(body, message)
    except json_format.ParseError as exc:  # belt and braces: the schema should have caught it
        raise invalid_field("body", str(exc)) from None


def parse_timestamp(value: str) -> Timestamp | None:
    ts = Timestamp()
    try:
        ts.FromJsonString(value)
    except ValueError:
        return None
    return ts


def require_valid(registry: SchemaRegistry, body: dict[str, Any], schema: JsonSchema) -> dict[str, Any]:
    errors = registry.validate(body, schema)
    if errors:
        raise invalid(errors)
    return body


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "object": (dict,), "array": (list,),
    "number": (int, float), "integer": (int, float),
}


def _is_type(value: Any, expected: str | list[str]) -> bool:
    for name in [expected] if isinstance(expected, str) else expected:
        if name == "null" and value is None:
            return True
        if name not in _PY_TYPES or not isinstance(value, _PY_TYPES[name]):
            continue
        if isinstance(value, bool) and name != "boolean":
            continue
        if name == "integer" and isinstance(value, float) and not value.is_integer():
            continue
        return True
    return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for name, types in (("string", (str,)), ("integer", (int,)), ("number", (float,)),
                        ("object", (dict,)), ("array", (list,))):
        if isinstance(value, types):
            return name
    return type(value).__name__


def _article(expected: str | list[str]) -> str:
    names = [expected] if isinstance(expected, str) else expected
    return " or ".join(("an " if n[0] in "aeiou" else "a ") + n for n in names)
