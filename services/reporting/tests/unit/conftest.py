"""Reporting's unit tests run on the real schema: a SQLite file migrated by the service's own
migrations (copied from a template made once per session), one write transaction per test; `feed`
applies marketing and sales events to it through the consumer's handler."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.common.v1.types_pb2 import Money
from crm.marketing.v1 import events_pb2 as mev
from crm.marketing.v1.marketing_pb2 import Campaign, EmailCounts, SendWave
from crm.sales.v1 import events_pb2 as sev
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm_reporting import handlers
from crm_reporting.bootstrap import MIGRATIONS
from crmkit.db import Database, UnitOfWork
from crmkit.events import new_event, parse_envelope
from crmkit.testing import migrated_database

FEED_NOW = datetime(2024, 7, 1, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = migrated_database(MIGRATIONS, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def uow(db: Database) -> Iterator[UnitOfWork]:
    """One transaction for the whole test, rolled back at the end (as a consumer batch would be
    on failure): what the handlers write is read back by the use cases in the same session."""
    with db.unit_of_work() as unit:
        yield unit


@pytest.fixture
def session(uow: UnitOfWork) -> Session:
    return uow.session


class Feed:
    """Marketing and sales events as the consumer hands them over: real envelopes (crmkit.events)
    through `handlers.handle` in the test's unit of work. `log` keeps them, to replay elsewhere in
    another order."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.log: list[EventEnvelope] = []

    def event(self, event_type: str, aggregate_id: str, version: int, payload: Message) -> EventEnvelope:
        producer = event_type.split(".")[1]
        env = parse_envelope(new_event(producer=producer, event_type=event_type, aggregate_type=event_type.split(".")[2],
                                       aggregate_id=aggregate_id, aggregate_version=version, payload=payload).data)
        handlers.handle(self.uow, env, now=FEED_NOW)
        self.log.append(env)
        return env

    # -- marketing --------------------------------------------------------------------------------

    def campaign(self, cid: str, version: int = 1, *, type: str = "email", cost: str = "0", budget: str = "0",
                 currency: str = "CNY", owner: str = "marketing.hq", team: str = "marketing", region: str = "",
                 status: str = "active", start: str = "2024-06-01", name: str = "", event: str = "updated"
                 ) -> EventEnvelope:
        c = Campaign(id=cid, version=version, name=name or f"campaign {cid}", type=type, status=status,
                     owner_id=owner, team=team, region=region, start_date=start,
                     budget=Money(currency_code=currency if budget != "0" else "", amount=budget),
                     actual_cost=Money(currency_code=currency if cost != "0" else "", amount=cost))
        payload: Message = mev.CampaignDeleted(campaign=c) if event == "deleted" else mev.CampaignUpdated(campaign=c)
        return self.event(f"crm.marketing.campaign.{event}", cid, version, payload)

    def wave(self, wid: str, cid: str, version: int = 1, *, status: str = "sending", recipients: int = 0,
             failed: int = 0, delivered: int = 0, started: str = "2024-06-03T09:00:00", kind: str = ""
             ) -> EventEnvelope:
        w = SendWave(id=wid, campaign_id=cid, version=version, status=status, kind=kind,
                     counts=EmailCounts(recipients=recipients, failed=failed, delivered=delivered))
        w.started_at.CopyFrom(ts(started))
        w.created_at.CopyFrom(ts(started))
        event = {"sending": "started", "completed": "completed", "cancelled": "cancelled"}.get(status, "created")
        return self.event(f"crm.marketing.wave.{event}", wid, version, mev.WaveChanged(wave=w))

    def email(self, kind: str, wid: str, cid: str, contact: str, at: str) -> EventEnvelope:
        e = mev.EmailEngagement(wave_id=wid, campaign_id=cid, contact_id=contact, channel="email")
        e.at.CopyFrom(ts(at))
        return self.event(f"crm.marketing.email.{kind}", f"{wid}/{contact}", 1, e)

    def form(self, sid: str, cid: str, *, contact: str = "", at: str = "2024-06-05T10:00:00") -> EventEnvelope:
        f = mev.FormSubmitted(submission_id=sid, form_id="form-1", campaign_id=cid, contact_id=contact,
                              channel="web_form")
        f.at.CopyFrom(ts(at))
        return self.event("crm.marketing.form.submitted", sid, 1, f)

    def handover(self, lead: str, contact: str, cid: str, *, submission: str = "", at: str = "2024-06-06T10:00:00"
                 ) -> EventEnvelope:
        h = mev.LeadHandedOver(lead_id=lead, contact_id=contact, campaign_id=cid, submission_id=submission,
                               source="web_form" if submission else "marketing_qualified")
        h.at.CopyFrom(ts(at))
        return self.event("crm.marketing.lead.handed_over", lead or contact, 1, h)

    # -- sales ------------------------------------------------------------------------------------

    def lead(self, lid: str, version: int = 1, *, campaign: str = "", status: str = "new", contact: str = "",
             created: str = "2024-06-01T08:00:00", owner: str = "rep.north.1") -> EventEnvelope:
        lead = Lead(id=lid, version=version, source="campaign" if campaign else "web_form", campaign_id=campaign,
                    status=status, converted_contact_id=contact, owner_id=owner, team="north-sales", region="north")
        lead.created_at.CopyFrom(ts(created))
        if status == "converted":
            return self.event("crm.sales.lead.converted", lid, version,
                              sev.LeadConverted(lead=lead, contact_id=contact))
        return self.event("crm.sales.lead.updated", lid, version, sev.LeadUpdated(lead=lead))

    def deal(self, oid: str, version: int = 2, *, lead: str = "", contact: str = "", status: str = "won",
             amount: str = "1000", currency: str = "CNY", closed: str = "2024-06-20T00:00:00") -> EventEnvelope:
        o = Opportunity(id=oid, version=version, lead_id=lead, contact_id=contact, status=status, stage="closed",
                        owner_id="rep.north.1", team="north-sales", region="north",
                        amount=Money(currency_code=currency, amount=amount))
        if status in ("won", "lost"):
            o.closed_at.CopyFrom(ts(closed))
        kind = status if status in ("won", "lost") else "updated"
        payload: Message = sev.OpportunityClosed(opportunity=o) if status in ("won", "lost") else \
            sev.OpportunityUpdated(opportunity=o)
        return self.event(f"crm.sales.opportunity.{kind}", oid, version, payload)


def ts(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))
    return stamp


@pytest.fixture
def feed(uow: UnitOfWork) -> Feed:
    return Feed(uow)
