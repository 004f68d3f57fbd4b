"""JSON schemas derived from the proto message descriptors, and a validator for them.

One registry feeds both the request validation and the OpenAPI document, so the documented
shapes are the enforced ones. Only the JSON Schema subset generated here is validated (type,
properties, additionalProperties, items, $ref, enum, format date-time, minimum/maximum,
exclusiveMinimum/exclusiveMaximum, minItems, required); no third-party validator is needed for that.

Mapping: string → string, bool → boolean, 32/64-bit ints → integer (64-bit ints are written as
JSON numbers while they are exact), double → number, repeated → array, map<string, V> → object
of V, nested message → $ref to its own schema, Timestamp → RFC 3339 string, Struct → free object.
Every object has additionalProperties false.

Every string a client writes has a maxLength and every list a maxItems (`_TEXT_BOUNDS`,
`_LIST_BOUNDS`: the numbers of `crmkit.limits`, which the services enforce too); a free-form
object (custom fields) has a maxProperties and its keys a maxLength.

Which fields a client may send comes from the proto (`crmkit.fields`): a message's schema marks
its OUTPUT_ONLY fields readOnly; `input()` leaves them out of a request body and `patch()` keeps
only the patchable ones, and a body naming a left-out field gets "is read-only" for it."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1.options_pb2 import OUTPUT_ONLY
from crm_gateway.problems import FieldError, invalid, invalid_field
from crmkit import limits as L
from crmkit import picklists
from crmkit.currencies import CODES
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


def picklist_description(name: str) -> str:
    """How the document states a picklist field (x-picklist): where its current keys are listed."""
    return (f"a key of the `{name}` picklist: GET {picklists.ROUTE} lists the active ones with their zh-CN and "
            "en labels; retired keys stay on records and in filters")


_WELL_KNOWN: dict[str, JsonSchema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Struct": {"type": "object", "description": "free-form JSON object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.FieldMask": {"type": "string"},
}


MessageType = type[Message] | Descriptor

# maxLength of a string field by "<Message>.<field>" or by field name; others MAX_SHORT_TEXT.
_TEXT_BOUNDS: dict[str, int] = {
    **dict.fromkeys(("name", "title", "subject", "label", "company", "company_name", "account_name",
                     "customer_name", "requester_name", "opportunity_name", "task_title", "file_name",
                     "decision_maker", "sku", "slug", "tags", "add", "remove", "add_tags", "exclude_tags",
                     "tags_all", "tags_any", "check_in_code"), L.MAX_NAME),
    "key": L.MAX_CUSTOM_FIELD_KEY,
    **dict.fromkeys(("email", "customer_email", "requester_email", "recipient_email", "sender",
                     "Email.address", "StaffMember.email"), L.MAX_EMAIL),
    **dict.fromkeys(("raw", "number", "phone"), L.MAX_PHONE),
    **dict.fromkeys(("description", "notes", "content", "comment", "reason", "resolution_note", "summary",
                     "special_terms", "evidence", "message", "condition", "en", "zh", "ChatMessage.text",
                     "Comment.body", "Macro.body"), L.MAX_NOTES),
    # a form's values: marketing holds each to its field's max_length (a textarea's up to 20,000)
    "SubmitFormRequest.values": L.MAX_NOTES,
    **dict.fromkeys(("html", "text", "body"), L.MAX_BODY),
    **dict.fromkeys(("url", "url_pattern", "website", "page_url", "referrer"), L.MAX_URL),
    "csv": L.MAX_IMPORT_CSV,
}
# maxItems of a repeated field, likewise; others MAX_LIST.
_LIST_BOUNDS: dict[str, int] = {
    "phones": L.MAX_PHONES, "emails": L.MAX_EMAILS, "addresses": L.MAX_ADDRESSES,
    **dict.fromkeys(("tags", "add", "remove", "add_tags", "exclude_tags", "tags_all", "tags_any"), L.MAX_TAGS),
    "lines": L.MAX_QUOTE_LINES, "attachments": L.MAX_ATTACHMENTS, "merged_ids": L.MAX_MERGE,
    **dict.fromkeys(("contact_ids", "exclude_contact_ids", "segment_ids", "exclude_segment_ids"),
                    L.MAX_BATCH_IDS),
}
# ISO 4217 (crmkit.currencies), spelled out so clients and contract tests know every valid code
CURRENCY = "^(" + "|".join(sorted(CODES)) + ")$"
CURRENCY_MESSAGE = "an ISO 4217 currency code in capitals, e.g. CNY"
NO_NUL = "^[^\\u0000]*$"  # no NUL character anywhere (read_body refuses one, naming the field)
# one character neither JSON Schema's \s nor Python's str.strip() takes for space (\x1c-\x1f, \x85)
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000\\u001c-\\u001f\\u0085][^\\u0000]*$"
_MAP_BOUNDS = {"maxProperties": L.MAX_CUSTOM_FIELDS,
               "propertyNames": {"maxLength": L.MAX_CUSTOM_FIELD_KEY, "pattern": NO_NUL}}
# A custom field's value: a scalar or a list of texts (never an object), as the services store them.
_CUSTOM_VALUE: JsonSchema = {"type": ["string", "number", "boolean", "array", "null"],
                             "maxLength": L.MAX_CUSTOM_FIELD_VALUE, "pattern": NO_NUL, "maxItems": L.MAX_LIST,
                             "items": {"type": "string", "maxLength": L.MAX_CUSTOM_FIELD_VALUE, "pattern": NO_NUL}}


def _bounded(owner: str, field: str, schema: JsonSchema) -> JsonSchema:
    """`schema` of `owner`.`field` with its documented maxima (strings, lists, free objects)."""
    def text(target: JsonSchema) -> None:
        if target.get("type") == "string" and "enum" not in target and "format" not in target \
                and "contentEncoding" not in target:
            target["maxLength"] = _TEXT_BOUNDS.get(f"{owner}.{field}", _TEXT_BOUNDS.get(field, L.MAX_SHORT_TEXT))
            target["pattern"] = NO_NUL

    kind = schema.get("type")
    if kind == "array":
        schema["maxItems"] = _LIST_BOUNDS.get(f"{owner}.{field}", _LIST_BOUNDS.get(field, L.MAX_LIST))
        if "items" in schema and "$ref" not in schema["items"]:
            schema["items"] = dict(schema["items"])
            text(schema["items"])
    elif kind == "object":
        schema.update(_MAP_BOUNDS)
        if field == "custom_fields" and "additionalProperties" not in schema:  # a Struct
            schema["additionalProperties"] = dict(_CUSTOM_VALUE)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and "$ref" not in extra:
            schema["additionalProperties"] = dict(extra)
            text(schema["additionalProperties"])
    else:
        text(schema)
    return schema


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
                else:
                    _bounded(descriptor.name, f.name, properties[f.name])
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

    def enum(self, name: str, field: str, values: Iterable[str], *, empty: bool = True) -> None:
        """State the vocabulary a service enforces on a string field of schema `name` (a list's
        items for a repeated one); with `empty`, "" (unset) is allowed too."""
        target = self.schemas[name]["properties"][field]
        if target.get("type") == "array":
            target = target["items"]
        target.pop("maxLength", None)
        target.pop("pattern", None)
        target["enum"] = ([""] if empty else []) + [v for v in values if v]

    def require_text(self, name: str, *fields: str) -> None:
        """Fields of schema `name` a client must give, not blank (the service refuses them empty)."""
        schema = self.schemas[name]
        schema["required"] = sorted({*schema.get("required", ()), *fields})
        for field in fields:
            schema["properties"][field].update({"pattern": NOT_BLANK, "x-pattern-message": "must not be blank"})

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
        name = picklists.name_of(field)
        if name is not None:
            # A shared picklist: its values are the tenant's (an administrator edits them), so not
            # an enum here; the service refuses a key that is not active, naming the field.
            return {"type": "string", "x-picklist": name, "description": picklist_description(name)}
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
            if len(value) > schema.get("maxItems", len(value)):
                errors.append(FieldError(where, f"at most {schema['maxItems']} items (got {len(value)})"))
                return
            items = schema.get("items")
            if items is not None:
                for i, item in enumerate(value):
                    self._check(item, items, f"{path}[{i}]", errors, frozenset())
        elif isinstance(value, str):
            _check_text(value, schema, where, errors)
            if "enum" in schema and value not in schema["enum"]:
                errors.append(FieldError(where, f"must be one of {', '.join(v for v in schema['enum'] if v)}"))
            if schema.get("format") == "date-time" and parse_timestamp(value) is None:
                errors.append(FieldError(where, "expected an RFC 3339 date-time, e.g. 2025-01-31T08:00:00Z"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            low, high = schema.get("minimum"), schema.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                errors.append(FieldError(where, f"must be between {low} and {high}"))
            above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
            if (above is not None and value <= above) or (below is not None and value >= below):
                errors.append(FieldError(where, f"must be more than {above} and less than {below}"
                                         if above is not None and below is not None
                                         else f"must be more than {above}" if above is not None
                                         else f"must be less than {below}"))

    def _check_object(
        self, value: dict[str, Any], schema: JsonSchema, path: str, errors: list[FieldError],
        read_only: frozenset[str],
    ) -> None:
        properties: JsonSchema = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        if len(value) < schema.get("minProperties", 0):
            errors.append(FieldError(path or "body", "give at least one field"))
            return
        if len(value) > schema.get("maxProperties", len(value)):
            errors.append(FieldError(path or "body", f"at most {schema['maxProperties']} keys (got {len(value)})"))
            return
        names = schema.get("propertyNames")
        if names:
            for key in value:
                _check_text(key, names, _join(path, key), errors)
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


def _check_text(value: str, schema: JsonSchema, where: str, errors: list[FieldError]) -> None:
    if len(value) > schema.get("maxLength", len(value)):
        errors.append(FieldError(where, f"at most {schema['maxLength']} characters (got {len(value)})"))
    if len(value) < schema.get("minLength", 0):
        errors.append(FieldError(where, "must not be empty" if schema["minLength"] == 1
                                 else f"at least {schema['minLength']} characters"))
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        errors.append(FieldError(where, schema.get("x-pattern-message", f"must match {pattern}")))


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
