"""Issue 14's multi-replica test: sales, support and reporting at two replicas each, as OS
processes, each service on a PostgreSQL database of its own, one nats-server. Four clients at
once (contacts, leads, tasks with a reminder due in seconds, urgent tickets whose SLA warnings are
due at once and whose breaches a minute later) call the replicas round robin through gRPC; once
half the writes are acknowledged one replica of each service is killed with SIGKILL, calls in
flight. A failed call is retried on the next replica with the same idempotency key. Then:

- 0 acknowledged writes lost: every id a write returned is stored;
- 0 duplicate effects: a write sent twice with its key (every third one, as a client that missed
  the answer does) made one record; every outbox row is on its stream once, in its aggregate's
  commit order; reporting applied each event once and its counts equal the sources' rows;
- every reminder and every SLA warning, breach and escalation that fell due fired exactly once
  (the support and sales schedulers tick every 0.5 s in both replicas, under their leases).

Contacts runs its customer search on the index in its own PostgreSQL database
(SEARCH_ENGINE=database, crmkit.search.database), which both replicas share: the embedded index
is per process and refuses a second replica (tests/integration/test_embedded_search_one_replica.py),
and OpenSearch cannot run on this machine. The killed contacts replica is then replaced, as its
Deployment would, and every acknowledged contact must be found by search through either
replica, whichever one wrote it (a replacement catches up on what a killed replica had
published but not yet indexed)."""
from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import create_engine, text

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.reporting.v1 import reporting_pb2 as rpb
from crm.reporting.v1.reporting_pb2_grpc import ReportingServiceStub
from crm.sales.v1 import sales_pb2 as spb
from crm.sales.v1.sales_pb2_grpc import SalesServiceStub
from crm.support.v1 import support_pb2 as tpb
from crm.support.v1.support_pb2_grpc import SupportServiceStub
from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token
from crmkit.bus import stream_name
from crmkit.events import parse_envelope
from crmkit.testing import (
    NatsServer,
    ServiceProcess,
    free_port,
    fresh_postgres_database,
    postgres_reachable,
    wait_for,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL not reachable on 127.0.0.1:5432")]

SECRET = "replicas-kill-under-load-secret-0123456789abcdef"
SERVICES = ("contacts", "sales", "support", "reporting")
REPLICAS = {"contacts": 2, "sales": 2, "support": 2, "reporting": 2}
ROUNDS = 16          # each round: a contact, a lead, a task with a reminder, an urgent ticket
KILL_AT = ROUNDS // 2
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED}


@dataclass
class Replicated:
    """One service's replicas and a client that calls them round robin, retrying a failed call
    with the same idempotency key on the next replica."""

    name: str
    stub_type: Callable[[grpc.Channel], Any]
    procs: list[ServiceProcess] = field(default_factory=list)
    channels: list[grpc.Channel] = field(default_factory=list)
    retries: int = 0
    _turn: Iterator[int] = field(default_factory=lambda: itertools.count())

    def connect(self) -> None:
        for ch in self.channels:
            ch.close()
        self.channels = [grpc.insecure_channel(f"127.0.0.1:{p.port}") for p in self.procs]

    def call(self, user: str, rpc: str, request: Any, key: str = "", attempts: int = 150) -> Any:
        md = [("authorization", f"Bearer {mint_token(DEMO_USERS[user], SECRET)}")]
        if key:
            md.append(("crm-idempotency-key", key))
        for attempt in range(attempts):
            n = next(self._turn) % len(self.channels)
            try:
                return getattr(self.stub_type(self.channels[n]), rpc)(request, metadata=md, timeout=10)
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or attempt == attempts - 1:
                    raise
                self.retries += 1
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def call_on(self, n: int, user: str, rpc: str, request: Any) -> Any:
        """One call to replica `n`, no retry: what that replica answers."""
        md = [("authorization", f"Bearer {mint_token(DEMO_USERS[user], SECRET)}")]
        return getattr(self.stub_type(self.channels[n]), rpc)(request, metadata=md, timeout=10)


class Cluster:
    def __init__(self, tmp: Path, urls: dict[str, str], nats_server: NatsServer) -> None:
        self.tmp, self.urls, self.nats = tmp, urls, nats_server
        self.ports = {s: [free_port() for _ in range(REPLICAS[s])] for s in SERVICES}
        self.services = {
            "contacts": Replicated("contacts", ContactsServiceStub), "sales": Replicated("sales", SalesServiceStub),
            "support": Replicated("support", SupportServiceStub),
            "reporting": Replicated("reporting", ReportingServiceStub)}
        self.generation = 0

    def env(self, service: str, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_DATABASE_URL", "_SERVICE_ADDR"))}
        data = self.tmp / f"{service}-{port}-{self.generation}"  # each pod has its own DATA_DIR
        data.mkdir()
        env.update(PORT=str(port), METRICS_PORT=str(free_port()), NATS_URL=self.nats.url, JWT_SECRET=SECRET,
                   DATA_DIR=str(data), BIND_HOST="127.0.0.1", PYTHONUNBUFFERED="1", MALLOC_ARENA_MAX="2",
                   SUPPORT_SCHEDULER_INTERVAL="0.5", SALES_SCHEDULER_INTERVAL="0.5", GRPC_WORKERS="4",
                   SEARCH_ENGINE="database")
        env[f"{service.upper()}_DATABASE_URL"] = self.urls[service]
        for other in SERVICES:  # every replica, as a Service routes to the pods that are up
            env[f"{other.upper()}_SERVICE_ADDR"] = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in self.ports[other])
        return env

    def start(self, service: str, n: int) -> ServiceProcess:
        self.generation += 1
        port = self.ports[service][n]
        proc = ServiceProcess(f"{service}-{n}-{self.generation}", [sys.executable, "-m", f"crm_{service}"],
                              self.env(service, port), self.tmp, port).start(60)
        replicated = self.services[service]
        if n < len(replicated.procs):
            replicated.procs[n] = proc
        else:
            replicated.procs.append(proc)
        return proc

    def migrate(self, service: str) -> None:
        import subprocess

        subprocess.run([sys.executable, "-m", "crmkit.migrate", service], check=True, stdout=subprocess.DEVNULL,
                       env=self.env(service, self.ports[service][0]))

    def up(self) -> Cluster:
        for service in SERVICES:
            self.migrate(service)
        for service in SERVICES:
            for n in range(REPLICAS[service]):
                self.start(service, n)
            self.services[service].connect()
        return self

    def down(self) -> None:
        for replicated in self.services.values():
            for ch in replicated.channels:
                ch.close()
            for proc in replicated.procs:
                proc.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    # A nats-server of its own: the session's shared one holds other tests' events on the same
    # streams, and the checks below compare each stream with this cluster's outboxes.
    (tmp_path / "nats").mkdir()
    nats_server = NatsServer(tmp_path / "nats").start()
    try:
        with fresh_postgres_database("crm_rep_contacts") as c, fresh_postgres_database("crm_rep_sales") as s, \
                fresh_postgres_database("crm_rep_support") as t, fresh_postgres_database("crm_rep_reporting") as r:
            cluster = Cluster(tmp_path, {"contacts": c, "sales": s, "support": t, "reporting": r}, nats_server)
            try:
                yield cluster.up()
            finally:
                cluster.down()
    finally:
        nats_server.stop()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def stream_messages(nats_url: str, service: str) -> list[tuple[str, bytes]]:
    """(subject, data) of every message on a service's stream, in stream order."""
    async def read() -> list[tuple[str, bytes]]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            last = (await js.stream_info(stream_name(service))).state.last_seq
            found = []
            for seq in range(1, last + 1):
                msg = await js.get_msg(stream_name(service), seq)
                found.append((msg.subject or "", msg.data or b""))
            return found
        finally:
            await nc.close()
    return asyncio.run(read())


def published_in_order(cluster: Cluster, service: str) -> list[str]:
    """Asserts every outbox row of a service reached its stream exactly once and that the stream
    holds each aggregate's events in the order they were committed; returns the subjects in order."""
    url = cluster.urls[service]
    wait_for(lambda: rows(url, "SELECT count(*) FROM crm_outbox WHERE published_at IS NULL")[0][0] == 0, 30, 0.5,
             what=f"{service}'s outbox drained")
    committed = {event_id: row_id for row_id, event_id in rows(url, "SELECT id, event_id FROM crm_outbox")}
    messages = stream_messages(cluster.nats.url, service)
    stream = [parse_envelope(data) for _, data in messages]
    assert sorted(e.event_id for e in stream) == sorted(committed), f"{service}: stream and outbox differ"
    by_aggregate: dict[str, list[int]] = {}
    for env in stream:
        by_aggregate.setdefault(env.aggregate_id, []).append(committed[env.event_id])
    reordered = {a: ids for a, ids in by_aggregate.items() if ids != sorted(ids)}
    assert not reordered, f"{service}: events of one aggregate out of commit order on the stream: {reordered}"
    return [subject for subject, _ in messages]


def test_two_replicas_of_each_service_lose_and_repeat_nothing_when_one_is_killed(cluster: Cluster) -> None:
    contacts, sales, support, reporting = (cluster.services[s] for s in SERVICES)
    support.call("admin", "UpdateSupportSettings", tpb.UpdateSupportSettingsRequest(
        settings=tpb.SupportSettings(sla_policies=[tpb.SlaPolicy(
            id="urgent", name="Urgent", priority="urgent", first_response_minutes=1, resolution_minutes=1,
            warn_before_minutes=1, business_hours=False, supervisor_id="admin")]),  # warning due at once
        update_mask=FieldMask(paths=["sla_policies"])))

    acked: dict[str, list[str]] = {"contact": [], "lead": [], "task": [], "ticket": []}
    replayed: list[str] = []
    done = threading.Semaphore(0)

    def load(kind: str) -> None:
        """One client per kind of write, all four at once, so calls are in flight at the kill."""
        replicated, rpc, user = writes[kind]
        for i in range(ROUNDS):
            key = f"{kind}-{uuid.uuid4().hex}"
            request = _request(kind, i)
            record = replicated.call(user, rpc, request, key=key)
            acked[kind].append(record.id)
            if i % 3 == 0:  # the client did not see the answer and sends it again, to the next replica
                again = replicated.call(user, rpc, request, key=key)
                assert again.id == record.id, f"{kind} {i}: a retry with the same key made a second record"
                replayed.append(record.id)
            done.release()

    writes = {"contact": (contacts, "CreateContact", "rep.north.1"), "lead": (sales, "CreateLead", "rep.north.1"),
              "task": (sales, "CreateTask", "rep.north.1"), "ticket": (support, "CreateTicket", "agent.support")}
    with ThreadPoolExecutor(len(writes)) as pool:
        clients = [pool.submit(load, kind) for kind in writes]
        for _ in range(KILL_AT * len(writes)):  # half the writes acknowledged: kill one replica of each
            assert done.acquire(timeout=120), "the load stalled before the kill"
        for replicated in (contacts, sales, support, reporting):
            replicated.procs[0].kill()  # SIGKILL: no chance to flush anything
        for client in clients:
            client.result()
    assert contacts.retries and sales.retries and support.retries, "no call met the killed replicas"
    cluster.start("contacts", 0)  # the killed pod is replaced, as its Deployment does
    contacts.connect()
    tickets, tasks = acked["ticket"], acked["task"]

    # Every acknowledged write is there, once.
    for kind, table, url in (("contact", "contacts", "contacts"), ("lead", "leads", "sales"),
                             ("task", "tasks", "sales"), ("ticket", "tickets", "support")):
        stored = [r[0] for r in rows(cluster.urls[url], f"SELECT id FROM {table}")]
        assert sorted(stored) == sorted(acked[kind]), f"{kind}: acknowledged {len(acked[kind])}, stored {len(stored)}"

    # Search finds every acknowledged contact, through each replica: one index, shared.
    def found(replica: int) -> set[str]:
        names = set()
        for offset in (0, 100):
            result = contacts.call_on(replica, "rep.north.1", "SearchCustomers",
                                      cpb.SearchCustomersRequest(query="客户", kind="contact", limit=100, offset=offset))
            names |= {hit.id for hit in result.hits}
        return names
    wait_for(lambda: found(0) >= set(acked["contact"]), 30, 0.5, what="every contact searchable")
    assert found(0) == found(1) == set(acked["contact"])

    # Every reminder and SLA moment that fell due fired exactly once.
    def reminders() -> Counter[str]:
        return Counter(spb.Reminder.FromString(r[0]).task_id
                       for r in rows(cluster.urls["sales"], "SELECT data FROM reminders"))
    wait_for(lambda: set(reminders()) >= set(tasks), 60, 0.5, what="a reminder for every task")

    def sla_events(kind: str) -> Counter[str]:
        return Counter(r[0] for r in rows(cluster.urls["support"],
                                          f"SELECT ticket_id FROM mail_outbox WHERE purpose = '{kind}'"))
    wait_for(lambda: set(sla_events("sla_warning")) >= set(tickets), 60, 0.5, what="an SLA warning on every ticket")
    wait_for(lambda: set(sla_events("escalation")) >= set(tickets), 120, 0.5, what="an SLA breach on every ticket")
    assert reminders() == Counter(dict.fromkeys(tasks, 1))
    # Each source's every committed event is on its stream once, in its aggregate's order.
    streams = {service: published_in_order(cluster, service) for service in ("contacts", "sales", "support")}
    # one warning mail per ticket and metric is all its key allows, so count the events too
    support_events = Counter(streams["support"])
    assert support_events["crm.support.sla.warning"] == 2 * len(tickets)  # first response and resolution
    assert support_events["crm.support.sla.breached"] == 2 * len(tickets)
    assert support_events["crm.support.ticket.escalated"] == len(tickets)
    assert Counter(streams["sales"])["crm.sales.reminder.due"] == len(tasks)

    # Reporting (one replica killed) holds exactly what the sources hold, each event applied once.
    events = sum(len(subjects) for subjects in streams.values())

    def customer_counts() -> rpb.CustomerCounts:
        counts: rpb.CustomerCounts = reporting.call("admin", "GetCustomerCounts", rpb.GetCustomerCountsRequest())
        return counts
    wait_for(lambda: customer_counts().events_applied >= events, 60, 0.5, what=f"reporting to apply {events} events")
    assert customer_counts().events_applied == events
    assert customer_counts().total == len(acked["contact"])
    wait_for(lambda: reporting.call("admin", "GetSalesSummary", rpb.GetSalesSummaryRequest()).lead_count
             >= len(acked["lead"]), 60, 0.5, what="reporting's lead count")
    assert reporting.call("admin", "GetSalesSummary", rpb.GetSalesSummaryRequest()).lead_count == len(acked["lead"])

    def support_summary() -> rpb.SupportSummary:
        summary: rpb.SupportSummary = reporting.call("admin", "GetSupportSummary", rpb.GetSupportSummaryRequest())
        return summary
    wait_for(lambda: support_summary().sla_breaches >= 2 * len(tickets), 60, 0.5, what="reporting's breaches")
    summary = support_summary()
    assert (summary.total, summary.sla_breaches) == (len(tickets), 2 * len(tickets))
    assert replayed


def _request(kind: str, i: int) -> Any:
    tag = uuid.uuid4().hex[:6]
    if kind == "contact":
        return cpb.CreateContactRequest(contact=cpb.Contact(
            name=f"客户 {i}", source="website", emails=[cpb.Email(address=f"c{i}-{tag}@rep.example")]),
            allow_duplicate=True)
    if kind == "lead":
        return spb.CreateLeadRequest(lead=spb.Lead(name=f"线索 {i}", company="天津重工"))
    if kind == "task":
        return spb.CreateTaskRequest(task=_task(i))
    return tpb.CreateTicketRequest(ticket=tpb.Ticket(
        subject=f"宕机 {i}", priority="urgent", requester_email=f"ops{i}-{tag}@customer.example"))


def _task(i: int) -> spb.Task:
    task = spb.Task(title=f"回访 {i}", kind="call")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    task.due_at.FromDatetime(soon + timedelta(hours=1))
    task.remind_at.FromDatetime(soon)
    return task
