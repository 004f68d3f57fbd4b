"""Composition root of the webhooks service: consumes the CONTACTS, SALES, SUPPORT and MARKETING
streams into its delivery queue, delivers from it, and answers the subscription API. Produces no
events. Nothing is built or read from the environment before `compose` runs; tests pass a clock,
the ports (resolver, sender) and the settings as an environment mapping.

Settings: `WEBHOOKS_ALLOWED_CIDRS` (ranges an administrator allows despite the SSRF rules, e.g.
an ERP on 10.20.0.0/16), `WEBHOOKS_RETRY_BASE_SECONDS` (30), `WEBHOOKS_RETRY_HOURS` (24: then
parked), `WEBHOOKS_POLL_SECONDS` (1), `WEBHOOKS_LEASE_SECONDS` (60), `WEBHOOKS_CONCURRENCY` (16), and
`WEBHOOKS_SECRET_KEY` (required: the key the signing secrets are sealed with at rest; `make run`
generates one), `PRIVACY_SUPPRESSION_KEY` (the key of the erased people's hashes; derived from
JWT_SECRET when unset)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import grpc

from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from crm_webhooks import handlers, jobs, store
from crm_webhooks.ports import Resolver, Sender, resolve
from crm_webhooks.rules import catalogue, targets
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.rules.sealing import SealingError, SecretBox
from crm_webhooks.servicer import WebhooksServicer
from crm_webhooks.usecases import subject
from crm_webhooks.usecases.subscriptions import seal_plaintext
from crmkit import logs
from crmkit.config import ConfigError, ServiceSettings
from crmkit.db import Database
from crmkit.privacy import suppression_key
from crmkit.retention import DataClass
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

MIGRATIONS = Path(__file__).parent / "migrations"
log = logs.get("crm_webhooks.bootstrap")
SERVICE_NAME = webhooks_pb2.DESCRIPTOR.services_by_name["WebhooksService"].full_name
SUBJECT_NAME = privacy_pb2.DESCRIPTOR.services_by_name["DataSubject"].full_name
RETENTION = DataClass("webhook_deliveries", 30.0, store.purge_old,
                      "delivered and parked deliveries (the log, their bodies and whom they were about)")


def secret_box(env: Mapping[str, str]) -> SecretBox:
    """`WEBHOOKS_SECRET_KEY`: no default, here or in any environment (`make run` and the dev overlay
    generate one), so a deployment cannot store secrets under a key everyone knows."""
    raw = env.get("WEBHOOKS_SECRET_KEY", "").strip()
    if not raw:
        raise ConfigError("set WEBHOOKS_SECRET_KEY (the key webhook signing secrets are sealed with at rest; "
                          "e.g. `openssl rand -base64 48`)")
    try:
        return SecretBox(raw)
    except SealingError as exc:
        raise ConfigError(str(exc)) from None


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def delivering(env: Mapping[str, str], *, resolver: Resolver, sender: Sender | None,
               box: SecretBox) -> jobs.Delivering:
    try:
        allowed = targets.parse_cidrs(env.get("WEBHOOKS_ALLOWED_CIDRS", ""))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    schedule = Schedule(base=_number(env, "WEBHOOKS_RETRY_BASE_SECONDS", 30.0, 0.01),
                        window=_number(env, "WEBHOOKS_RETRY_HOURS", 24.0, 0.0001) * 3600.0)
    how = jobs.Delivering(box=box, schedule=schedule, allowed=allowed, resolver=resolver,
                          lease=_number(env, "WEBHOOKS_LEASE_SECONDS", 60.0, 1.0),
                          concurrency=int(_number(env, "WEBHOOKS_CONCURRENCY", 16, 1)))
    if sender is not None:
        how.sender = sender
    return how


def spec(*, clock: Clock = system_clock, resolver: Resolver = resolve, sender: Sender | None = None,
         env: Mapping[str, str] | None = None) -> ServiceSpec:

    def compose(db: Database, settings: ServiceSettings) -> Components:
        environ = os.environ if env is None else env
        box = secret_box(environ)
        how = delivering(environ, resolver=resolver, sender=sender, box=box)
        with db.unit_of_work() as uow:
            sealed = seal_plaintext(uow, seal=box.seal)
            uow.commit()
        if sealed:
            log.info("sealed secrets stored in clear", extra={"fields": {"subscriptions": sealed}})
        worker = jobs.worker(db, how, clock, _number(environ, "WEBHOOKS_POLL_SECONDS", 1.0, 0.01))
        servicer = WebhooksServicer(db, clock, box=box, schedule=how.schedule, allowed=how.allowed, resolver=resolver,
                                    wake=worker.tick)

        key = suppression_key(settings.auth, environ)
        data_subject = subject.servicer(db, key, clock)

        def register(server: grpc.Server) -> None:
            webhooks_pb2_grpc.add_WebhooksServiceServicer_to_server(servicer, server)
            privacy_pb2_grpc.add_DataSubjectServicer_to_server(data_subject, server)

        listened = handlers.Listened(db)
        return Components(servicers=[register],
                          handler=handlers.handler(how.schedule, clock, worker.tick, key, listened),
                          batch_handler=handlers.batch_handler(how.schedule, clock, worker.tick, key, listened),
                          opens=listened, workers=[worker], retention=[RETENTION])

    return ServiceSpec(name="webhooks", migrations=MIGRATIONS, service_names=[SERVICE_NAME, SUBJECT_NAME], compose=compose,
                       consumes=catalogue.PRODUCERS, wants=handlers.wants, produces=False)
