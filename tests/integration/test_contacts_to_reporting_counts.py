"""Contacts and reporting in-process with one nats-server: the counts reporting serves are
exactly what the contacts service holds, after every kind of write, across a reporting restart
in the middle of the stream, and only over what the caller may see. It runs both real services,
so it lives with the tests that span services, not inside either one."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
import nats
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1.types_pb2 import PageRequest
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.reporting.v1 import reporting_pb2 as rpb
from crm.reporting.v1.reporting_pb2_grpc import ReportingServiceStub
from crm_contacts import bootstrap as contacts_bootstrap
from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap as reporting_bootstrap
from crmkit import bundles
from crmkit.auth import mint_token
from crmkit.config import ServiceSettings
from crmkit.events import parse_envelope
from crmkit.migrations import upgrade
from crmkit.service import Components, ServiceRuntime, ServiceSpec
from crmkit.testing import NatsServer, fresh_postgres_database, postgres_reachable, wait_for

pytestmark = pytest.mark.integration

SECRET = "reporting-integration-secret-0123456789abcdef"
TOKENS = {user: mint_token(principal, SECRET) for user, principal in DEMO_USERS.items()}


def _auth(user: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS[user]}")]


@dataclass
class Suite:
    nats: NatsServer
    contacts: ServiceRuntime
    reporting_settings: ServiceSettings
    contacts_stub: ContactsServiceStub
    channels: list[grpc.Channel]
    reporting: ServiceRuntime = field(init=False)
    reporting_stub: ReportingServiceStub = field(init=False)

    def contacts_call(self, user: str, rpc: str, request: Any) -> Any:
        return getattr(self.contacts_stub, rpc)(request, metadata=_auth(user), timeout=15)

    def counts(self, user: str = "admin", **kwargs: str) -> rpb.CustomerCounts:
        return self.reporting_stub.GetCustomerCounts(rpb.GetCustomerCountsRequest(**kwargs), metadata=_auth(user),
                                                     timeout=15)

    def start_reporting(self, pace: float = 0.0) -> None:
        spec = reporting_bootstrap.spec()
        if pace:
            spec = replace(spec, compose=_paced(spec, pace))
        self.reporting = ServiceRuntime(spec, self.reporting_settings).start()
        channel = grpc.insecure_channel(self.reporting.address)
        self.channels.append(channel)
        self.reporting_stub = ReportingServiceStub(channel)


def _paced(spec: ServiceSpec, pace: float) -> Any:
    """Reporting's composition with its handler slowed by `pace` seconds an event: however fast
    this machine, a test can then stop reporting while a backlog is still being worked off."""
    def compose(db: Any, settings: ServiceSettings) -> Components:
        parts = spec.compose(db, settings)
        inner = parts.handler
        assert inner is not None

        def handle(uow: Any, env: Any) -> None:
            time.sleep(pace)
            inner(uow, env)
        return replace(parts, handler=handle)
    return compose


def _backends() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(
            not postgres_reachable(), reason="PostgreSQL at 127.0.0.1:5432 not reachable")),
    ]


@pytest.fixture(scope="module", params=_backends())
def suite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    # A nats-server of its own: a fresh CONTACTS stream and a fresh "reporting" durable per backend.
    nats_server = NatsServer(tmp_path_factory.mktemp("reporting-nats")).start()
    with fresh_database(request.param, tmp_path_factory, "contacts") as contacts_url, \
            fresh_database(request.param, tmp_path_factory, "reporting") as reporting_url:
        contacts_spec = contacts_bootstrap.spec()
        upgrade(contacts_url, contacts_spec.migrations)
        upgrade(reporting_url, reporting_bootstrap.spec().migrations)
        common = {"NATS_URL": nats_server.url, "PORT": "0", "METRICS_PORT": "0", "JWT_SECRET": SECRET,
                  "DATA_DIR": str(tmp_path_factory.mktemp("reporting-data"))}  # contacts' search index
        contacts = ServiceRuntime(contacts_spec, ServiceSettings.from_env(
            "contacts", env={**common, "CONTACTS_DATABASE_URL": contacts_url})).start()
        # small batches: the restart test must be able to stop reporting in the middle of a backlog
        reporting_settings = ServiceSettings.from_env(
            "reporting", env={**common, "REPORTING_DATABASE_URL": reporting_url, "CONSUMER_BATCH": "5"})
        channel = grpc.insecure_channel(contacts.address)
        suite = Suite(nats_server, contacts, reporting_settings, ContactsServiceStub(channel), [channel])
        suite.start_reporting()
        try:
            yield suite
        finally:
            for ch in suite.channels:
                ch.close()
            suite.reporting.stop()
            contacts.stop()
            nats_server.stop()


@contextmanager
def fresh_database(backend: str, tmp: pytest.TempPathFactory, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp.mktemp(name) / f'{name}.db'}"
    else:
        with fresh_postgres_database(f"crm_{name}_test") as url:
            yield url


# -- the truth, from the contacts service itself ------------------------------------------------

def live_contacts(suite: Suite, user: str = "admin") -> list[cpb.Contact]:
    found: list[cpb.Contact] = []
    token = ""
    while True:
        page = suite.contacts_call(user, "ListContacts", cpb.ListContactsRequest(
            page=PageRequest(page_size=200, page_token=token)))
        found.extend(page.contacts)
        token = page.page.next_page_token
        if not token:
            return found


def expected(contacts: list[cpb.Contact]) -> dict[str, Any]:
    return {
        "total": len(contacts),
        "by_source": dict(Counter(c.source or "unknown" for c in contacts)),
        "by_region": dict(Counter(c.region for c in contacts)),
        "by_level": dict(Counter(c.level or "unknown" for c in contacts)),
        "by_tag": dict(Counter(t for c in contacts for t in c.tags)),
        "new_per_day": dict(Counter(c.created_at.ToDatetime().date().isoformat() for c in contacts)),
    }


def served(counts: rpb.CustomerCounts) -> dict[str, Any]:
    return {
        "total": counts.total,
        "by_source": {b.key: b.count for b in counts.by_source},
        "by_region": {b.key: b.count for b in counts.by_region},
        "by_level": {b.key: b.count for b in counts.by_level},
        "by_tag": {b.key: b.count for b in counts.by_tag},
        "new_per_day": {d.day: d.count for d in counts.new_per_day},
    }


def stream_length(suite: Suite) -> int:
    """The events on the contacts stream (a bundle's count, crmkit.bundles); each once, however
    often the relay sent it."""
    async def read() -> int:
        nc = await nats.connect(suite.nats.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info("CONTACTS")
            ids: set[str] = set()
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg("CONTACTS", seq)
                carried = bundles.envelopes(msg.headers, msg.data)
                ids.update(parse_envelope(data).event_id for data in carried)
            return len(ids)
        finally:
            await nc.close()

    assert suite.contacts.relay is not None
    wait_for(lambda: suite.contacts.relay.backlog() == 0, timeout=20, what="contacts outbox drained")
    return asyncio.run(read())


def converged(suite: Suite, timeout: float = 30) -> dict[str, Any]:
    """Waits until reporting has applied every event on the stream, then checks the numbers."""
    events = stream_length(suite)
    wait_for(lambda: suite.counts().events_applied >= events, timeout=timeout,
             what=f"reporting to apply all {events} events")
    counts = suite.counts()
    assert counts.events_applied == events      # each event applied once: nothing lost, nothing twice
    truth = expected(live_contacts(suite))
    assert served(counts) == truth
    return truth


def create(suite: Suite, user: str, name: str, **fields: Any) -> cpb.Contact:
    return suite.contacts_call(user, "CreateContact", cpb.CreateContactRequest(
        contact=cpb.Contact(name=name, **fields), allow_duplicate=True))


# -- tests ---------------------------------------------------------------------------------------

def test_counts_are_exact_after_creates_updates_tags_deletes_and_merges(suite: Suite) -> None:
    a = create(suite, "rep.north.1", "张伟", source="website", level="vip", tags=["展会", "key"])
    b = create(suite, "rep.north.1", "王芳", source="trade_show", level="regular", tags=["展会"])
    c = create(suite, "rep.north.2", "李娜", source="website")
    d = create(suite, "rep.south.1", "刘洋", source="ads", level="vip", tags=["key"])
    e = create(suite, "rep.south.2", "Emily", source="referral", level="prospect")
    f = create(suite, "rep.south.1", "刘洋 (重复)", source="ads", tags=["官网"])
    suite.contacts_call("rep.north.1", "LogInteraction", cpb.LogInteractionRequest(
        interaction=cpb.Interaction(contact_id=a.id, kind="call", subject="首次电话")))   # not a customer change
    truth = converged(suite)
    assert truth["total"] == 6 and truth["by_source"] == {"website": 2, "trade_show": 1, "ads": 2, "referral": 1}
    assert truth["by_region"] == {"north": 3, "south": 3} and truth["by_tag"] == {"展会": 2, "key": 2, "官网": 1}
    assert truth["by_level"] == {"vip": 2, "regular": 1, "unknown": 2, "prospect": 1}

    suite.contacts_call("rep.north.2", "UpdateContact", cpb.UpdateContactRequest(
        contact=cpb.Contact(id=c.id, level="vip", source="event"), update_mask=FieldMask(paths=["level", "source"])))
    suite.contacts_call("rep.north.1", "TagContact", cpb.TagContactRequest(id=b.id, add=["key"], remove=["展会"]))
    suite.contacts_call("rep.south.2", "DeleteContact", cpb.DeleteContactRequest(id=e.id))
    suite.contacts_call("manager.south", "MergeContacts", cpb.MergeContactsRequest(survivor_id=d.id, merged_ids=[f.id]))
    truth = converged(suite)
    assert truth["total"] == 4
    assert truth["by_source"] == {"website": 1, "trade_show": 1, "event": 1, "ads": 1}
    assert truth["by_level"] == {"vip": 3, "regular": 1}
    assert truth["by_tag"] == {"展会": 1, "key": 3, "官网": 1}   # the merged record's tag lives on the survivor
    assert truth["by_region"] == {"north": 3, "south": 1}
    north = suite.counts(region="north")
    assert north.total == 3 and {b.key: b.count for b in north.by_region} == {"north": 3}


def _burst(suite: Suite, start: int, count: int) -> None:
    """Creates, plus a delete of every 7th and a tag on every 5th: about 1.3 events per customer."""
    for i in range(start, start + count):
        user = ("rep.north.1", "rep.north.2", "rep.south.1", "rep.south.2")[i % 4]
        contact = create(suite, user, f"批量客户{i:03d}", source=("website", "ads", "")[i % 3],
                         level=("vip", "regular", "prospect", "")[i % 4], tags=[f"批次{i % 5}"])
        if i % 7 == 0:
            suite.contacts_call(user, "DeleteContact", cpb.DeleteContactRequest(id=contact.id))
        elif i % 5 == 0:
            suite.contacts_call(user, "TagContact", cpb.TagContactRequest(id=contact.id, add=["复购"]))


def test_counts_stay_exact_when_reporting_restarts_mid_stream(suite: Suite) -> None:
    converged(suite)
    suite.reporting.stop()
    _burst(suite, 0, 120)                 # a backlog builds up while reporting is down
    backlog_end = stream_length(suite)

    suite.start_reporting(pace=0.005)     # ~1 s for the backlog: time to stop it in the middle
    applied = suite.counts().events_applied
    wait_for(lambda: suite.counts().events_applied >= applied + 10, what="reporting to work on the backlog")
    at_stop = suite.counts().events_applied
    suite.reporting.stop()                # in the middle of the backlog
    assert at_stop < backlog_end, "reporting caught up before it was stopped: nothing was mid-stream"

    _burst(suite, 120, 20)
    suite.start_reporting()
    # well under the consumer's 30 s ack_wait: a stop that left fetched messages unacknowledged
    # would stall the restarted consumer until JetStream redelivers them
    truth = converged(suite, timeout=20)
    batches = sum(truth["by_tag"].get(f"批次{i}", 0) for i in range(5))
    assert batches == 140 - len(range(0, 140, 7))
    assert truth["by_tag"]["复购"] == len([i for i in range(140) if i % 5 == 0 and i % 7 != 0])


@pytest.fixture(scope="module")
def everyone_has_customers(suite: Suite) -> None:
    for user in ("rep.north.1", "rep.north.2", "rep.south.1", "rep.south.2"):
        create(suite, user, f"{user} 的老客户", source="referral", level="vip", tags=["老客户"])
    create(suite, "admin", "总部客户")   # no region: no manager may count it
    converged(suite)


@pytest.mark.parametrize("user", ["rep.north.1", "rep.north.2", "rep.south.1", "rep.south.2", "manager.north",
                                  "manager.south"])
def test_each_user_counts_only_the_customers_they_may_see(suite: Suite, everyone_has_customers: None,
                                                          user: str) -> None:
    visible = live_contacts(suite, user)
    mine = served(suite.counts(user))
    assert mine == expected(visible)
    assert 0 < mine["total"] < suite.counts().total
    if user.startswith("rep."):
        assert {c.owner_id for c in visible} == {user}
    else:
        assert {c.region for c in visible} == {user.split(".")[1]}
