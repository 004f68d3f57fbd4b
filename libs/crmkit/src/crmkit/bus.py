"""NATS JetStream plumbing: connection with endless reconnects, one stream per producing service
(file storage, created idempotently), and a background asyncio loop for sync code to use."""
from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from crmkit import logs

log = logs.get("crmkit.bus")
DUPLICATE_WINDOW_SECONDS = 120.0


def stream_name(service: str) -> str:
    return service.upper()


def stream_subjects(service: str) -> list[str]:
    return [f"crm.{service}.>"]


async def connect(url: str, name: str) -> NATS:
    """Connect, retrying forever: a service must start even while NATS is still coming up."""

    async def _on_disconnect() -> None:
        log.warning("nats disconnected")

    async def _on_reconnect() -> None:
        log.info("nats reconnected")

    async def _on_error(exc: Exception) -> None:
        log.debug("nats error: %s", exc)

    return await nats.connect(
        servers=[url],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        ping_interval=5,
        max_outstanding_pings=2,
        disconnected_cb=_on_disconnect,
        reconnected_cb=_on_reconnect,
        error_cb=_on_error,
    )


def stream_replicas() -> int:
    """NATS_STREAM_REPLICAS (default 1): 3 on a 3-node JetStream cluster in production."""
    return int(os.environ.get("NATS_STREAM_REPLICAS", "1"))


async def ensure_stream(js: JetStreamContext, service: str) -> None:
    name = stream_name(service)
    config = StreamConfig(
        name=name,
        subjects=stream_subjects(service),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=30 * 24 * 3600.0,
        num_replicas=stream_replicas(),
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("created stream", extra={"fields": {"stream": name}})
            return
        except BadRequestError:
            pass  # another process created it between our two calls
    await js.update_stream(config)


class LoopThread:
    """An asyncio event loop on a daemon thread, for the relay and consumers of a sync service."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> LoopThread:
        self._thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 5.0) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
