"""Composition root of the webhooks service: consumes the CONTACTS, SALES, SUPPORT and MARKETING
streams into its delivery queue, delivers from it, and answers the subscription API. Produces no
events. Nothing is built or read from the environment before `compose` runs; tests pass a clock,
the ports (resolver, sender) and the settings as an environment mapping.

Settings: `WEBHOOKS_ALLOWED_CIDRS` (ranges an administrator allows despite the SSRF rules, e.g.
an ERP on 10.20.0.0/16), `WEBHOOKS_RETRY_BASE_SECONDS` (30), `WEBHOOKS_RETRY_HOURS` (24: then
parked), `WEBHOOKS_POLL_SECONDS` (1), `WEBHOOKS_LEASE_SECONDS` (60), `WEBHOOKS_CONCURRENCY` (16)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import grpc

from crm.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from crm_webhooks import handlers, jobs
from crm_webhooks.ports import Resolver, Sender, resolve
from crm_webhooks.rules import catalogue, targets
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.servicer import WebhooksServicer
from crm_webhooks.tables import deliveries
from crmkit.config import ConfigError, ServiceSettings
from crmkit.db import Database
from crmkit.retention import DataClass, older_than
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = webhooks_pb2.DESCRIPTOR.services_by_name["WebhooksService"].full_name
RETENTION = DataClass(
    "webhook_deliveries", 30.0,
    older_than(deliveries, deliveries.c.created_at, where=deliveries.c.status != "pending"),
    "delivered and parked deliveries (the log and their bodies)")


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def delivering(env: Mapping[str, str], *, resolver: Resolver, sender: Sender | None) -> jobs.Delivering:
    try:
        allowed = targets.parse_cidrs(env.get("WEBHOOKS_ALLOWED_CIDRS", ""))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    schedule = Schedule(base=_number(env, "WEBHOOKS_RETRY_BASE_SECONDS", 30.0, 0.01),
                        window=_number(env, "WEBHOOKS_RETRY_HOURS", 24.0, 0.0001) * 3600.0)
    how = jobs.Delivering(schedule=schedule, allowed=allowed, resolver=resolver,
                          lease=_number(env, "WEBHOOKS_LEASE_SECONDS", 60.0, 1.0),
                          concurrency=int(_number(env, "WEBHOOKS_CONCURRENCY", 16, 1)))
    if sender is not None:
        how.sender = sender
    return how


def spec(*, clock: Clock = system_clock, resolver: Resolver = resolve, sender: Sender | None = None,
         env: Mapping[str, str] | None = None) -> ServiceSpec:

    def compose(db: Database, settings: ServiceSettings) -> Components:
        environ = os.environ if env is None else env
        how = delivering(environ, resolver=resolver, sender=sender)
        worker = jobs.worker(db, how, clock, _number(environ, "WEBHOOKS_POLL_SECONDS", 1.0, 0.01))
        servicer = WebhooksServicer(db, clock, schedule=how.schedule, allowed=how.allowed, resolver=resolver,
                                    wake=worker.tick)

        def register(server: grpc.Server) -> None:
            webhooks_pb2_grpc.add_WebhooksServiceServicer_to_server(servicer, server)

        return Components(servicers=[register], handler=handlers.handler(how.schedule, clock, worker.tick),
                          workers=[worker], retention=[RETENTION])

    return ServiceSpec(name="webhooks", migrations=MIGRATIONS, service_names=[SERVICE_NAME], compose=compose,
                       consumes=catalogue.PRODUCERS, wants=handlers.wants, produces=False)
