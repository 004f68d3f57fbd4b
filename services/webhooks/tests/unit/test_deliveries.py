"""Subscriptions and deliveries on the real schema (a migrated SQLite file), with fakes at the
resolver and sender ports and a manual clock: what an integrator sees in the delivery log when
their receiver is up, down for a while, down for a day, moved to an internal address, paused."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from crm.sales.v1 import events_pb2, sales_pb2
from crm.webhooks.v1 import webhooks_pb2 as pb
from crm_webhooks import bootstrap, jobs, store
from crm_webhooks.rules import signature
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.usecases import deliveries
from crm_webhooks.usecases import subscriptions as subs
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.events import new_event, parse_envelope
from crmkit.retention import Retention
from crmkit.testing import ManualClock

from ..fakes import BOX, KEY, FakeResolver, FakeSender

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ERP = Principal("erp.bot", ("integration",))
OTHER = Principal("shop.bot", ("integration",))
ADMIN = Principal("admin.hq", ("admin",))
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")


def subscribe(db: Database, who: Principal = ERP, types: tuple[str, ...] = ("opportunity.won",),
              url: str = "https://erp.example.com/hooks") -> pb.Subscription:
    with db.unit_of_work() as uow:
        sub = subs.create(uow, principal=who, now=NOW, sealed=BOX.seal(signature.new_secret()),
                          subscription=pb.Subscription(target_url=url, event_types=list(types)))
        uow.commit()
    sub.secret = BOX.open(sub.secret)  # what the servicer does before answering
    return sub


def won_event(opp_id: str = "o-1") -> bytes:
    opp = sales_pb2.Opportunity(id=opp_id, name="ERP rollout", status="won", owner_id="rep.north.1")
    return new_event(producer="sales", event_type="crm.sales.opportunity.won", aggregate_type="opportunity",
                     aggregate_id=opp_id, aggregate_version=4,
                     payload=events_pb2.OpportunityClosed(opportunity=opp)).data


def arrive(db: Database, data: bytes, now: datetime = NOW) -> int:
    with db.unit_of_work() as uow:
        made = deliveries.enqueue(uow, parse_envelope(data), now=now, schedule=Schedule(), key=KEY)
        uow.commit()
    return made


def log_of(db: Database, sub: pb.Subscription, who: Principal = ERP) -> list[pb.Delivery]:
    with db.read() as session:
        return deliveries.list_(session, principal=who, sub_id=sub.id, status="", page_size=0, page_token="")[0]


def test_the_secret_is_shown_once_and_only_managers_of_webhooks_subscribe(db: Database) -> None:
    sub = subscribe(db)
    assert sub.secret.startswith("whsec_") and sub.owner_id == "erp.bot" and sub.status == "active"
    with db.read() as session:
        again = subs.get(session, principal=ERP, sub_id=sub.id)
        assert again.secret == "" and list(again.event_types) == ["opportunity.won"]
        with pytest.raises(NotFound):
            subs.get(session, principal=OTHER, sub_id=sub.id)  # another integration's
        assert subs.get(session, principal=ADMIN, sub_id=sub.id).id == sub.id
        assert [s.id for s in subs.list_(session, principal=OTHER, page_size=0, page_token="")[0]] == []
    with pytest.raises(PermissionDenied):
        subscribe(db, REP)
    with pytest.raises(InvalidArgument) as caught:
        subscribe(db, types=("opportunity.won", "deal.closed"))
    assert caught.value.field == "event_types[1]"


def test_a_won_deal_is_delivered_signed_and_masked_for_the_subscriber(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    subscribe(db, types=("contact.updated",))  # not interested in deals
    data = won_event()
    assert arrive(db, data) == 1
    assert arrive(db, data) == 0 and len(log_of(db, sub)) == 1  # the same event again makes no second row
    assert jobs.run_due(db, how, clock(), clock) == 1
    (sent,) = sender.sent
    assert sent.address == "93.184.215.14" and sent.target.host == "erp.example.com"
    h = sent.headers
    assert signature.verify(sub.secret, timestamp=h[signature.HEADER_TIMESTAMP], body=sent.body,
                            signature=h[signature.HEADER_SIGNATURE], now=clock().timestamp())
    document = json.loads(sent.body)
    assert document["type"] == "opportunity.won" and h[signature.HEADER_EVENT] == "opportunity.won"
    assert document["data"]["opportunity"]["id"] == "o-1" and h[signature.HEADER_ID] == document["id"]
    (delivery,) = log_of(db, sub)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert jobs.run_due(db, how, clock(), clock) == 0  # nothing twice


def test_a_failing_receiver_is_retried_with_backoff_for_a_day_then_parked_and_replay_delivers(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event())
    sender.status = 503
    jobs.run_due(db, how, clock(), clock)
    (first,) = log_of(db, sub)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 503)
    assert "503" in first.last_error
    assert first.next_attempt_at.ToDatetime(UTC) == NOW + timedelta(seconds=22.5)  # 30 s × (0.5 + 0.5 × 0.5)
    clock.advance(seconds=10)
    assert jobs.run_due(db, how, clock(), clock) == 0  # not due yet
    attempts = 1
    while log_of(db, sub)[0].status == "pending":
        clock.advance(seconds=(log_of(db, sub)[0].next_attempt_at.ToDatetime(UTC) - clock()).total_seconds())
        jobs.run_due(db, how, clock(), clock)
        attempts += 1
    (parked,) = log_of(db, sub)
    assert parked.status == "parked" and parked.attempts == attempts
    assert timedelta(hours=23) < clock() - NOW <= timedelta(hours=24)
    sent_ids = {s.headers[signature.HEADER_ID] for s in sender.sent}
    assert sent_ids == {parked.id}  # every try under one id
    sender.status = 200
    with db.unit_of_work() as uow:
        replayed = deliveries.replay(uow, principal=ERP, now=clock(), sub_id=sub.id, delivery_id=parked.id,
                                     schedule=how.schedule)
        uow.commit()
    assert replayed.status == "pending"
    jobs.run_due(db, how, clock(), clock)
    (done,) = log_of(db, sub)
    assert (done.status, done.id, done.attempts) == ("delivered", parked.id, attempts + 1)
    assert sender.sent[-1].body == sender.sent[0].body
    with db.unit_of_work() as uow, pytest.raises(NotFound):
        deliveries.replay(uow, principal=OTHER, now=clock(), sub_id=sub.id, delivery_id=parked.id,
                          schedule=how.schedule)


def test_a_target_that_now_resolves_to_an_internal_address_is_not_contacted(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event())
    how.resolver = FakeResolver({"erp.example.com": ["93.184.215.14", "169.254.169.254"]})
    jobs.run_due(db, how, clock(), clock)
    assert sender.sent == []
    (delivery,) = log_of(db, sub)
    assert delivery.status == "pending" and "metadata" in delivery.last_error and delivery.last_status_code == 0


def test_a_paused_subscription_holds_its_deliveries_until_resumed(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    with db.unit_of_work() as uow:
        paused = subs.update(uow, principal=ERP, now=NOW, changes=pb.Subscription(id=sub.id, status="paused"),
                             mask=["status"], expected_version=sub.version)
        uow.commit()
    arrive(db, won_event())
    jobs.run_due(db, how, clock(), clock)
    assert sender.sent == [] and log_of(db, sub)[0].attempts == 0
    clock.advance(seconds=1)
    jobs.run_due(db, how, clock(), clock)
    assert sender.sent == []  # looked at again only after PAUSED_RECHECK
    with db.unit_of_work() as uow:
        subs.update(uow, principal=ERP, now=clock(), changes=pb.Subscription(id=sub.id, status="active"),
                    mask=["status"], expected_version=paused.version)
        uow.commit()
    jobs.run_due(db, how, clock(), clock)  # resumed: due at once, not a minute later
    assert len(sender.sent) == 1 and log_of(db, sub)[0].status == "delivered"


def test_fixing_a_failing_target_sends_what_waits_in_backoff_at_once(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event("o-1"))
    arrive(db, won_event("o-2"))
    sender.status = 503
    for _ in range(3):  # three failures: the next try is minutes away
        clock.advance(seconds=(min(d.next_attempt_at.ToDatetime(UTC) for d in log_of(db, sub)) - clock()).total_seconds())
        jobs.run_due(db, how, clock(), clock)
    assert all(d.next_attempt_at.ToDatetime(UTC) - clock() > timedelta(seconds=30) for d in log_of(db, sub))
    how.resolver = FakeResolver({"erp.example.com": ["93.184.215.14"], "erp2.example.com": ["93.184.215.15"]})
    sender.status = 200
    with db.unit_of_work() as uow:
        subs.update(uow, principal=ERP, now=clock(), changes=pb.Subscription(
            id=sub.id, target_url="https://erp2.example.com/hooks"), mask=["target_url"], expected_version=sub.version)
        uow.commit()
    assert jobs.run_due(db, how, clock(), clock) == 2  # now, not at their next backoff
    assert {d.status for d in log_of(db, sub)} == {"delivered"}
    assert {s.target.host for s in sender.sent[-2:]} == {"erp2.example.com"}


def test_a_failure_of_the_old_target_recorded_late_leaves_a_delivery_the_fixed_one_took(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    # A worker is still waiting on the failing target when its URL is fixed: the fix sends the
    # delivery at once, and the first worker's late failure must not put it back in the queue.
    sub = subscribe(db)
    arrive(db, won_event())
    with db.unit_of_work() as uow:
        (due_id,) = store.due(uow.session, clock(), 10)
        in_flight = deliveries.claim(uow, delivery_id=due_id, now=clock(), lease=how.lease)
        uow.commit()
    assert in_flight is not None
    with db.unit_of_work() as uow:
        subs.update(uow, principal=ERP, now=clock(), changes=pb.Subscription(
            id=sub.id, target_url="https://erp.example.com/fixed"), mask=["target_url"], expected_version=sub.version)
        uow.commit()
    assert jobs.run_due(db, how, clock(), clock) == 1
    with db.unit_of_work() as uow:
        jobs.record(uow, how, jobs.Tried(in_flight, "retry", 503, "HTTP 503: old target"), clock())
        uow.commit()
    (delivery,) = log_of(db, sub)
    assert (delivery.status, delivery.last_status_code) == ("delivered", 200)
    assert jobs.run_due(db, how, clock() + timedelta(hours=2), clock) == 0


def test_a_description_change_leaves_the_backoff_as_it_was(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event())
    sender.status = 503
    jobs.run_due(db, how, clock(), clock)
    with db.unit_of_work() as uow:
        subs.update(uow, principal=ERP, now=clock(), changes=pb.Subscription(id=sub.id, description="ERP"),
                    mask=["description"], expected_version=sub.version)
        uow.commit()
    assert jobs.run_due(db, how, clock(), clock) == 0


def test_a_delivery_whose_worker_died_is_taken_again_after_its_lease_under_the_same_id(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event())
    with db.unit_of_work() as uow:
        (due_id,) = store.due(uow.session, clock(), 10)
        assert deliveries.claim(uow, delivery_id=due_id, now=clock(), lease=how.lease) is not None
        uow.commit()  # ... and the worker dies before sending
    assert jobs.run_due(db, how, clock(), clock) == 0  # still leased
    clock.advance(seconds=how.lease)
    assert jobs.run_due(db, how, clock(), clock) == 1
    assert [s.headers[signature.HEADER_ID] for s in sender.sent] == [log_of(db, sub)[0].id]


def test_a_rotated_secret_signs_what_is_still_queued(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event())
    with db.unit_of_work() as uow:
        rotated = subs.rotate_secret(uow, principal=ERP, now=NOW, sub_id=sub.id,
                                     sealed=BOX.seal(signature.new_secret()))
        uow.commit()
    rotated.secret = BOX.open(rotated.secret)
    jobs.run_due(db, how, clock(), clock)
    h, body = sender.sent[0].headers, sender.sent[0].body
    kwargs = {"timestamp": h[signature.HEADER_TIMESTAMP], "body": body, "signature": h[signature.HEADER_SIGNATURE],
              "now": clock().timestamp()}
    assert signature.verify(rotated.secret, **kwargs) and not signature.verify(sub.secret, **kwargs)


def test_retention_removes_old_finished_deliveries_and_keeps_the_queue(
        db: Database, how: jobs.Delivering, sender: FakeSender, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event("o-1"))
    jobs.run_due(db, how, clock(), clock)
    sender.status = 500
    arrive(db, won_event("o-2"))
    jobs.run_due(db, how, clock(), clock)
    removed = Retention(db, "webhooks", [bootstrap.RETENTION]).run(NOW + timedelta(days=31))
    assert removed["webhook_deliveries"] == 1
    assert [d.status for d in log_of(db, sub)] == ["pending"]
