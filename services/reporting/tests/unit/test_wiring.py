"""The composition root and the translation around the use cases: `spec()` builds nothing until
composed, the consumer's handler stamps the clock it was given, the servicer answers for the
caller the interceptor verified, and the dispatch table is the contracts' event types."""
from __future__ import annotations

import contextvars
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crm.contacts.v1 import events_pb2 as contact_events
from crm.contacts.v1.contacts_pb2 import Contact
from crm.marketing.v1 import events_pb2 as marketing_events
from crm.reporting.v1 import reporting_pb2 as pb
from crm.sales.v1 import events_pb2 as sales_events
from crm.support.v1 import events_pb2 as support_events
from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap, handlers
from crm_reporting.handlers import contacts, marketing, sales, support
from crm_reporting.servicer import ReportingServicer
from crm_reporting.tables import customers, metadata
from crmkit.auth import set_principal
from crmkit.db import Database
from crmkit.errors import Unauthenticated
from crmkit.events import EventTypes, new_event, parse_envelope
from crmkit.records import aware
from crmkit.testing import ManualClock, in_process_settings

START = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def _created(contact: Contact) -> Any:
    env = new_event(producer="contacts", event_type="crm.contacts.contact.created", aggregate_type="contact",
                    aggregate_id=contact.id, aggregate_version=contact.version,
                    payload=contact_events.ContactCreated(contact=contact))
    return parse_envelope(env.data)


def _contact(cid: str, version: int) -> Contact:
    c = Contact(id=cid, version=version, name="张伟", owner_id="rep.north.1", team="north-sales", region="north")
    c.created_at.FromDatetime(START)
    return c


def test_the_spec_describes_the_service_and_its_handler_stamps_the_given_clock(db: Database, tmp_path: Path) -> None:
    clock = ManualClock(START)
    spec = bootstrap.spec(clock=clock)
    assert (spec.name, tuple(spec.consumes), spec.produces, spec.wants) == (
        "reporting", ("contacts", "sales", "support", "marketing"), False, None)
    assert (spec.migrations / "versions").is_dir()
    assert list(spec.service_names) == ["crm.reporting.v1.ReportingService", "crm.privacy.v1.DataSubject"]

    parts = spec.compose(db, in_process_settings("reporting", db.url, "nats://127.0.0.1:1", tmp_path, "s" * 32))
    assert len(parts.servicers) == 2 and parts.handler is not None
    assert [w.name for w in parts.workers] == ["reporting-models"]     # retraining the churn / purchase models
    assert parts.on_published is None
    with db.unit_of_work() as uow:
        parts.handler(uow, _created(_contact("c1", 1)))
        uow.commit()
    clock.advance(minutes=5)
    with db.unit_of_work() as uow:
        parts.handler(uow, _created(_contact("c1", 2)))        # a newer snapshot: seen before, at START
        parts.handler(uow, _created(_contact("c2", 1)))
        uow.commit()
    with db.read() as session:
        seen = dict(session.execute(select(customers.c.contact_id, customers.c.first_seen_at)).all())
        version = session.execute(select(customers.c.version).where(customers.c.contact_id == "c1")).scalar_one()
    assert {cid: aware(at) for cid, at in seen.items()} == {"c1": START, "c2": clock()}
    assert version == 2


def test_the_servicer_answers_for_the_verified_caller_only(db: Database) -> None:
    with db.unit_of_work() as uow:
        for cid, owner in (("a", "rep.north.1"), ("b", "rep.north.2")):
            c = _contact(cid, 1)
            c.owner_id = owner
            contacts.apply_snapshot(uow.session, c, now=START)
        uow.commit()
    servicer = ReportingServicer(db)

    def as_user(user: str | None, rpc: str, request: Any) -> Any:
        def call() -> Any:
            set_principal(DEMO_USERS[user] if user else None)
            return getattr(servicer, rpc)(request, None)
        return contextvars.copy_context().run(call)

    assert as_user("admin", "GetCustomerCounts", pb.GetCustomerCountsRequest()).total == 2
    assert as_user("rep.north.2", "GetCustomerCounts", pb.GetCustomerCountsRequest()).total == 1
    assert as_user("rep.north.2", "GetSalesSummary", pb.GetSalesSummaryRequest()).pipeline_count == 0
    assert as_user("admin", "GetSupportSummary", pb.GetSupportSummaryRequest()).total == 0
    with pytest.raises(Unauthenticated):
        as_user(None, "GetCustomerCounts", pb.GetCustomerCountsRequest())


def test_the_dispatch_table_is_the_contracts_snapshot_events() -> None:
    applied = {**contacts.APPLIES, **sales.APPLIES, **support.APPLIES, **marketing.APPLIES}
    assert set(handlers._BY_TYPE) == set(applied)
    contract = (EventTypes(contact_events.EventType).all | EventTypes(sales_events.EventType).all
                | EventTypes(support_events.EventType).all | EventTypes(marketing_events.EventType).all)
    assert set(applied) <= contract
    # what reporting counted when it matched these as copied strings and prefixes
    assert {t for t in applied if t.startswith("crm.contacts.")} == {
        f"crm.contacts.contact.{a}" for a in ("created", "updated", "tagged", "deleted", "merged")} | {
        t for t in contract if t.startswith("crm.contacts.account.")}  # accounts: the pool of customers
    assert {t for t in applied if ".opportunity." in t} == {
        f"crm.sales.opportunity.{a}" for a in ("created", "updated", "stage_changed", "won", "lost")}
    assert {t for t in applied if t.startswith("crm.sales.")} - {t for t in applied if ".opportunity." in t} == {
        t for t in contract if t.startswith("crm.sales.lead.")}
    assert {t for t in applied if t.startswith("crm.support.")} == {
        t for t in contract if t.startswith(("crm.support.ticket.", "crm.support.sla."))} | {
        "crm.support.csat.requested", "crm.support.csat.answered"}
    marketing_contract = EventTypes(marketing_events.EventType).all
    assert {t for t in applied if t.startswith("crm.marketing.")} == {
        t for t in marketing_contract if t.startswith(("crm.marketing.campaign.", "crm.marketing.wave."))} | {
        f"crm.marketing.email.{a}" for a in ("sent", "opened", "clicked", "unsubscribed")} | {
        "crm.marketing.form.submitted", "crm.marketing.lead.handed_over"}


def test_an_event_no_read_model_counts_changes_nothing(db: Database) -> None:
    env = parse_envelope(new_event(
        producer="sales", event_type="crm.sales.quote.sent", aggregate_type="quote", aggregate_id=str(uuid.uuid4()),
        aggregate_version=1, payload=sales_events.QuoteChanged()).data)
    with db.unit_of_work() as uow:
        handlers.handle(uow, env, now=START)
        for table in metadata.sorted_tables:
            assert uow.session.execute(select(table)).all() == [], table.name


def test_the_migrations_build_exactly_the_tables_the_code_uses(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)

    def runtime(change: Any) -> bool:   # the inbox, outbox ... come from crmkit, not tables.py
        table = getattr(change[1], "table", change[1])
        return str(getattr(table, "name", "")).startswith("crm_")

    assert [change for change in diff if not runtime(change)] == []
