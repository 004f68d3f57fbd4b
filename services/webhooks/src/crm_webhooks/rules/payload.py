"""The body of a delivery: the event's envelope facts and its payload as JSON, masked for the
subscription's owner exactly as the API masks reads for their roles (crmkit.visibility)."""
from __future__ import annotations

import json
import uuid

from google.protobuf.json_format import MessageToDict

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit.auth import Principal
from crmkit.events import unpack_payload
from crmkit.visibility import masked_message

_NAMESPACE = uuid.UUID("6f1d2c3e-9a4b-4e5f-8a7b-0c1d2e3f4a5b")


def delivery_id(subscription_id: str, event_id: str) -> str:
    """Stable for one event and one subscription: a redelivered event (or a replay) carries the
    same id, so a receiver dedupes on it."""
    return str(uuid.uuid5(_NAMESPACE, f"{subscription_id}/{event_id}"))


def body(env: EventEnvelope, *, name: str, delivery: str, owner: Principal) -> bytes:
    data = masked_message(owner, unpack_payload(env))
    document = {
        "id": delivery,
        "type": name,
        "event_id": env.event_id,
        "subject": env.event_type,
        "occurred_at": env.occurred_at.ToJsonString(),
        "producer": env.producer,
        "aggregate": {"type": env.aggregate_type, "id": env.aggregate_id, "version": env.aggregate_version},
        "data": MessageToDict(data, preserving_proto_field_name=True),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
