"""Bundles: several outbox rows in one NATS message.

A bulk import commits thousands of events a second. One message per event cost the bus more than
anything the consumers did with it: the relay's publish and ack, nats-server storing the message
and delivering it to every consumer, each consumer's ack. The relay therefore packs a batch's rows
of distinct aggregates (one wave of `OutboxRelay._publish`) into bundles when a wave is large,
and `EventConsumer` expands a bundle into its envelopes before the inbox claim. Handlers, the
inbox and the dead letters see single events, as before. A wave's rows hold each aggregate once,
so the order within a bundle does not matter; waves are still published one after the other.

On the stream a bundle is an `EventBundle` under `crm.<producer>.bundle` (three tokens: no event
type can take that subject), with a `Crm-Bundle` header counting its events and a Nats-Msg-Id
derived from its events' ids, so a relay that sends the same bundle again is de-duplicated by
JetStream, and one that bundles differently after a restart by the consumers' inboxes.

Consumers must understand bundles before a producer sends them: in a rolling upgrade from a
version without them, set OUTBOX_BUNDLE_EVENTS=1 (no bundles) until every consumer runs this one."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TypeVar

from crm.common.v1.envelope_pb2 import EventBundle

HEADER = "Crm-Bundle"
_T = TypeVar("_T")


def subject(producer: str) -> str:
    return f"crm.{producer}.bundle"


def headers(event_ids: Sequence[str]) -> dict[str, str]:
    """The headers of a bundle of these events: its size, and an id JetStream de-duplicates."""
    digest = hashlib.sha256("\n".join(event_ids).encode()).hexdigest()[:32]
    return {HEADER: str(len(event_ids)), "Nats-Msg-Id": f"bundle-{digest}"}


def pack(envelopes: Sequence[bytes]) -> bytes:
    return EventBundle(envelopes=envelopes).SerializeToString()


def is_bundle(message_headers: Mapping[str, str] | None) -> bool:
    return message_headers is not None and HEADER in message_headers


def size(message_headers: Mapping[str, str] | None) -> int:
    """How many events a message carries, read off its header without parsing it (1 for a
    single event; a malformed header counts 1 and the message fails as it is parsed)."""
    if not message_headers or HEADER not in message_headers:
        return 1
    try:
        return max(1, int(message_headers[HEADER]))
    except ValueError:
        return 1


def unpack(data: bytes) -> list[bytes]:
    """The serialized envelopes of a bundle, in order; raises DecodeError or ValueError when the
    message is no bundle or an empty one."""
    bundle = EventBundle.FromString(data)
    if not bundle.envelopes:
        raise ValueError("empty event bundle")
    return list(bundle.envelopes)


def envelopes(message_headers: Mapping[str, str] | None, data: bytes) -> list[bytes]:
    """The serialized envelopes a message carries: itself, or its bundle's."""
    return unpack(data) if is_bundle(message_headers) else [data]


def split(items: Sequence[_T], sizes: Sequence[int], *, max_events: int, max_bytes: int) -> Iterator[list[_T]]:
    """Consecutive chunks of `items` with at most `max_events` items and, unless one item alone
    is larger, at most `max_bytes` of `sizes` each."""
    chunk: list[_T] = []
    total = 0
    for item, n in zip(items, sizes, strict=True):
        if chunk and (len(chunk) >= max_events or total + n > max_bytes):
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += n
    if chunk:
        yield chunk
