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
from nats.js.api import ConsumerConfig, DiscardPolicy, Header, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from crmkit import logs, retention
from crmkit.config import TlsSettings
from crmkit.tls import nats_context

log = logs.get("crmkit.bus")
DUPLICATE_WINDOW_SECONDS = 120.0


def stream_name(service: str) -> str:
    return service.upper()


def stream_subjects(service: str) -> list[str]:
    return [f"crm.{service}.>"]


async def connect(url: str, name: str, *, on_reconnect: Callable[[], Awaitable[None]] | None = None,
                  tls: TlsSettings | None = None) -> NATS:
    """Connect, retrying forever: a service must start even while NATS is still coming up. Over TLS
    when NATS_TLS_CA_FILE is set (crmkit.tls; `tls` overrides the environment)."""
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

    options: dict[str, Any] = {  # nats-py types reconnect_time_wait as int; it takes seconds as float
        "servers": [url], "name": name, "max_reconnect_attempts": -1, "reconnect_time_wait": 0.5,
        "connect_timeout": 2, "ping_interval": 5, "max_outstanding_pings": 2,
        "disconnected_cb": _on_disconnect, "reconnected_cb": _on_reconnect, "error_cb": _on_error,
    }
    context = nats_context(TlsSettings.from_env() if tls is None else tls)
    if context is not None:
        options["tls"] = context
    await nc.connect(**options)
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
        max_age=retention.stream_max_age(),  # RETENTION_STREAM_DAYS
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


class Pull:
    """A durable pull consumer with at most one pull request open at a time, driven by its reader.

    Idle, one request for ONE message stays open (`expires`, with idle heartbeats), so the first
    event arrives at once. While the reader lingers nothing is requested: the server holds what
    follows, and events that trickle in cost no wake-up each. Then `drain(n)` asks with no_wait for
    what is pending, and the server answers at once with up to n messages (then 404 if it had
    fewer).

    The client never gives up on a request. The lingering fetches that did (timeout before the
    server's expiry) left the server gathering messages for nobody, and those waited out ack_wait:
    a ~0.5 s lag tail. Here the inbox lives as long as the consumer, and each message the server
    sends reaches `deliver(msg, pull)`, which takes it (False: not taken, it is nak'ed at once). On
    close the inbox is drained with the server's confirmation, so nothing is left to wait out
    ack_wait. Missing heartbeats mean the request was lost (the server restarted): we pull again."""

    def __init__(
        self, nc: NATS, js: JetStreamContext, *, producer: str, durable: str, config: ConsumerConfig,
        deliver: Callable[[Msg, Pull], bool], expires: float = 30.0, heartbeat: float = 2.0,
    ) -> None:
        self.producer, self.stream, self.durable = producer, stream_name(producer), durable
        self.expires, self.heartbeat = expires, heartbeat
        self._nc, self._js, self._config, self._deliver = nc, js, config, deliver
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{durable}"
        self._idle_request = json.dumps(
            {"batch": 1, "expires": _ns(expires), "idle_heartbeat": _ns(heartbeat)}).encode()
        self._sub: Subscription | None = None
        self._request: str | None = None  # "idle", "drain" or None: what the server holds of ours
        self._asked = self._got = 0
        self._drained: asyncio.Future[bool] | None = None
        self._want_idle = True
        self._heard = 0.0
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def holding(self) -> bool:
        """Started, and nothing requested: what arrives next waits on the server for a drain."""
        return self._sub is not None and self._request is None

    async def start(self) -> None:
        """Find or create the durable consumer (retrying until NATS answers), open the inbox, and
        pull idle."""
        await self._ensure_consumer()
        self._sub = await self._nc.subscribe(self._nc.new_inbox(), cb=self._on_msg)
        self._spawn(self._watchdog())
        await self.idle()

    async def idle(self) -> None:
        """Keep one request for the next message open until it comes."""
        self._want_idle = True
        if self.holding:
            self._request = "idle"
            await self._ask(self._idle_request)

    async def drain(self, n: int, timeout: float = 2.0) -> bool:
        """Ask for up to n pending messages, now; True when n came (more may be waiting)."""
        self._want_idle = False
        if not self.holding:
            return False
        loop = asyncio.get_running_loop()
        self._request, self._asked, self._got = "drain", n, 0
        done: asyncio.Future[bool] = loop.create_future()
        self._drained = done
        timer = loop.call_later(timeout, self._finish, False)  # an answer lost with the connection
        await self._ask(b'{"batch": %d, "no_wait": true}' % n)
        try:
            return await done
        finally:
            timer.cancel()

    async def _ask(self, request: bytes) -> None:
        assert self._sub is not None
        self._heard = asyncio.get_running_loop().time()
        try:
            await self._nc.publish(self._next, request, reply=self._sub.subject)
        except Exception as exc:  # closed, or the reconnect buffer is full: the watchdog pulls again
            log.debug("pull request failed: %s", exc)

    def _finish(self, full: bool) -> None:
        if self._request == "drain":
            self._request = None
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(full)

    async def _on_msg(self, msg: Msg) -> None:
        self._heard = asyncio.get_running_loop().time()
        headers = msg.headers
        if headers and not msg.data and _STATUS in headers:
            await self._on_status(headers)
            return
        # A message of a request we had given up for lost (reconnect) counts as the current one's:
        # either way it is taken, and that is all that matters.
        if self._request == "idle":
            self._request = None
        elif self._request == "drain":
            self._got += 1
            if self._got >= self._asked:
                self._finish(True)
        if self._closing or not self._deliver(msg, self):
            with contextlib.suppress(Exception):
                await msg.nak()

    async def _on_status(self, headers: dict[str, str]) -> None:
        status = headers.get(_STATUS)
        if status == "100":
            return  # idle heartbeat
        was = self._request
        self._request = None
        self._finish(False)
        if status in ("404", "408"):  # no_wait found no more / the idle request expired
            if was == "idle" and self._want_idle:
                await self.idle()
            return
        # 409 (max waiting, leadership change, consumer deleted), 503 (no consumer to answer):
        # find or create the consumer again, and pull idle after a pause, not in a tight loop.
        log.warning("pull on %s answered %s %s", self.stream, status, headers.get(Header.DESCRIPTION, ""))
        self._spawn(self._recover(pause=0.5))

    async def _recover(self, pause: float = 0.0) -> None:
        await asyncio.sleep(pause)
        await self._ensure_consumer()
        if self._want_idle:
            await self.idle()

    async def reconnected(self) -> None:
        """A restarted server forgot our request (a surviving one may still hold it: then two are
        open for a while, which is harmless)."""
        self._request = None
        self._finish(False)
        if self._want_idle:
            await self.idle()

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

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            await asyncio.sleep(self.heartbeat)
            silent = loop.time() - self._heard
            if self._request == "idle" and self._nc.is_connected and silent > 2 * self.heartbeat + 0.5:
                log.info("pull on %s silent for %.1fs, pulling again", self.stream, silent)
                self._request = None
                await self._recover()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def consumer_info(self) -> Any:
        return await self._js.consumer_info(self.stream, self.durable)

    async def close(self) -> None:
        """Unsubscribe and wait for the server to confirm; what arrives meanwhile is nak'ed."""
        self._closing = True
        self._finish(False)
        for task in list(self._tasks):
            task.cancel()
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
