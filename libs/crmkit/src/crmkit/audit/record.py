"""What goes into the audit log, gathered where every change and every read already passes.

Changes: the unit of work's commit (crmkit.db) appends, in the same transaction, one entry per
event the transaction emitted (every change of every service emits one: requests, event
handlers and scheduled jobs alike), plus what a use case recorded explicitly (`record`: a
transfer, a delegation), plus, for a request write that emitted nothing, one entry for the call
itself. `ServicerBase.write` stages the call (`stage_call`): its method, the fields the request
set or its update mask named, and the record it answered with, so an event about that record
carries the fields. Reads: `read_entries` turns what a read returned into one entry per record of
a declared personal-data type (`Personal`).

Entries name fields and ids, never values: the log holds no personal data to erase."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit.audit import chain
from crmkit.audit.chain import Entry
from crmkit.grpc_server import client_addr, current_method
from crmkit.logs import request_id_var

if TYPE_CHECKING:
    from crmkit.auth import Principal
    from crmkit.db import UnitOfWork
    from crmkit.events import Envelope

_PENDING = "crm_audit_pending"
_CALL = "crm_audit_call"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Request fields that say how to do it, not what changed.
_NOT_CHANGES = frozenset({"update_mask", "expected_version", "page", "allow_duplicate", "validate_only"})
READ_VERBS = {"Get": "read", "Find": "read", "List": "list", "Search": "search", "Export": "export",
              "Count": "read", "Preview": "read", "Render": "read"}


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def method_parts(method: str) -> tuple[str, str]:
    """'/crm.contacts.v1.ContactsService/TagContact' → ('Tag', 'Contact')."""
    name = method.rsplit("/", 1)[-1]
    words = _CAMEL.split(name) if name else [""]
    return words[0], "".join(words[1:])


def _context() -> dict[str, str]:
    return {"request_id": request_id_var.get(), "client_addr": client_addr.get(), "method": current_method.get()}


def _session(target: Session | UnitOfWork) -> Session:
    return target if isinstance(target, Session) else target.session


def record(target: Session | UnitOfWork, principal: Principal | str, action: str, record_type: str,
           record_id: str, *, at: datetime | None = None, fields: Sequence[str] = (),
           details: Mapping[str, Any] | None = None) -> None:
    """Record an entry explicitly (a change no event describes well: a transfer, a delegation),
    appended when the transaction commits. An entry about a record that an event of the same
    transaction also names is folded into that event's entry."""
    actor = principal if isinstance(principal, str) else principal.user_id
    context = _context()
    entry = Entry(at=at or datetime.now(UTC), actor=actor, action=action, record_type=record_type,
                  record_id=record_id, fields=tuple(fields), request_id=context["request_id"],
                  client_addr=context["client_addr"], method=context["method"], details=dict(details or {}))
    _session(target).info.setdefault(_PENDING, []).append(entry)


@dataclass(frozen=True)
class CallInfo:
    """The request write a transaction answers: what it set and which record it answered with."""

    actor: str
    at: datetime
    record_type: str
    record_id: str
    fields: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)


def _ids(message: Message) -> dict[str, Any]:
    """The ids a request names (ids are not personal data; names and addresses are)."""
    found: dict[str, Any] = {}
    for fd, value in message.ListFields():
        if (fd.name == "id" or fd.name.endswith(("_id", "_ids"))) and fd.type == FieldDescriptor.TYPE_STRING:
            found[fd.name] = list(value)[:50] if fd.is_repeated else value
    return found


def changed_fields(request: Message) -> tuple[str, ...]:
    """The update mask when there is one, else the fields the request's record set."""
    mask = getattr(request, "update_mask", None)
    if mask is not None and mask.paths:
        return tuple(mask.paths)
    names: list[str] = []
    for fd, value in request.ListFields():
        if fd.name in _NOT_CHANGES:
            continue
        if _single_record(fd):
            names.extend(f.name for f, _ in value.ListFields() if f.name != "id")
        else:
            names.append(fd.name)
    return tuple(names)


def _single_record(fd: FieldDescriptor) -> bool:
    """A field holding one record (a message with an id): `CreateContactRequest.contact`."""
    return (fd.type == FieldDescriptor.TYPE_MESSAGE and not fd.is_repeated and fd.message_type is not None
            and "id" in fd.message_type.fields_by_name)


def _id(message: Any) -> str:
    return str(message.id) if "id" in message.DESCRIPTOR.fields_by_name else ""


def _target(method_noun: str, request: Message, result: Message) -> tuple[str, str]:
    if _id(result):
        return snake(result.DESCRIPTOR.name), _id(result)
    for fd, value in result.ListFields():
        if _single_record(fd) and fd.message_type is not None and _id(value):
            return snake(fd.message_type.name), _id(value)
    return snake(method_noun), _id(request)


def stage_call(uow: UnitOfWork, principal: Principal, now: datetime, request: Message, result: Message) -> None:
    """Called by `ServicerBase.write` after the use case, before the commit."""
    _, noun = method_parts(current_method.get())
    record_type, record_id = _target(noun, request, result)
    uow.session.info[_CALL] = CallInfo(principal.user_id, now, record_type, record_id, changed_fields(request),
                                       _ids(request))


def _event_entry(env: Envelope, parsed: EventEnvelope, call: CallInfo | None, context: dict[str, str],
                 extras: Sequence[Entry] = ()) -> Entry:
    """The event's entry; `extras`: what the use case recorded about the same change, absorbed
    (built here at once: an import makes thousands of entries, each built once)."""
    parts = parsed.event_type.split(".")
    action = "_".join(parts[3:]) or parsed.event_type
    mine = call is not None and parsed.aggregate_id == call.record_id
    fields: Sequence[str] = call.fields if (mine and call is not None) else ()
    details: dict[str, Any] = {"event": parsed.event_type, "version": parsed.aggregate_version}
    for extra in extras:
        details.update(extra.details)
        if extra.action != action:
            details["action"] = extra.action
        fields = tuple(fields) + tuple(extra.fields)
    return Entry(
        at=env.created_at, actor=parsed.actor.user_id or "system", action=action,
        record_type=parsed.aggregate_type, record_id=parsed.aggregate_id, fields=fields,
        request_id=context["request_id"] or parsed.correlation_id, client_addr=context["client_addr"],
        method=context["method"] or parsed.event_type, event_id=parsed.event_id, details=details,
    )


def pending_entries(session: Session, events: Sequence[Envelope]) -> list[Entry]:
    explicit: list[Entry] = session.info.pop(_PENDING, [])
    call: CallInfo | None = session.info.pop(_CALL, None)
    if not events and not explicit and call is None:
        return []
    context = _context()
    parsed = [env.message if env.message is not None else EventEnvelope.FromString(env.data) for env in events]
    # an explicit entry about a record an event names goes into the first such event's entry
    by_record = {(p.aggregate_type, p.aggregate_id): i for i, p in reversed(list(enumerate(parsed)))}
    absorbed: dict[int, list[Entry]] = {}
    apart: list[Entry] = []
    for extra in explicit:
        i = by_record.get((extra.record_type, extra.record_id))
        if i is None:
            apart.append(extra)
        else:
            absorbed.setdefault(i, []).append(extra)
    entries = [_event_entry(env, p, call, context, absorbed.get(i, ()))
               for i, (env, p) in enumerate(zip(events, parsed, strict=True))]
    entries += apart
    if not entries and call is not None:
        verb, _ = method_parts(context["method"])
        entries.append(Entry(at=call.at, actor=call.actor, action=snake(verb) or "write",
                             record_type=call.record_type, record_id=call.record_id, fields=call.fields,
                             request_id=context["request_id"], client_addr=context["client_addr"],
                             method=context["method"], details=call.details))
    return entries


def append_pending(session: Session, events: Sequence[Envelope]) -> None:
    """The unit of work's commit hook: everything this transaction should leave in the log."""
    if not events and _PENDING not in session.info and _CALL not in session.info:
        return  # the relay's and the consumers' bookkeeping transactions: nothing to record
    chain.append(session, pending_entries(session, events))


@dataclass(frozen=True)
class Personal:
    """A message type that holds personal data: reading one is audited. `id_field` names the
    record the read is about (a timeline entry's `contact_id`), `record_type` its kind, or
    `type_field` the field that says it (a search hit's `kind`)."""

    message: type[Message]
    record_type: str = ""
    id_field: str = "id"
    type_field: str = ""

    @cached_property
    def default_kind(self) -> str:
        return self.record_type or snake(self.message.DESCRIPTOR.name)

    def kind(self, message: Message) -> str:
        if self.type_field and (named := str(getattr(message, self.type_field, ""))):
            return named
        return self.default_kind


def _walk(value: Any, wanted: Mapping[str, Personal], depth: int = 0) -> Iterable[tuple[Personal, Message]]:
    if isinstance(value, Message):
        spec = wanted.get(value.DESCRIPTOR.full_name)
        if spec is not None:
            yield spec, value
            return
        if depth < 2:
            for fd, inner in value.ListFields():
                if fd.type != FieldDescriptor.TYPE_MESSAGE:
                    continue
                items = inner if fd.is_repeated else [inner]
                for item in items:
                    yield from _walk(item, wanted, depth + 1)
    elif isinstance(value, list | tuple) and depth < 2:
        for item in value:
            yield from _walk(item, wanted, depth + 1)


def read_entries(principal: Principal, now: datetime, result: Any, personal: Sequence[Personal],
                 action: str = "") -> list[Entry]:
    """One entry per personal record a read returned (once per record and call)."""
    wanted = {p.message.DESCRIPTOR.full_name: p for p in personal}
    context = _context()
    verb, _ = method_parts(context["method"])
    action = action or READ_VERBS.get(verb, snake(verb) or "read")
    single = isinstance(result, Message) and result.DESCRIPTOR.full_name in wanted
    seen: set[tuple[str, str]] = set()
    entries = []
    for spec, message in _walk(result, wanted):
        key = (spec.kind(message), str(getattr(message, spec.id_field, "")))
        if not key[1] or key in seen:
            continue
        seen.add(key)
        fields = tuple(f.name for f, _ in message.ListFields()) if single else ()
        entries.append(Entry(at=now, actor=principal.user_id, action=action, record_type=key[0],
                             record_id=key[1], fields=fields, request_id=context["request_id"],
                             client_addr=context["client_addr"], method=context["method"]))
    return entries
