"""Composition root of the sales service: servicer, the contacts client, the scheduler worker, and
the consumer of the contacts stream (interactions rescore leads).
`make_spec` takes a clock and a contacts port so tests can drive time and fake contacts."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from crm.sales.v1 import sales_pb2, sales_pb2_grpc
from crm_sales import contact_events, jobs, leads, work
from crm_sales.common import Clock, system_clock
from crm_sales.contacts_port import ContactsPort, GrpcContacts
from crm_sales.servicer import SalesServicer
from crmkit.bus import LoopThread
from crmkit.config import ServiceSettings, service_addr
from crmkit.db import Database
from crmkit.service import Registration, ServiceSpec

JOB_HANDLERS: dict[str, jobs.JobHandler] = {
    "lead_response": leads.on_response_due,
    "lead_rescore": leads.on_rescore,
    "stage_stall": work.on_stage_stall,
    "quote_follow_up": work.on_quote_follow_up,
    "task_reminder": work.on_task_reminder,
}


def _contacts_from_env() -> ContactsPort:
    return GrpcContacts(service_addr("contacts"))


def make_spec(
    clock: Clock = system_clock,
    contacts: Callable[[], ContactsPort | None] = _contacts_from_env,
    scheduler_interval: float | None = None,
    on_scheduler: Callable[[jobs.SchedulerWorker], None] | None = None,
) -> ServiceSpec:
    interval = scheduler_interval or float(os.environ.get("SALES_SCHEDULER_INTERVAL", "5"))

    def build(db: Database, settings: ServiceSettings) -> Sequence[Registration]:
        servicer = SalesServicer(db, clock, contacts())
        return [lambda server: sales_pb2_grpc.add_SalesServiceServicer_to_server(servicer, server)]

    def scheduler(db: Database, settings: ServiceSettings, loop: LoopThread) -> Callable[[], None]:
        worker = jobs.SchedulerWorker(db, JOB_HANDLERS, clock, interval).start()
        if on_scheduler is not None:
            on_scheduler(worker)
        return worker.stop

    return ServiceSpec(
        name="sales",
        migrations=Path(__file__).parent / "migrations",
        service_names=[sales_pb2.DESCRIPTOR.services_by_name["SalesService"].full_name],
        build=build,
        extra_workers=(scheduler,),
        consumes=("contacts",),
        handler=contact_events.make_handler(clock),
        wants=contact_events.wants,
    )


SPEC = make_spec()
