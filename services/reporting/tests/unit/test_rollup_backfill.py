"""Migration 0009 backfills its rollups from the facts a database already holds: facts kept by
the handlers are copied into a database at revision 0008 (before the day, tagged-customer and email
rollups existed), the upgrade to the head fills those rollups, and they hold exactly the rows the
handlers kept event by event, so the reports read from them answer what the facts answer."""
from __future__ import annotations

from pathlib import Path

from google.protobuf.json_format import MessageToDict
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import (
    GetCustomerCountsRequest,
    GetEmailOpenRateRequest,
    ListCampaignRoiRequest,
    Query,
)
from crm_reporting import tables
from crm_reporting.analytics import query
from crm_reporting.bootstrap import MIGRATIONS
from crm_reporting.usecases import campaigns, customers, email
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.migrations import upgrade

from . import test_email_rollup, test_rollups
from .conftest import Feed

FACTS = (tables.opportunities, tables.customers, tables.customer_tags, tables.campaigns, tables.waves,
         tables.email_engagements, tables.campaign_leads)
BACKFILLED = (tables.opportunity_day_rollup, tables.tagged_customer_rollup, tables.email_rollup,
              tables.campaign_revenue_rollup)


def test_the_upgrade_fills_the_new_rollups_from_the_facts_already_held(feed: Feed, session: Session,
                                                                        tmp_path: Path) -> None:
    test_rollups._feed_random(feed, session, 7)
    test_email_rollup._feed_random(feed, 7)
    kept = {t.name: sorted(tuple(r) for r in session.execute(select(t))) for t in BACKFILLED}
    assert all(kept.values())

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, MIGRATIONS, "0008")
    old = Database(url)
    try:
        with old.unit_of_work() as uow:
            for t in FACTS:
                rows = [dict(r._mapping) for r in session.execute(select(t))]
                if rows:
                    uow.session.execute(insert(t), rows)
            uow.commit()
        upgrade(url, MIGRATIONS)
        analyst = Principal("analyst.1", ("analyst",), "bi", "")
        with old.read() as s:
            assert {t.name: sorted(tuple(r) for r in s.execute(select(t))) for t in BACKFILLED} == kept
            week = Query(source="opportunities", dimensions=["stage"], measures=["count", "amount"],
                         time_field="created", time_grain="week")
            assert query.rollup_statement(query.plan(week, analyst)) is not None
            assert MessageToDict(query.run(s, week, analyst)) == MessageToDict(
                query.run(s, week, analyst, use_rollup=False))
            tagged = GetCustomerCountsRequest(tag="vip")
            counted = customers.customer_counts(s, principal=analyst, request=tagged)
            assert counted.total > 0
            assert MessageToDict(counted) == MessageToDict(
                customers.customer_counts(s, principal=analyst, request=tagged, use_rollup=False))
            roi = ListCampaignRoiRequest()
            assert MessageToDict(campaigns.campaign_roi(s, principal=analyst, request=roi)) == MessageToDict(
                campaigns.campaign_roi(s, principal=analyst, request=roi, use_rollup=False))
            rate = GetEmailOpenRateRequest(by_campaign=True)
            assert MessageToDict(email.email_open_rate(s, principal=analyst, request=rate)) == MessageToDict(
                email.email_open_rate(s, principal=analyst, request=rate, use_rollup=False))
    finally:
        old.dispose()
