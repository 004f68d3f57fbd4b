"""The documented maxima of one request. Services enforce them (INVALID_ARGUMENT naming the field);
the gateway states them in the OpenAPI document and may refuse earlier. Each number is far above
what a CRM user types by hand and low enough that one request has a bounded cost.

Text lengths count characters (Python ``len``), not bytes."""
from __future__ import annotations

from collections.abc import Mapping, Sized
from decimal import Decimal

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct, Value

from crmkit.errors import InvalidArgument

_STRING = FieldDescriptor.TYPE_STRING

# Lists on one record.
MAX_PHONES = 20  # a person with more than 20 numbers is a switchboard: make it an account
MAX_EMAILS = 20  # same bound as phones; dedupe compares every address of every candidate
MAX_ADDRESSES = 20  # billing/shipping/site addresses of one contact or account
MAX_TAGS = 50  # tags are labels to filter on, not a free-text field
MAX_CUSTOM_FIELDS = 100  # custom fields per record (tenant-defined keys), stored as one JSON column
MAX_CUSTOM_FIELD_KEY = 64  # a custom-field key is a label, not prose
MAX_CUSTOM_FIELD_VALUE = 2_000  # characters of one custom-field value rendered as text

# Lists in one call.
MAX_DUPLICATE_CANDIDATES = MAX_PHONES + MAX_EMAILS  # phones + emails one duplicates check looks up
MAX_DUPLICATE_MATCHES = 100  # records one duplicates check returns; more is a data-quality job
MAX_MERGE = 20  # contacts folded into one survivor in one merge
MAX_IMPORT_ROWS = 1_000  # rows per synchronous lead import, until imports become jobs
MAX_QUOTE_LINES = 500  # lines per quote (what sales always took); a longer price list is an appendix
MAX_BATCH_IDS = 500  # ids in one batch get / bulk action
MAX_RECIPIENTS = 100  # explicit recipients of one message (campaign audiences are segments)
MAX_ATTACHMENTS = 20  # attachments on one message or ticket reply

# Text lengths (characters).
MAX_NAME = 300  # names, titles, subjects, labels (contacts have always taken 300)
MAX_EMAIL = 320  # 64 characters of local part, "@", 255 of domain (RFC 5321 §4.5.3.1)
MAX_PHONE = 40  # E.164 is 15 digits; room for extensions and formatting
MAX_SHORT_TEXT = 500  # one-line free text: job title, address line, reason
MAX_NOTES = 20_000  # notes / descriptions / comments: about ten printed pages
MAX_BODY = 100_000  # an e-mail or message body, a template, a KB article
MAX_QUERY = 256  # a search query string (`q`): what customer search has always taken
MAX_URL = 2_048  # a link, a website, a URL pattern
MAX_IMPORT_CSV = 1_000_000  # characters of one synchronous CSV import (MAX_IMPORT_ROWS rows and a header)
MAX_LIST = 500  # any other list in one request body (settings sections, filters, ids)

# Numbers.
MAX_AMOUNT = 10**12  # an amount (a deal, a budget) is under a trillion in its currency: reporting sums
#                      them in ten-thousandths, weighted by probability, in 64-bit integers


def check_count(field: str, items: Sized, maximum: int) -> None:
    """Refuse a list longer than ``maximum`` naming ``field``."""
    if len(items) > maximum:
        raise InvalidArgument(
            f"{field}: at most {maximum} items (got {len(items)})", field=field, maximum=maximum
        )


def check_amount(field: str, amount: Decimal) -> None:
    """Refuse an amount of MAX_AMOUNT or more naming ``field`` (a record reporting could not count)."""
    if abs(amount) >= MAX_AMOUNT:
        raise InvalidArgument(f"{field}: must be less than {MAX_AMOUNT:,}", field=field, maximum=MAX_AMOUNT)


def check_length(field: str, text: str | None, maximum: int) -> None:
    """Refuse a text longer than ``maximum`` characters naming ``field``."""
    if text is not None and len(text) > maximum:
        raise InvalidArgument(
            f"{field}: at most {maximum} characters (got {len(text)})", field=field, maximum=maximum
        )


def check_texts(message: Message, longer: Mapping[str, int] | None = None, *, default: int = MAX_SHORT_TEXT,
                prefix: str = "") -> None:
    """Every string (and repeated string) field directly on `message` is at most `default`
    characters, or what `longer` allows for it (`{"notes": MAX_NOTES}`); INVALID_ARGUMENT names
    the field, `prefix` included (`lines[3].`)."""
    allowed = longer or {}
    for fd, value in message.ListFields():
        if fd.type != _STRING:
            continue
        maximum = allowed.get(fd.name, default)
        if fd.is_repeated:
            check_count(f"{prefix}{fd.name}", value, MAX_LIST)
            for i, text in enumerate(value):
                check_length(f"{prefix}{fd.name}[{i}]", text, maximum)
        else:
            check_length(f"{prefix}{fd.name}", value, maximum)


# How each field is walked, worked out once per field: descriptor attributes cost more than the
# check itself.
_STR, _STRS, _MSG, _MSGS, _MAP_STR, _MAP_MSG, _OTHER = range(7)
_plans: dict[FieldDescriptor, int] = {}


def _plan(fd: FieldDescriptor) -> int:
    plan = _plans.get(fd)
    if plan is None:
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            plan = _MAP_MSG if value_fd.message_type is not None else _MAP_STR
        elif fd.type == _STRING:
            plan = _STRS if fd.is_repeated else _STR
        elif fd.message_type is not None:
            plan = _MSGS if fd.is_repeated else _MSG
        else:
            plan = _OTHER
        _plans[fd] = plan
    return plan


def nul_field(message: Message, prefix: str = "") -> str | None:
    """The path of the first string in `message` holding a NUL character (`contact.phones[2].number`,
    `custom_fields.键`), or None. PostgreSQL cannot store NUL in text, and no one types it."""
    if isinstance(message, Struct):  # custom fields: name the key the caller wrote, not `fields`
        return _struct_nul(message, prefix.rstrip("."))
    for fd, value in message.ListFields():
        plan = _plan(fd)
        if plan == _OTHER:
            continue
        if plan == _STR:
            if "\x00" in value:
                return f"{prefix}{fd.name}"
        elif plan == _STRS:
            for i, text in enumerate(value):
                if "\x00" in text:
                    return f"{prefix}{fd.name}[{i}]"
        elif plan == _MSG:
            if found := nul_field(value, f"{prefix}{fd.name}."):
                return found
        elif plan == _MSGS:
            for i, item in enumerate(value):
                if found := nul_field(item, f"{prefix}{fd.name}[{i}]."):
                    return found
        else:  # a map: string keys, string or message values
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    return f"{prefix}{fd.name}"
                if plan == _MAP_STR:
                    if isinstance(item, str) and "\x00" in item:
                        return f"{prefix}{fd.name}.{key}"
                elif found := nul_field(item, f"{prefix}{fd.name}.{key}."):
                    return found
    return None


def _struct_nul(struct: Struct, path: str) -> str | None:
    for key, value in struct.fields.items():
        if "\x00" in key:
            return path
        if (found := _value_nul(value, f"{path}.{key}")) is not None:
            return found
    return None


def _value_nul(value: Value, path: str) -> str | None:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return path if "\x00" in value.string_value else None
    if kind == "struct_value":
        return _struct_nul(value.struct_value, path)
    if kind == "list_value":
        for i, item in enumerate(value.list_value.values):
            if (found := _value_nul(item, f"{path}[{i}]")) is not None:
                return found
    return None


def refuse_nul(request: Message) -> None:
    """INVALID_ARGUMENT naming the first string field of a request that holds a NUL character,
    as the gateway names it: relative to the record the request wraps (`contact.name` → `name`,
    `filter.tag` → `tag`), since that record is the JSON body or the query a client sent."""
    # A NUL in any string is a zero byte in the wire form: most requests have none at all, and
    # serializing (~3 µs) is far cheaper than walking the descriptors (~50 µs for a contact).
    if b"\x00" not in request.SerializeToString():
        return
    path = nul_field(request)
    if path is None:
        return
    head, _, rest = path.partition(".")
    wrapper = request.DESCRIPTOR.fields_by_name.get(head)
    if rest and wrapper is not None and wrapper.message_type is not None and not wrapper.is_repeated \
            and not wrapper.message_type.GetOptions().map_entry and wrapper.message_type.full_name != "google.protobuf.Struct":
        path = rest
    raise InvalidArgument(f"{path}: text must not contain NUL characters", field=path)
