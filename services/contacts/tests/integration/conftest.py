"""The contacts service for real: its runtime in-process on a free port (crmkit.testing's
ServiceHarness over `bootstrap.spec()`), the session's nats-server, and a fresh database per test
module on SQLite and, when reachable, PostgreSQL. Helpers call it as the demo users would and read
what it put on JetStream."""
from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import nats
import pytest
from sqlalchemy import func, select

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1.contacts_pb2 import Contact
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm_contacts import bootstrap, store
from crm_contacts.tables import metadata as contacts_metadata
from crm_devtools.users import DEMO_USERS
from crmkit import bundles, bus, shredding
from crmkit.auth import Principal
from crmkit.errors import ERROR_DETAILS_KEY, ERROR_FIELD_KEY, decode_field
from crmkit.events import Envelope, parse_envelope
from crmkit.runtime_tables import runtime_metadata
from crmkit.service import ServiceRuntime
from crmkit.testing import (
    Caller,
    NatsServer,
    ServiceHarness,
    fresh_postgres_database,
    postgres_reachable,
    wait_for,
)

JWT_SECRET = "contacts-integration-secret-0123456789abcdef"
USERS: dict[str, Principal] = {
    **DEMO_USERS,
    "support.1": Principal("support.1", ("support",), "support", "", "客服 Support"),
}


def _backends() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(
            not postgres_reachable(), reason="PostgreSQL at 127.0.0.1:5432 not reachable")),
    ]


@pytest.fixture(scope="module", params=_backends())
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like the root `database_url`, but one fresh database per test module, so one server
    serves all of a module's tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('contacts-db') / 'contacts.db'}"
    else:
        with fresh_postgres_database("crm_contacts_test") as url:
            yield url


@pytest.fixture(scope="module")
def harness(module_database_url: str, nats_server: NatsServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceHarness]:
    """One contacts runtime per test module; its DATA_DIR holds the search index."""
    service = ServiceHarness("contacts", bootstrap.spec, url=module_database_url, nats_url=nats_server.url,
                             tmp=tmp_path_factory.mktemp("contacts-data"), secret=JWT_SECRET, users=USERS)
    service.migrate().start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def contacts(harness: ServiceHarness) -> ServiceRuntime:
    """The running service: its database, relay, workers and address."""
    return harness.runtime  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api(harness: ServiceHarness) -> Callable[[str], Caller]:
    """`api(user)`: the contacts stub as that user (bearer token, a deadline on every call, and
    `key=` for an idempotency key), one client per user."""
    clients: dict[str, Caller] = {}

    def as_user(user: str) -> Caller:
        if user not in clients:
            clients[user] = harness.as_user(user, ContactsServiceStub)
        return clients[user]

    return as_user


class Failure:
    """A call that must fail: its status code, the field it names and its details."""

    def __init__(self, code: grpc.StatusCode, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        with pytest.raises(grpc.RpcError) as info:
            call(*args, **kwargs)
        err = info.value
        assert err.code() == code, f"expected {code.name}, got {err.code().name}: {err.details()}"
        trailers = dict(err.trailing_metadata() or ())
        self.message: str = err.details() or ""
        self.field: str | None = decode_field(trailers.get(ERROR_FIELD_KEY)) or None
        raw = trailers.get(ERROR_DETAILS_KEY)
        self.details: dict[str, Any] = json.loads(raw) if raw else {}


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return JWT_SECRET


@pytest.fixture(scope="session")
def fails() -> type[Failure]:
    """`fails(StatusCode.X, api.Method, request)` asserts the code and returns the Failure."""
    return Failure


_phone_numbers = itertools.count(10_000_000)
_emails = itertools.count(1)


@pytest.fixture
def new_phone() -> Callable[[], str]:
    """A valid mainland mobile number nobody used yet, as a person would type it."""
    def make() -> str:
        n = next(_phone_numbers)
        return f"+86 139-{n // 10_000:04d}-{n % 10_000:04d}"
    return make


@pytest.fixture
def new_email() -> Callable[[], str]:
    return lambda: f"Person.{next(_emails)}@Example.COM"


# -- JetStream ---------------------------------------------------------------------------------

class StreamReader:
    """Reads the CONTACTS stream (incrementally: it only grows) and picks the events of some
    aggregates, in stream order."""

    def __init__(self, url: str, stream: str = "CONTACTS") -> None:
        self.url, self.stream = url, stream
        self.messages: list[tuple[str, dict[str, str], EventEnvelope]] = []
        self._next_seq = 1

    async def _fetch(self) -> None:
        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(self.stream)
            for seq in range(max(self._next_seq, info.state.first_seq), info.state.last_seq + 1):
                msg = await js.get_msg(self.stream, seq)
                headers = dict(msg.headers or {})
                carried = bundles.envelopes(headers, msg.data)
                self.messages.extend((msg.subject, headers, parse_envelope(data)) for data in carried)
                self._next_seq = seq + 1
        finally:
            await nc.close()

    def events(self, runtime: ServiceRuntime, *aggregate_ids: str) -> list[tuple[str, EventEnvelope]]:
        """Waits until the runtime's outbox is empty (everything acknowledged by JetStream), then
        returns (subject, envelope) of every event about these aggregates."""
        assert runtime.relay is not None
        wait_for(lambda: runtime.relay.backlog() == 0, timeout=20, what="outbox backlog back to 0")
        asyncio.run(self._fetch())
        ids = set(aggregate_ids)
        picked = []
        for subject, headers, env in self.messages:
            if env.aggregate_id in ids:
                if bundles.is_bundle(headers):  # a bulk write's events, several in one message
                    assert subject == bundles.subject("contacts")
                else:
                    assert headers.get("Nats-Msg-Id") == env.event_id and env.event_type == subject
                assert env.producer == "contacts"
                picked.append((env.event_type, self._opened(runtime, env)))
        event_ids = [env.event_id for _, env in picked]
        assert len(event_ids) == len(set(event_ids)), "an event reached the stream twice"
        return picked

    @staticmethod
    def _opened(runtime: ServiceRuntime, env: EventEnvelope) -> EventEnvelope:
        """The event as a consumer sees it: its personal fields travel sealed (crmkit.shredding),
        opened here with the service's own keys."""
        with runtime.db.read() as session:
            return parse_envelope(shredding.open_local(session, env.SerializeToString()))

    def subjects(self, runtime: ServiceRuntime, *aggregate_ids: str) -> list[str]:
        return [subject for subject, _ in self.events(runtime, *aggregate_ids)]


@pytest.fixture(scope="module")
def stream(nats_server: NatsServer) -> StreamReader:
    return StreamReader(nats_server.url)


# -- database ----------------------------------------------------------------------------------

COUNTED_TABLES = ("contacts", "accounts", "entity_tags", "entity_identities", "timeline_entries",
                  "custom_field_definitions", "contact_merges", "audit_log", "crm_outbox",
                  "crm_idempotency_keys")


@pytest.fixture
def row_counts(contacts: ServiceRuntime) -> Callable[[], dict[str, int]]:
    """Rows per table: proves that a refused call wrote nothing at all."""
    tables = {**contacts_metadata.tables, **runtime_metadata.tables}

    def count() -> dict[str, int]:
        with contacts.db.read() as session:
            return {name: session.execute(select(func.count()).select_from(tables[name])).scalar_one()
                    for name in COUNTED_TABLES}

    return count


@pytest.fixture
def stored(contacts: ServiceRuntime) -> Callable[[str], Any]:
    """The stored snapshot of a contact, including deleted or merged ones the API hides."""
    def load(contact_id: str) -> Any:
        with contacts.db.read() as session:
            return store.load(session, Contact, contact_id)
    return load


class Publisher:
    """Publishes envelopes to a producer's stream as that producer's relay would, and waits until
    the contacts consumer has acknowledged them."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _publish(self, producer: str, subject: str, data: bytes, msg_id: str | None) -> int:
        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            await bus.ensure_stream(js, producer)
            headers = {"Nats-Msg-Id": msg_id} if msg_id else None
            ack = await js.publish(subject, data, headers=headers)
            return int(ack.seq)
        finally:
            await nc.close()

    def publish(self, producer: str, envelope: Envelope, *, msg_id: str | None = None) -> int:
        """Returns the stream sequence. msg_id defaults to the event id (JetStream then drops a
        re-publish); pass another to store a second copy, i.e. a duplicate delivery."""
        return asyncio.run(self._publish(producer, envelope.subject, envelope.data, msg_id or envelope.event_id))

    async def _acked(self, producer: str, seq: int) -> bool:
        nc = await nats.connect(self.url)
        try:
            info = await nc.jetstream().consumer_info(bus.stream_name(producer), "contacts")
            return info.ack_floor.stream_seq >= seq and info.num_ack_pending == 0
        except Exception:
            return False
        finally:
            await nc.close()

    def wait_consumed(self, producer: str, seq: int, timeout: float = 20) -> None:
        wait_for(lambda: asyncio.run(self._acked(producer, seq)), timeout=timeout, interval=0.1,
                 what=f"the contacts consumer to acknowledge {producer} #{seq}")


@pytest.fixture(scope="module")
def publisher(nats_server: NatsServer) -> Publisher:
    return Publisher(nats_server.url)
