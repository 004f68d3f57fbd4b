"""Deliveries survive a crash of the service: it is killed (SIGKILL) with deliveries queued and
some in flight; once started again every event reaches the receiver, each under its one delivery
id (at least once: an in-flight one may come twice, never under a second id), none lost."""
from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

import grpc

from crm.webhooks.v1 import webhooks_pb2 as pb
from crm.webhooks.v1.webhooks_pb2_grpc import WebhooksServiceStub
from crm_webhooks import bootstrap
from crmkit.auth import Principal, mint_token
from crmkit.migrations import upgrade
from crmkit.testing import Caller, NatsServer, ServiceProcess, free_port, wait_for

from ..receiver import Receiver
from .test_webhooks import SECRET, publish_won

EVENTS = 30


def test_a_killed_service_loses_and_doubles_nothing(tmp_path: Path) -> None:
    (tmp_path / "nats").mkdir()
    nats = NatsServer(tmp_path / "nats").start()
    receiver = Receiver().start()
    receiver.delay = 0.1  # slow enough that the kill finds deliveries queued and in flight
    url = f"sqlite:///{tmp_path / 'webhooks.db'}"
    upgrade(url, bootstrap.MIGRATIONS)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "NATS_URL": nats.url, "PORT": str(port), "METRICS_PORT": "0",
           "JWT_SECRET": SECRET, "DATA_DIR": str(tmp_path), "WEBHOOKS_ALLOWED_CIDRS": "127.0.0.1/32",
           "WEBHOOKS_POLL_SECONDS": "0.1", "WEBHOOKS_LEASE_SECONDS": "2", "WEBHOOKS_CONCURRENCY": "2",
           "WEBHOOKS_SECRET_KEY": "webhooks-restart-sealing-key-0123456789abc"}
    proc = ServiceProcess("webhooks", [sys.executable, "-m", "crm_webhooks"], env, tmp_path, port).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        erp = Caller(WebhooksServiceStub(channel), mint_token(Principal("erp.bot", ("integration",)), SECRET))
        sub = erp.CreateSubscription(pb.CreateSubscriptionRequest(
            subscription=pb.Subscription(target_url=receiver.url, event_types=["opportunity.won"])))
        receiver.secret = sub.secret
        events = [publish_won(nats.url, f"o-restart-{i}") for i in range(EVENTS)]
        wait_for(lambda: len(receiver.got()) >= 3, what="the first deliveries")
        proc.kill()
        before = len({r.delivery_id for r in receiver.got()})
        assert before < EVENTS, "the kill came too late to test anything"
        proc.start()
        wait_for(lambda: len({r.delivery_id for r in receiver.got()}) == EVENTS, timeout=60,
                 what="every event delivered after the restart")
        ids_by_event: defaultdict[str, set[str]] = defaultdict(set)
        for got in receiver.got():
            assert got.verified
            ids_by_event[got.document["event_id"]].add(got.delivery_id)
        assert set(ids_by_event) == set(events)
        assert all(len(ids) == 1 for ids in ids_by_event.values())
        wait_for(lambda: all(d.status == "delivered" for d in erp.ListDeliveries(
            pb.ListDeliveriesRequest(subscription_id=sub.id)).deliveries), what="the log to agree")
        assert len(erp.ListDeliveries(pb.ListDeliveriesRequest(subscription_id=sub.id)).deliveries) == EVENTS
    finally:
        channel.close()
        proc.stop()
        receiver.stop()
        nats.stop()
