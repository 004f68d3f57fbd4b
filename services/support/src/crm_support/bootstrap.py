"""Composition root of the support service: servicer, the contacts client, the knowledge-base
index and the SLA scheduler. `make_spec` takes a clock and a contacts port so tests can drive
time and fake contacts."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from crm.support.v1 import support_pb2, support_pb2_grpc
from crm_support import kb
from crm_support.common import Clock, system_clock
from crm_support.contacts_port import ContactsPort, GrpcContacts
from crm_support.scheduler import SchedulerWorker
from crm_support.servicer import SupportServicer
from crmkit import logs
from crmkit.bus import LoopThread
from crmkit.config import ServiceSettings, service_addr
from crmkit.db import Database
from crmkit.search import SearchIndex, open_index
from crmkit.service import Registration, ServiceSpec

log = logs.get("crm_support")


def _contacts_from_env(settings: ServiceSettings) -> ContactsPort:
    return GrpcContacts(service_addr("contacts"), settings.auth.jwt_secret)


def make_spec(
    clock: Clock = system_clock,
    contacts: Callable[[ServiceSettings], ContactsPort | None] = _contacts_from_env,
    scheduler_interval: float | None = None,
    on_scheduler: Callable[[SchedulerWorker], None] | None = None,
) -> ServiceSpec:
    interval = scheduler_interval or float(os.environ.get("SUPPORT_SCHEDULER_INTERVAL", "15"))
    # The index of this process's run: opened by the worker below (workers start before the
    # gRPC server), closed when the runtime stops.
    holder: dict[str, SearchIndex | None] = {"index": None}

    def kb_index(db: Database, settings: ServiceSettings, loop: LoopThread) -> Callable[[], None]:
        index = open_index(kb.SCHEMA, opensearch_url=settings.opensearch_url,
                           data_dir=settings.data_dir / "search" / "kb")
        index.ensure()
        with db.read() as session:
            count = kb.rebuild(index, session)  # a read model: always rebuilt from the table
        log.info("knowledge base indexed", extra={"fields": {"articles": count}})
        holder["index"] = index

        def stop() -> None:
            holder["index"] = None
            index.close()
        return stop

    def build(db: Database, settings: ServiceSettings) -> Sequence[Registration]:
        servicer = SupportServicer(db, clock, contacts(settings), lambda: holder["index"])
        return [lambda server: support_pb2_grpc.add_SupportServiceServicer_to_server(servicer, server)]

    def scheduler(db: Database, settings: ServiceSettings, loop: LoopThread) -> Callable[[], None]:
        worker = SchedulerWorker(db, clock, interval).start()
        if on_scheduler is not None:
            on_scheduler(worker)
        return worker.stop

    return ServiceSpec(
        name="support",
        migrations=Path(__file__).parent / "migrations",
        service_names=[support_pb2.DESCRIPTOR.services_by_name["SupportService"].full_name],
        build=build,
        extra_workers=(kb_index, scheduler),
    )


SPEC = make_spec()
