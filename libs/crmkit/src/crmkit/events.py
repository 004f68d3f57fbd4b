"""Building and reading the common event envelope."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from crm.common.v1.envelope_pb2 import Actor, EventEnvelope


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Envelope:
    """An event ready for the outbox: subject == event type, bytes == serialized envelope."""

    event_id: str
    subject: str
    data: bytes
    created_at: datetime

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
) -> Envelope:
    when = occurred_at or utcnow()
    env = EventEnvelope(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        correlation_id=correlation_id,
        producer=producer,
    )
    env.occurred_at.FromDatetime(when)
    if actor is not None:
        env.actor.CopyFrom(actor)
    env.payload.Pack(payload)
    return Envelope(env.event_id, event_type, env.SerializeToString(), when)


def parse_envelope(data: bytes) -> EventEnvelope:
    env = EventEnvelope()
    env.ParseFromString(data)
    if not env.event_id or not env.event_type:
        raise ValueError("event envelope without event_id or event_type")
    return env


def unpack_payload(env: EventEnvelope) -> Message:
    """The concrete payload message; its type must be known to this process (imported _pb2)."""
    type_name = env.payload.TypeName()
    descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name)
    message = message_factory.GetMessageClass(descriptor)()
    if not env.payload.Unpack(message):
        raise ValueError(f"cannot unpack payload of type {type_name}")
    return message
