"""crm_outbox_oldest_age_seconds: how late a service's events are. It shows the age of the
oldest row JetStream has not taken while publishing fails, and drops to 0 once it is sent."""
from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest
from nats.js.errors import APIError
from prometheus_client import REGISTRY
from sqlalchemy import update

from crmkit import bus
from crmkit.events import utcnow
from crmkit.outbox import OutboxRelay
from crmkit.runtime_tables import outbox_row

pytestmark = pytest.mark.integration


class RefusingJetStream:
    async def publish_async(self, *_: Any, **__: Any) -> Any:
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(APIError(description="no responders"))
        return failed


def _age(service: str) -> float:
    value = REGISTRY.get_sample_value("crm_outbox_oldest_age_seconds", {"service": service})
    assert value is not None, "the relay exports no backlog age"
    return value


def test_the_backlog_age_is_the_oldest_waiting_rows_and_zero_once_published(  # type: ignore[no-untyped-def]
        db, killable_nats, producer, rt) -> None:
    event = rt.make_event(producer, "late")
    with db.unit_of_work() as uow:
        uow.emit(event)
        uow.commit()
    with db.unit_of_work() as uow:  # committed ten minutes ago, and still not on the stream
        uow.session.execute(update(outbox_row).values(created_at=utcnow() - timedelta(minutes=10)))
        uow.commit()

    async def run() -> tuple[float, float]:
        relay = OutboxRelay(db, nats_url=killable_nats.url, service=producer, mark_interval=0)
        with contextlib.suppress(APIError):
            await relay._relay_once(RefusingJetStream())  # type: ignore[arg-type]
        waiting = _age(producer)
        nc = await bus.connect(killable_nats.url, "age-test")
        js = nc.jetstream(timeout=5)
        await bus.ensure_stream(js, producer)
        await relay._relay_once(js)
        relay._backlog_reported = 0.0  # the next cycle reports again (it does once a second)
        await relay._relay_once(js)
        await nc.close()
        return waiting, _age(producer)

    waiting, after = asyncio.run(run())
    assert waiting >= 600
    assert after == 0
