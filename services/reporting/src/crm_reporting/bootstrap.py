"""Composition root of the reporting service: consumes the CONTACTS, SALES, SUPPORT and MARKETING streams
into read models and answers report queries. Produces no events. Nothing is built at import:
`spec()` describes the service, its `compose` builds one process's parts."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_reporting import handlers, jobs
from crm_reporting.servicer import ReportingServicer
from crm_reporting.usecases import subject
from crmkit import event_runs
from crmkit.config import ServiceSettings
from crmkit.db import Database, UnitOfWork
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

MIGRATIONS = Path(__file__).parent / "migrations"


def spec(*, clock: Clock = system_clock, train_interval: float | None = None,
         train_delay: float | None = None) -> ServiceSpec:
    """`clock`: the time handlers stamp (a customer's first_seen_at) and calls see.
    `train_interval` / `train_delay`: how often the churn and next-purchase models are retrained
    and how long after start the first time (default: REPORTING_TRAIN_INTERVAL_SECONDS, 6 h, and
    REPORTING_TRAIN_DELAY_SECONDS, 60 s, read when the process is composed)."""

    def compose(db: Database, settings: ServiceSettings) -> Components:
        servicer = ReportingServicer(db, clock)

        def handle(uow: UnitOfWork, env: EventEnvelope) -> None:
            handlers.handle(uow, env, now=clock())

        def handle_many(uow: UnitOfWork, envs: Sequence[EventEnvelope]) -> None:
            handlers.handle_many(uow, envs, now=clock())

        data_subject = subject.servicer(db)
        interval = train_interval if train_interval is not None else float(
            os.environ.get("REPORTING_TRAIN_INTERVAL_SECONDS", jobs.TRAIN_EVERY_SECONDS))
        delay = train_delay if train_delay is not None else float(
            os.environ.get("REPORTING_TRAIN_DELAY_SECONDS", jobs.FIRST_TRAINING_AFTER_SECONDS))
        trainer = jobs.training_worker(db, clock, interval=interval, delay=delay)
        return Components(
            servicers=[lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server),
                       lambda server: privacy_pb2_grpc.add_DataSubjectServicer_to_server(
                           data_subject, server)],
            handler=handle,
            # a bulk import's contact snapshots a run at a time; anything else, and retries, one by one
            batch_handler=event_runs.in_runs(handle, handle_many, handlers.BULK_TYPES),
            workers=[trainer],
        )

    return ServiceSpec(
        name="reporting",
        migrations=MIGRATIONS,
        service_names=[reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name,
                       privacy_pb2.DESCRIPTOR.services_by_name["DataSubject"].full_name],
        compose=compose,
        consumes=("contacts", "sales", "support", "marketing"),
        # No `wants`: every event of the four streams gets its inbox row, even the ones no read
        # model counts, so `events_applied` can be compared with the streams' lengths.
        opens=lambda event_type: event_type not in handlers.contacts.SEALED_UNREAD,
        produces=False,
    )
