"""A consumer opens the sealed fields only of the event types its handler reads them from
(`opens`): the others reach the handler sealed, and no key is asked for them."""
from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from crm.common.v1.envelope_pb2 import EventEnvelope, SealedFields
from crmkit.consumer import EventConsumer

CREATED, WON = "crm.contacts.contact.created", "crm.sales.opportunity.won"


class _Keys:
    def __init__(self) -> None:
        self.opened: list[str] = []

    def cached(self, key_ids: Iterable[str]) -> tuple[dict[str, bytes | None], list[str]]:
        return {}, list(key_ids)

    def open_all(self, envs: Sequence[EventEnvelope]) -> None:
        self.opened.extend(e.event_id for e in envs)


def _sealed(event_id: str, event_type: str) -> EventEnvelope:
    return EventEnvelope(event_id=event_id, event_type=event_type,
                         sealed=SealedFields(key_id=f"contacts/contact/{event_id}", ciphertext=b"x"))


def _consumer(keys: Any, opens: Any) -> EventConsumer:
    return EventConsumer(db=None, nats_url="", service="reporting", streams=[], handler=lambda uow, env: None,  # type: ignore[arg-type]
                         keys=keys, opens=opens)


def test_only_the_event_types_the_handler_reads_sealed_fields_of_are_opened() -> None:
    keys = _Keys()
    envs = [_sealed("e1", CREATED), _sealed("e2", WON)]
    asyncio.run(_consumer(keys, lambda event_type: event_type != CREATED)._unseal(envs))
    assert keys.opened == ["e2"]
    assert envs[0].sealed.ciphertext == b"x"  # reaches the handler as it was published


def test_without_opens_every_sealed_event_is_opened() -> None:
    keys = _Keys()
    asyncio.run(_consumer(keys, None)._unseal([_sealed("e1", CREATED), _sealed("e2", WON)]))
    assert keys.opened == ["e1", "e2"]
