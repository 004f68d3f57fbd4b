"""Composition root of the privacy service: `spec(**overrides)` describes it; its `compose`
builds the servicer, the adapter of every service's DataSubject endpoint and the job worker.
Nothing is built or read from the environment before `compose` runs; tests pass a clock, the
data subjects (fakes) and the worker's interval."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc

from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm_privacy import jobs, rules
from crm_privacy.ports import DataSubjects, GrpcDataSubjects
from crm_privacy.servicer import PrivacyServicer
from crmkit.config import ConfigError, ServiceSettings, service_addr
from crmkit.credentials import ServiceCredentials
from crmkit.db import Database
from crmkit.privacy import suppression_key
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = privacy_pb2.DESCRIPTOR.services_by_name["PrivacyService"].full_name
WORKER_INTERVAL = 2.0  # seconds between looks at due jobs (a new request wakes it at once)

SubjectsFactory = Callable[[ServiceSettings, tuple[str, ...]], DataSubjects]


def subject_services(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """`PRIVACY_SERVICES`: the services that hold personal data (default: all of them), in saga order."""
    env = os.environ if env is None else env
    names = tuple(n.strip() for n in env.get("PRIVACY_SERVICES", ",".join(rules.SERVICES)).split(",") if n.strip())
    unknown = [n for n in names if n not in rules.SERVICES]
    if unknown or not names:
        raise ConfigError(f"PRIVACY_SERVICES names unknown services {unknown}; known: {', '.join(rules.SERVICES)}")
    return names


def grpc_subjects(settings: ServiceSettings, services: tuple[str, ...]) -> DataSubjects:
    """Each service at `<SVC>_SERVICE_ADDR` (required: a saga must reach every service)."""
    addresses = {name: service_addr(name) for name in {"contacts", *services}}
    return GrpcDataSubjects(addresses, ServiceCredentials(settings.auth).authorization)


def spec(*, clock: Clock = system_clock, subjects: SubjectsFactory | None = None,
         worker_interval: float | None = None, env: Mapping[str, str] | None = None) -> ServiceSpec:
    make_subjects = subjects or grpc_subjects

    def compose(db: Database, settings: ServiceSettings) -> Components:
        services = subject_services(env)
        key = suppression_key(settings.auth, env)
        worker = jobs.worker(db, make_subjects(settings, services), key, clock, worker_interval or WORKER_INTERVAL)
        servicer = PrivacyServicer(db, clock, wake=worker.tick, services=services)

        def register(server: grpc.Server) -> None:
            privacy_pb2_grpc.add_PrivacyServiceServicer_to_server(servicer, server)

        return Components(servicers=[register], workers=[worker])

    return ServiceSpec(name="privacy", migrations=MIGRATIONS, service_names=[SERVICE_NAME], compose=compose,
                       produces=False)
