"""NATS JetStream plumbing: connection with endless reconnects, one stream per producing service
(file storage, created idempotently), a long-lived pull on a durable consumer, and a background
asyncio loop for sync code to use."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from crmkit import logs

log = logs.get("crmkit.bus")
DUPLICATE_WINDOW_SECONDS = 120.0


def stream_name(service: str) -> str:
    return service.upper()


def stream_subjects(service: str) -> list[str]:
    return [f"crm.{service}.>"]


async def connect(url: str, name: str, *, on_reconnect: Callable[[], Awaitable[None]] | None = None) -> NATS:
    """Connect, retrying forever: a service must start even while NATS is still coming up."""
    nc = NATS()

    async def _on_disconnect() -> None:
        if not nc.is_closed:  # closing on purpose disconnects too
            log.warning("nats disconnected")

    async def _on_reconnect() -> None:
        log.info("nats reconnected")
        if on_reconnect is not None:
            await on_reconnect()

    async def _on_error(exc: Exception) -> None:
        log.debug("nats error: %s", exc)

    await nc.connect(
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
    return nc


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


_STATUS = "Status"


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class LongPull:
    """One durable pull consumer fed by pull requests that are kept open and topped up as messages
    are settled, instead of a fetch per batch.

    A fetch that the client gives up on before the server does leaves the server gathering messages
    for nobody, and those wait out ack_wait (measured: a ~0.5 s lag tail). Here the inbox lives as
    long as the consumer, so each message the server sends is seen. At most `max_in_flight` messages
    are requested or held unsettled at a time. Idle heartbeats tell a quiet stream from a pull lost
    with a restarted server. On close the inbox is drained and whatever still arrives is nak'ed, so
    the next instance gets it at once.

    `deliver(msg, pull)` takes a message (False: not taken, it is nak'ed); whoever takes messages
    calls `settled(n)` after acking or nak'ing them."""

    def __init__(
        self, nc: NATS, js: JetStreamContext, *, producer: str, durable: str, config: ConsumerConfig,
        deliver: Callable[[Msg, LongPull], bool], max_in_flight: int = 400, expires: float = 30.0,
        heartbeat: float = 2.0,
    ) -> None:
        self.producer, self.stream, self.durable = producer, stream_name(producer), durable
        self.max_in_flight, self.expires, self.heartbeat = max_in_flight, expires, heartbeat
        self.pending = 0  # requested from the server, not yet received
        self.held = 0     # received, not yet settled
        self._nc, self._js, self._config, self._deliver = nc, js, config, deliver
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{durable}"
        self._sub: Subscription | None = None
        self._heard = 0.0
        self._closing = False
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Find or create the durable consumer (retrying until NATS answers), open the inbox, pull."""
        await self._ensure_consumer()
        self._sub = await self._nc.subscribe(self._nc.new_inbox(), cb=self._on_msg)
        self._watch = asyncio.create_task(self._watchdog())
        await self.top_up()

    async def _ensure_consumer(self) -> None:
        while not self._closing:
            try:
                await ensure_stream(self._js, self.producer)
                try:
                    await self._js.consumer_info(self.stream, self.durable)
                except NotFoundError:
                    await self._js.add_consumer(self.stream, self._config)
                return
            except Exception as exc:
                log.warning("cannot subscribe to %s yet: %s", self.producer, exc)
                await asyncio.sleep(1.0)

    async def _on_msg(self, msg: Msg) -> None:
        self._heard = asyncio.get_running_loop().time()
        headers = msg.headers
        if headers and not msg.data and _STATUS in headers:
            await self._on_status(headers)
            return
        self.pending = max(0, self.pending - 1)
        self.held += 1
        if self._closing or not self._deliver(msg, self):
            self.held -= 1
            with contextlib.suppress(Exception):
                await msg.nak()
            return
        await self.top_up()

    async def _on_status(self, headers: dict[str, str]) -> None:
        status = headers.get(_STATUS)
        if status == "100":
            return  # idle heartbeat
        left = headers.get("Nats-Pending-Messages")
        # 408: a request expired, 409: one ended (max waiting, leadership change, ...); both say
        # how much of it was left unfilled. Without that, assume nothing is requested any more.
        self.pending = max(0, self.pending - int(left)) if left is not None else 0
        if status in ("408", "409") and "Deleted" not in headers.get("Description", ""):
            if status == "409":
                await asyncio.sleep(0.2)  # the server refused a request: do not spin on it
            await self.top_up()
        else:  # 404/503: no consumer to answer (deleted, or the stream is being recreated)
            log.warning("pull on %s answered %s %s", self.stream, status, headers.get("Description", ""))
            self.pending = 0
            await self._recover()

    async def top_up(self) -> None:
        """Request what is missing up to max_in_flight, once at least half of it is missing (one
        pull request per ~max_in_flight/2 messages, not one per batch)."""
        want = self.max_in_flight - self.pending - self.held
        if self._sub is None or self._closing or want < max(1, self.max_in_flight // 2):
            return
        self.pending += want
        self._heard = asyncio.get_running_loop().time()
        request = {"batch": want, "expires": _ns(self.expires), "idle_heartbeat": _ns(self.heartbeat)}
        try:
            await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._sub.subject)
        except Exception as exc:  # closed or the reconnect buffer is full: the watchdog retries
            self.pending -= want
            log.debug("pull request failed: %s", exc)

    async def settled(self, n: int) -> None:
        self.held = max(0, self.held - n)
        await self.top_up()

    async def reconnected(self) -> None:
        """A restarted server forgot our requests (a surviving one may still hold them; the credit
        is then twice max_in_flight for a while, which is harmless)."""
        self.pending = 0
        await self.top_up()

    async def _recover(self) -> None:
        await self._ensure_consumer()
        await self.top_up()

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            await asyncio.sleep(self.heartbeat)
            silent = loop.time() - self._heard
            if self.pending and self._nc.is_connected and silent > 2 * self.heartbeat + 0.5:
                log.info("pull on %s silent for %.1fs, pulling again", self.stream, silent)
                self.pending = 0
                try:
                    await self._recover()
                except Exception as exc:
                    log.debug("pulling again failed: %s", exc)

    async def consumer_info(self) -> Any:
        return await self._js.consumer_info(self.stream, self.durable)

    async def close(self) -> None:
        """Unsubscribe and wait for the server to confirm; what arrives meanwhile is nak'ed."""
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
        if self._sub is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._sub.drain(), 5.0)


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
