"""Shared picklists (source, industry, level, lifecycle stage): one vocabulary for every service.

The built-in values are declared once in proto/crm/common/v1/picklists.proto (an enum per
picklist, labels as value options); a string field holding a picklist key says so with
`[(crm.common.v1.picklist) = "crm.common.v1.CustomerSource"]`. A key is the enum value's name
without the enum's prefix, lower-cased.

An administrator changes the vocabulary in contacts (its owner): values added with zh-CN and en
labels, labels renamed, values retired or revived, reordered. The whole vocabulary is one
versioned `crm.common.v1.Picklists` document; contacts publishes it as
`crm.contacts.picklist.updated` and every service that checks these fields keeps a durable copy
(`PicklistStore`, newest version wins), so a write never calls another service. `Vocabulary`
answers what a write or a filter may hold:
- a new write (a create, or an update that changes the field) takes an active key; blank is "not
  given"; a retired key is refused naming the field and listing the active keys;
- a value a record already holds stays valid when an update leaves it unchanged (retired keys
  stay on existing records);
- a filter takes any key the list ever had, retired ones included (old records stay findable);
- a picklist that is not restricted (industry by default) takes any text: its values are the
  suggestions the console shows with their labels;
- what a visitor typed on a public path (a web form) is `kept`, never refused: the key it names
  (`match`: a key or a label, either language, any case), else the text as typed beside it;
- a value a service fills in itself (a converted lead's stage, a capture's source) is `fill`ed
  from the keys it means, the first that is active, never a retired key."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, cast

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from crm.common.v1 import picklists_pb2
from crm.common.v1.options_pb2 import picklist
from crm.common.v1.picklists_pb2 import Picklist, Picklists, PicklistValue
from crmkit.errors import InvalidArgument

if TYPE_CHECKING:
    from google.protobuf.descriptor_pb2 import EnumValueOptions, FieldOptions
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

# protoc's .pyi declares an extension as a plain FieldDescriptor; `Extensions[...]` wants it typed.
_PICKLIST = cast("_ExtensionFieldDescriptor[FieldOptions, str]", picklist)
_LABEL_ZH = cast("_ExtensionFieldDescriptor[EnumValueOptions, str]", picklists_pb2.label_zh)
_LABEL_EN = cast("_ExtensionFieldDescriptor[EnumValueOptions, str]", picklists_pb2.label_en)

# The picklists by the name the API uses, each with its enum of built-in values.
ENUMS: dict[str, str] = {
    "source": "crm.common.v1.CustomerSource",
    "industry": "crm.common.v1.Industry",
    "level": "crm.common.v1.CustomerLevel",
    "lifecycle_stage": "crm.common.v1.LifecycleStage",
}
NAMES: tuple[str, ...] = tuple(ENUMS)
_BY_ENUM = {enum: name for name, enum in ENUMS.items()}
# Industry was free text (up to 100 characters) before it was a picklist: restricting it would
# refuse what users have always typed, so it starts as suggestions until an administrator says so.
_OPEN_BY_DEFAULT = frozenset({"industry"})
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_VALUES = 200   # per picklist: a dropdown, not a table
MAX_LABEL = 100    # characters of a label
ROUTE = "/api/v1/admin/picklists"  # where the current values and their labels are listed


def _prefix(enum: EnumDescriptor) -> str:
    # CustomerSource → CUSTOMER_SOURCE_
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(enum.name)).upper() + "_"


@cache
def keys(enum_full_name: str) -> tuple[str, ...]:
    """The built-in keys of a picklist enum, in declaration order, without its UNSPECIFIED value."""
    enum = descriptor_pool.Default().FindEnumTypeByName(enum_full_name)
    prefix = _prefix(enum)
    return tuple(v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0)


def keys_of(field: FieldDescriptor) -> tuple[str, ...] | None:
    """The built-in keys a field's picklist starts with when its proto marks it as one, else None."""
    name = field.GetOptions().Extensions[_PICKLIST]
    return keys(name) if name else None


def name_of(field: FieldDescriptor) -> str | None:
    """The picklist (source, industry, level, lifecycle_stage) a field holds keys of, else None."""
    enum = field.GetOptions().Extensions[_PICKLIST]
    return _BY_ENUM.get(enum) if enum else None


SOURCES: tuple[str, ...] = keys(ENUMS["source"])
LEVELS: tuple[str, ...] = keys(ENUMS["level"])
LIFECYCLE: tuple[str, ...] = keys(ENUMS["lifecycle_stage"])
INDUSTRIES: tuple[str, ...] = keys(ENUMS["industry"])


def check(value: str, allowed: tuple[str, ...], field: str) -> None:
    """Blank is "not given"; anything else must be a key, as typed (no case folding, no mapping)."""
    if value and value not in allowed:
        raise InvalidArgument(f"must be one of {', '.join(allowed)}", field=field)


@cache
def _built_in(name: str) -> Picklist:
    enum = descriptor_pool.Default().FindEnumTypeByName(ENUMS[name])
    prefix = _prefix(enum)
    values = [PicklistValue(key=v.name.removeprefix(prefix).lower(), label_zh=v.GetOptions().Extensions[_LABEL_ZH],
                            label_en=v.GetOptions().Extensions[_LABEL_EN], built_in=True)
              for v in enum.values if v.number != 0]
    return Picklist(name=name, values=values, restricted=name not in _OPEN_BY_DEFAULT)


def defaults() -> Picklists:
    """The vocabulary before any administrator's change: the built-in values, version 0."""
    return Picklists(picklists=[_built_in(name) for name in NAMES])


def completed(document: Picklists | None) -> Picklists:
    """A stored document with what this build knows and it lacks: a picklist added in a newer
    build starts at its defaults, a built-in value added since is appended, active."""
    if document is None:
        return defaults()
    out = Picklists()
    out.CopyFrom(document)
    have = {p.name: p for p in out.picklists}
    for name in NAMES:
        stored = have.get(name)
        if stored is None:
            out.picklists.append(_built_in(name))
            continue
        known = {v.key for v in stored.values}
        for value in _built_in(name).values:
            if value.key not in known:
                stored.values.append(value)
            else:
                next(v for v in stored.values if v.key == value.key).built_in = True
        for value in stored.values:  # said either way (optional): the answer always carries it
            value.built_in = value.built_in
    return out


@dataclass(frozen=True)
class _List:
    active: tuple[str, ...]
    keys: tuple[str, ...]  # retired ones included, in display order
    known: frozenset[str]
    restricted: bool
    live: frozenset[str]  # the active keys, for membership
    names: dict[str, str]  # an active key, its labels, folded (`_fold`) → the key


def _fold(text: str) -> str:
    """How a typed value is compared with keys and labels: case and spacing do not matter
    ("Trade show", "trade-show", "TRADE_SHOW" and "trade_show" are one)."""
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def _names(values: Iterable[PicklistValue]) -> dict[str, str]:
    names: dict[str, str] = {}
    for v in values:
        if not v.retired:
            for text in (v.label_en, v.label_zh, v.key):  # the key last: it wins a clash with a label
                if text.strip():
                    names[_fold(text)] = v.key
    return names


class Vocabulary:
    """The current picklists, as a write or a filter checks them."""

    def __init__(self, document: Picklists | None = None) -> None:
        self.document = completed(document)
        self.version = self.document.version
        self._lists = {p.name: _List(tuple(v.key for v in p.values if not v.retired), tuple(v.key for v in p.values),
                                     frozenset(v.key for v in p.values), p.restricted,
                                     frozenset(v.key for v in p.values if not v.retired), _names(p.values))
                       for p in self.document.picklists}

    def active(self, name: str) -> tuple[str, ...]:
        return self._lists[name].active

    def keys(self, name: str) -> tuple[str, ...]:
        """Every key the list has, retired ones included, in display order."""
        return self._lists[name].keys

    def restricted(self, name: str) -> bool:
        return self._lists[name].restricted

    def filterable(self, name: str) -> tuple[str, ...]:
        """What a filter may name: every key, or anything (empty) when the list is not restricted."""
        plist = self._lists[name]
        return plist.keys if plist.restricted else ()

    def check(self, name: str, value: str, field: str, *, before: str | None = None) -> None:
        """A value written now: blank, unchanged from `before`, or an active key (any text when
        the list is not restricted). Refused naming the field and listing the active keys."""
        if not value or value == before:
            return
        plist = self._lists[name]
        if value in plist.live or not plist.restricted:
            return
        allowed = ", ".join(plist.active)
        if value in plist.known:
            raise InvalidArgument(f"'{value}' is retired; one of {allowed}", field=field, allowed=list(plist.active))
        raise InvalidArgument(f"must be one of {allowed}", field=field, allowed=list(plist.active))

    def match(self, name: str, text: str) -> str:
        """The active key `text` names: the key itself or its zh-CN or en label, whatever the case
        and spacing; "" when it names none (a retired value names none: it is not for new records)."""
        return self._lists[name].names.get(_fold(text), "") if text.strip() else ""

    def kept(self, name: str, text: str) -> tuple[str, str]:
        """What a record gets for `text` typed on a public path, where nothing is refused:
        (value, kept as typed). The key it names; else, when the list takes any text, the text
        itself; else ("", text): the field stays blank and the caller keeps the text beside it."""
        text = text.strip()
        if not text:
            return "", ""
        key = self.match(name, text)
        if key:
            return key, ""
        return (text, "") if not self._lists[name].restricted else ("", text)

    def fill(self, name: str, *preferred: str, first: bool = False) -> str:
        """A value a service fills in itself: the first of the keys it means (`preferred`) that is
        active; else, with `first`, the list's first active value (its display order is the
        administrator's); else "". Never a retired key."""
        plist = self._lists[name]
        for key in preferred:
            if key in plist.live:
                return key
        return plist.active[0] if first and plist.active else ""

    def check_filter(self, name: str, values: str | Iterable[str], field: str) -> None:
        """Values to filter or route by: any key the list ever had (a typo answers 400, not an
        empty list; a retired key still finds the records that hold it)."""
        plist = self._lists[name]
        if not plist.restricted:
            return
        for value in [values] if isinstance(values, str) else values:
            if value and value not in plist.known:
                raise InvalidArgument(f"must be one of {', '.join(plist.keys)}", field=field)

    def check_fields(self, record: Message, fields: dict[str, str], before: Message | None = None) -> None:
        """`check` of each record field → picklist (`{"source": "source", ...}`); with `before`,
        the fields it already held as they are pass."""
        for field, name in fields.items():
            self.check(name, getattr(record, field), field,
                       before=None if before is None else getattr(before, field))


DEFAULTS = Vocabulary()


def updated(current: Picklists, change: Picklist) -> Picklists:
    """`current` (completed) with one picklist replaced by an administrator's `change`: every key it
    had stays (a built-in or added value is retired, never removed: records hold it), new keys are
    snake_case with both labels, no key twice, a restricted list keeps an active value. The
    caller bumps the version."""
    if change.name not in ENUMS:
        raise InvalidArgument(f"no picklist '{change.name}' (one of {', '.join(NAMES)})", field="name")
    base = completed(current)
    old = next(p for p in base.picklists if p.name == change.name)
    before = {v.key: v for v in old.values}
    if len(change.values) > MAX_VALUES:
        raise InvalidArgument(f"at most {MAX_VALUES} values", field="values", maximum=MAX_VALUES)
    seen: set[str] = set()
    values: list[PicklistValue] = []
    for i, value in enumerate(change.values):
        key = value.key.strip()
        if key in seen:
            raise InvalidArgument(f"'{key}' is listed twice", field=f"values[{i}].key")
        seen.add(key)
        was = before.get(key)
        if value.HasField("built_in") and value.built_in != bool(was and was.built_in):
            # the server's flag, as the GET answer says it: sent back unchanged it passes
            raise InvalidArgument(f"is read-only: '{key}' is {'' if was and was.built_in else 'not '}a built-in value",
                                  field=f"values[{i}].built_in")
        if was is None and not KEY.match(key):
            raise InvalidArgument("a key is 1 to 40 characters: a lower-case letter, then letters, digits or _",
                                  field=f"values[{i}].key")
        kept = PicklistValue(key=key, retired=value.retired, built_in=bool(was and was.built_in))
        for lang in ("label_zh", "label_en"):
            label = getattr(value, lang).strip()
            if len(label) > MAX_LABEL or any(c in label for c in "\r\n\x00"):
                raise InvalidArgument(f"at most {MAX_LABEL} characters on one line", field=f"values[{i}].{lang}")
            if not label and was is None:
                raise InvalidArgument("a new value needs a zh-CN and an en label", field=f"values[{i}].{lang}")
            setattr(kept, lang, label or getattr(was, lang))  # blank: the label it had
        values.append(kept)
    missing = [key for key in before if key not in seen]
    if missing:
        raise InvalidArgument(f"values cannot be removed, only retired (retired: true): {', '.join(missing)}",
                              field="values", missing=missing)
    if change.restricted and not any(not v.retired for v in values):
        raise InvalidArgument("a restricted picklist needs at least one active value", field="values")
    out = Picklists()
    out.CopyFrom(base)
    target = next(p for p in out.picklists if p.name == change.name)
    del target.values[:]
    target.values.extend(values)
    target.restricted = change.restricted
    return out
