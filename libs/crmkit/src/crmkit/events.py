"""Building and reading the common event envelope."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

from crm.common.v1.envelope_pb2 import Actor, EventEnvelope, SealedFields
from crm.common.v1.options_pb2 import event_subject
from crmkit.logs import request_id_var
from crmkit.records import new_id

if TYPE_CHECKING:
    from google.protobuf.descriptor_pb2 import EnumValueOptions
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

    from crmkit.auth import Principal
    from crmkit.db import UnitOfWork

# protoc's .pyi declares an extension as a plain FieldDescriptor; `Extensions[...]` wants it typed.
_EVENT_SUBJECT = cast("_ExtensionFieldDescriptor[EnumValueOptions, str]", event_subject)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Envelope:
    """An event ready for the outbox: subject == event type, bytes == serialized envelope."""

    event_id: str
    subject: str
    data: bytes
    created_at: datetime
    # The payload before its personal fields were sealed (crmkit.shredding), None when nothing was.
    unsealed: Message | None = field(default=None, compare=False, repr=False)
    # The message `data` was serialized from, when this process built it: the audit entry reads its
    # header from it instead of parsing `data` again. Never changed after serializing.
    message: EventEnvelope | None = field(default=None, compare=False, repr=False)

    def opened(self) -> bytes:
        """The envelope as a consumer sees it once it opened the sealed fields."""
        if self.unsealed is None:
            return self.data
        env = EventEnvelope.FromString(self.data)
        env.payload.Pack(self.unsealed)
        env.ClearField("sealed")
        return env.SerializeToString()

    def to_outbox_values(self) -> dict[str, object]:
        return {
            "event_id": self.event_id,
            "subject": self.subject,
            "payload": self.data,
            "created_at": self.created_at,
            "attempts": 0,
        }


def new_event(
    *,
    producer: str,
    event_type: str,
    aggregate_type: str,
    aggregate_id: str,
    aggregate_version: int,
    payload: Message,
    actor: Actor | None = None,
    correlation_id: str = "",
    occurred_at: datetime | None = None,
    event_id: str = "",
    sealed: SealedFields | None = None,
    unsealed: Message | None = None,
) -> Envelope:
    """`sealed`: the payload's personal fields (crmkit.shredding), encrypted for `event_id`;
    `unsealed`: the payload before they were taken out (Envelope.unsealed)."""
    when = occurred_at or utcnow()
    env = EventEnvelope()
    env.CopyFrom(_header(producer, event_type, aggregate_type, correlation_id, when, actor))
    env.event_id = event_id or new_id()
    env.aggregate_id = aggregate_id
    env.aggregate_version = aggregate_version
    env.payload.Pack(payload)
    if sealed is not None:
        env.sealed.CopyFrom(sealed)
    return Envelope(env.event_id, event_type, env.SerializeToString(), when, unsealed=unsealed, message=env)


# The last header built (what an envelope has besides its event, aggregate and payload): a batch
# (an import) emits thousands of events of one type, actor and `now`, and converting the time and
# copying the actor cost more than the rest of an envelope. Never changed once built.
_last_header: tuple[tuple[object, ...], EventEnvelope] | None = None


def _header(producer: str, event_type: str, aggregate_type: str, correlation_id: str, when: datetime,
            actor: Actor | None) -> EventEnvelope:
    global _last_header
    key = (producer, event_type, aggregate_type, correlation_id, when, actor)
    last = _last_header
    if last is not None and last[0] == key:
        return last[1]
    header = EventEnvelope(event_type=event_type, aggregate_type=aggregate_type, correlation_id=correlation_id,
                           producer=producer)
    header.occurred_at.FromDatetime(when)
    if actor is not None:
        header.actor.CopyFrom(actor)
    # the key keeps the header's own copy of the actor: a caller may change theirs afterwards
    _last_header = (key[:5] + (header.actor if actor is not None else None,), header)
    return header


def parse_envelope(data: bytes) -> EventEnvelope:
    env = EventEnvelope()
    env.ParseFromString(data)
    if not env.event_id or not env.event_type:
        raise ValueError("event envelope without event_id or event_type")
    return env


_classes: dict[str, type[Message]] = {}


def message_class(type_name: str) -> type[Message]:
    """The message class of a full type name known to this process (imported _pb2), looked up once."""
    found = _classes.get(type_name)
    if found is None:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name)
        found = _classes[type_name] = message_factory.GetMessageClass(descriptor)
    return found


def unpack_payload(env: EventEnvelope) -> Message:
    """The concrete payload message; its type must be known to this process (imported _pb2)."""
    type_name = env.payload.TypeName()
    message = message_class(type_name)()
    if not env.payload.Unpack(message):
        raise ValueError(f"cannot unpack payload of type {type_name}")
    return message


class EventTypes:
    """The event types a producer declares in its events.proto (`enum EventType`, each value with
    its `event_subject` option): `SALES.LEAD_CREATED == "crm.sales.lead.created"`. Producers and
    consumers both read the names from here, so neither keeps a copy of the strings."""

    def __init__(self, enum: EnumTypeWrapper) -> None:
        self._by_name: dict[str, str] = {}
        for value in enum.DESCRIPTOR.values:
            if value.number:
                self._by_name[value.name.removeprefix("EVENT_TYPE_")] = value.GetOptions().Extensions[_EVENT_SUBJECT]
        self.all: frozenset[str] = frozenset(self._by_name.values())

    def __getattr__(self, name: str) -> str:
        try:
            return self._by_name[name]
        except KeyError:
            raise AttributeError(f"no event type {name} in the contract") from None

    def of(self, aggregate: str, action: str) -> str:
        """The subject of `<aggregate>.<action>`; an event type the contract lacks is a bug."""
        return self.__getattr__(f"{aggregate}_{action}".upper())

    def of_aggregate(self, *aggregates: str) -> frozenset[str]:
        return frozenset(s for s in self.all if s.split(".")[2] in aggregates)


def actor_of(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, roles=list(principal.roles), team=principal.team,
                 region=principal.region)


class Emitter:
    """Writes a service's events into the unit of work's outbox, with the actor and the request's
    correlation id. `emit(uow, principal, SALES.LEAD_CREATED, lead.id, lead.version, payload, now)`.
    The payload's personal fields are sealed under the person's key (crmkit.shredding), created in
    the same transaction when the record has none yet."""

    def __init__(self, producer: str, types: EventTypes) -> None:
        self.producer = producer
        self.types = types
        # the last principal's Actor (a Principal is frozen): a batch emits thousands for one user
        self._actor: tuple[Principal, Actor] | None = None

    def _actor_of(self, principal: Principal) -> Actor:
        last = self._actor
        if last is not None and last[0] is principal:
            return last[1]
        actor = actor_of(principal)
        self._actor = (principal, actor)
        return actor

    def __call__(self, uow: UnitOfWork, principal: Principal, event_type: str, aggregate_id: str,
                 version: int, payload: Message, now: datetime, *, aggregate_type: str = "") -> Envelope:
        """`aggregate_type` defaults to the subject's aggregate; give it when the event is about
        another aggregate's version (an interaction logged on a contact carries the contact's)."""
        if event_type not in self.types.all:
            raise ValueError(f"{event_type} is not an event type of {self.producer}'s contract")
        from crmkit import shredding  # here: the gateway reads envelopes without the database's libraries

        aggregate_type = aggregate_type or event_type.split(".")[2]
        event_id = new_id()
        plain, sealed = shredding.seal(uow.session, producer=self.producer, event_id=event_id,
                                       aggregate_type=aggregate_type, aggregate_id=aggregate_id, payload=payload)
        envelope = new_event(
            producer=self.producer, event_type=event_type, aggregate_type=aggregate_type,
            aggregate_id=aggregate_id, aggregate_version=version, payload=plain, actor=self._actor_of(principal),
            correlation_id=request_id_var.get(), occurred_at=now, event_id=event_id, sealed=sealed,
            unsealed=payload if sealed is not None else None,
        )
        uow.emit(envelope)
        return envelope
