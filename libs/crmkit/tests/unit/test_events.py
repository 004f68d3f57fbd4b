"""Event types come from the contracts: every producer's `EventType` enum in
proto/crm/<svc>/v1/events.proto, each value with its subject; the Emitter writes only those."""
from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import select

from crm.common.v1.envelope_pb2 import Actor
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.events import Emitter, EventTypes, new_event, parse_envelope, unpack_payload
from crmkit.logs import request_id_var
from crmkit.runtime_tables import create_runtime_tables, outbox_row

REPO = Path(__file__).resolve().parents[4]
EVENT_PROTOS = sorted(REPO.glob("proto/crm/*/v1/events.proto"))
SUBJECT = re.compile(r"crm\.([a-z]+)\.([a-z][a-z_]*)\.([a-z][a-z_]*)")
NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north", "Wang Li")


def producer_of(path: Path) -> str:
    return path.parents[1].name


def enum_of(producer: str) -> EnumTypeWrapper:
    enum: EnumTypeWrapper = importlib.import_module(f"crm.{producer}.v1.events_pb2").EventType
    return enum


def test_every_producer_declares_its_event_types():
    assert {producer_of(p) for p in EVENT_PROTOS} >= {"contacts", "sales", "support"}


@pytest.mark.parametrize("proto", EVENT_PROTOS, ids=producer_of)
def test_every_event_type_has_a_well_formed_subject_of_its_producer(proto):
    producer = producer_of(proto)
    enum = enum_of(producer)
    package = enum.DESCRIPTOR.file.package
    assert package == f"crm.{producer}.v1"
    types = EventTypes(enum)
    declared = [v for v in enum.DESCRIPTOR.values if v.number]
    assert declared, f"{producer} declares no event type"
    assert len(types.all) == len(declared), "two enum values share a subject, or one has none"
    for value in declared:
        name = value.name.removeprefix("EVENT_TYPE_")
        subject = getattr(types, name)
        match = SUBJECT.fullmatch(subject)
        assert match, f"{value.name}: {subject!r} is not crm.<producer>.<aggregate>.<event>"
        assert match.group(1) == package.split(".")[1], f"{subject} is published by {package}"
        # `of(aggregate, event)` finds it by the same name the enum value has.
        assert f"{match.group(2)}_{match.group(3)}".upper() == name
        assert types.of(match.group(2), match.group(3)) == subject


def test_names_lookups_and_aggregates():
    sales = EventTypes(enum_of("sales"))
    assert sales.LEAD_CREATED == "crm.sales.lead.created"
    assert sales.of("opportunity", "won") == "crm.sales.opportunity.won"
    leads = sales.of_aggregate("lead")
    assert "crm.sales.lead.converted" in leads and all(s.startswith("crm.sales.lead.") for s in leads)
    assert sales.of_aggregate("lead", "opportunity") == leads | sales.of_aggregate("opportunity")
    with pytest.raises(AttributeError, match="no event type LEAD_EXPLODED"):
        _ = sales.LEAD_EXPLODED
    with pytest.raises(AttributeError):
        sales.of("lead", "exploded")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'e.db'}")
    create_runtime_tables(database.engine)
    yield database
    database.dispose()


def test_the_emitter_writes_the_event_to_the_outbox_of_the_unit_of_work(db):
    sales = EventTypes(enum_of("sales"))
    emit = Emitter("sales", sales)
    request_id_var.set("req-123")
    with db.unit_of_work() as uow:
        envelope = emit(uow, MANAGER, sales.OPPORTUNITY_WON, "opp-1", 4, StringValue(value="won"), NOW)
        uow.commit()
    with db.read() as session:
        (row,) = session.execute(select(outbox_row.c.subject, outbox_row.c.payload)).all()
    assert row.subject == "crm.sales.opportunity.won" == envelope.subject
    env = parse_envelope(row.payload)
    assert (env.producer, env.event_type, env.aggregate_type) == ("sales", row.subject, "opportunity")
    assert (env.aggregate_id, env.aggregate_version, env.correlation_id) == ("opp-1", 4, "req-123")
    assert (env.actor.user_id, list(env.actor.roles), env.actor.team, env.actor.region) == \
        ("manager.north", ["manager"], "north-sales", "north")
    assert env.occurred_at.ToDatetime(tzinfo=UTC) == NOW
    assert unpack_payload(env) == StringValue(value="won")


def test_envelopes_of_one_batch_share_a_header_but_never_a_stale_one():
    # new_event reuses the last header it built (type, actor, time): what changed must show
    actor = Actor(user_id="rep.1", roles=["rep"])
    first = parse_envelope(new_event(producer="sales", event_type="crm.sales.lead.created", aggregate_type="lead",
                                     aggregate_id="a", aggregate_version=1, payload=StringValue(value="1"),
                                     actor=actor, occurred_at=NOW).data)
    actor.user_id = "rep.2"  # the caller's actor changed after the first event
    later = NOW.replace(minute=31)
    second = parse_envelope(new_event(producer="sales", event_type="crm.sales.lead.created", aggregate_type="lead",
                                      aggregate_id="b", aggregate_version=2, payload=StringValue(value="2"),
                                      actor=actor, occurred_at=later).data)
    third = parse_envelope(new_event(producer="sales", event_type="crm.sales.lead.updated", aggregate_type="lead",
                                     aggregate_id="b", aggregate_version=3, payload=StringValue(value="3"),
                                     occurred_at=later).data)
    assert (first.actor.user_id, first.aggregate_id, first.occurred_at.ToDatetime(tzinfo=UTC)) == ("rep.1", "a", NOW)
    assert (second.actor.user_id, second.aggregate_id, second.aggregate_version) == ("rep.2", "b", 2)
    assert second.occurred_at.ToDatetime(tzinfo=UTC) == later
    assert (third.event_type, third.HasField("actor"), third.aggregate_version) == ("crm.sales.lead.updated", False, 3)
    assert len({first.event_id, second.event_id, third.event_id}) == 3


def test_the_emitter_refuses_a_type_its_contract_does_not_declare(db):
    emit = Emitter("sales", EventTypes(enum_of("sales")))
    support = EventTypes(enum_of("support"))
    with db.unit_of_work() as uow:
        for undeclared in ("crm.sales.lead.exploded", next(iter(support.all))):
            with pytest.raises(ValueError, match="not an event type of sales"):
                emit(uow, MANAGER, undeclared, "x", 1, StringValue(), NOW)
        assert uow.events == []
