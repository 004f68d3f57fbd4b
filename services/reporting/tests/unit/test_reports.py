"""The report use cases on the migrated schema, beyond what the handler tests cover: the owner /
team / region rule for every kind of caller over every shape of row, the tag filter, the day
windows, and what `events_applied` counts."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm.common.v1.types_pb2 import Money
from crm.contacts.v1.contacts_pb2 import Contact
from crm.reporting.v1.reporting_pb2 import GetCustomerCountsRequest, GetSalesSummaryRequest, GetSupportSummaryRequest
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm.support.v1 import events_pb2 as tev
from crm.support.v1.support_pb2 import Ticket
from crm_devtools.users import DEMO_USERS
from crm_reporting.handlers import contacts, sales, support
from crm_reporting.usecases import customers as customer_reports
from crm_reporting.usecases import sales as sales_reports
from crm_reporting.usecases import support as support_reports
from crmkit.auth import SYSTEM, Principal
from crmkit.errors import InvalidArgument
from crmkit.runtime_tables import inbox_row

NOW = datetime(2024, 5, 6, tzinfo=UTC)
OWNERS, TEAMS, REGIONS = ("rep.a", "rep.b", ""), ("north-sales", "south-sales", ""), ("north", "south", "")
# every combination of owner, team and region, blanks included: one customer, deal and lead each
ROWS = list(itertools.product(OWNERS, TEAMS, REGIONS))


def old_rule(principal: Principal, owner: str, team: str, region: str) -> bool:
    """What reporting counted before crmkit.visibility: admins, services and analysts everything,
    a manager their team or their region (a blank one matching nothing), anyone else their own."""
    if principal.is_admin or "analyst" in principal.roles:
        return True
    if principal.is_manager:
        return bool((principal.team and team == principal.team) or (principal.region and region == principal.region))
    return owner == principal.user_id


CALLERS = {
    "admin": DEMO_USERS["admin"],
    "service": SYSTEM,
    "analyst": Principal("analyst.1", ("analyst",), "bi", ""),
    "manager-team-and-region": Principal("manager.n", ("manager",), "north-sales", "north"),
    "manager-team-only": Principal("manager.t", ("manager",), "south-sales", ""),
    "manager-region-only": Principal("manager.r", ("manager",), "", "south"),
    "manager-neither": Principal("manager.x", ("manager",), "", ""),
    "rep": Principal("rep.a", ("rep",), "north-sales", "north"),
    "support-agent": Principal("rep.b", ("support",), "", ""),
    "no-roles": Principal("someone", (), "north-sales", "north"),
}


def _seed_rows(session: Session) -> None:
    for i, (owner, team, region) in enumerate(ROWS):
        c = Contact(id=f"c{i}", version=1, name="x", owner_id=owner, team=team, region=region)
        c.created_at.FromDatetime(NOW)
        contacts.apply_snapshot(session, c, now=NOW)
        sales.apply_opportunity(session, Opportunity(id=f"o{i}", version=1, stage="qualify", owner_id=owner,
                                                     team=team, region=region, amount=Money(currency_code="CNY",
                                                                                            amount="1")))
        sales.apply_lead(session, Lead(id=f"l{i}", version=1, source="event", owner_id=owner, team=team,
                                       region=region))


@pytest.mark.parametrize("caller", list(CALLERS))
def test_each_caller_counts_exactly_the_rows_the_owner_team_region_rule_gives(session: Session,
                                                                              caller: str) -> None:
    _seed_rows(session)
    principal = CALLERS[caller]
    expected = sum(old_rule(principal, *row) for row in ROWS)
    counts = customer_reports.customer_counts(session, principal=principal, request=GetCustomerCountsRequest())
    summary = sales_reports.sales_summary(session, principal=principal, request=GetSalesSummaryRequest())
    assert (counts.total, summary.pipeline_count, summary.lead_count) == (expected, expected, expected)
    if caller in ("admin", "service", "analyst"):
        assert expected == len(ROWS)
    if caller in ("manager-neither", "no-roles"):
        assert expected == 0


def test_the_tag_filter_counts_only_customers_with_that_tag(session: Session) -> None:
    for cid, tags, region in (("a", ["vip", "展会"], "north"), ("b", ["vip"], "south"), ("c", [], "north")):
        c = Contact(id=cid, version=1, name=cid, owner_id="rep.a", team="t", region=region, tags=tags)
        c.created_at.FromDatetime(NOW)
        contacts.apply_snapshot(session, c, now=NOW)
    admin = DEMO_USERS["admin"]
    vip = customer_reports.customer_counts(session, principal=admin, request=GetCustomerCountsRequest(tag="vip"))
    assert vip.total == 2 and {b.key: b.count for b in vip.by_tag} == {"vip": 2, "展会": 1}
    assert {b.key: b.count for b in vip.by_region} == {"north": 1, "south": 1}
    north_fair = customer_reports.customer_counts(session, principal=admin,
                                                  request=GetCustomerCountsRequest(tag="展会", region="north"))
    assert north_fair.total == 1
    none = customer_reports.customer_counts(session, principal=admin, request=GetCustomerCountsRequest(tag="nope"))
    assert none.total == 0 and list(none.by_tag) == [] and list(none.new_per_day) == []


def test_events_applied_counts_only_this_services_inbox_rows(session: Session) -> None:
    session.execute(insert(inbox_row), [
        {"consumer": consumer, "event_id": f"{consumer}-{i}", "event_type": "t", "processed_at": NOW}
        for consumer, n in (("reporting", 3), ("contacts", 5)) for i in range(n)])
    admin = DEMO_USERS["admin"]
    assert customer_reports.customer_counts(session, principal=admin,
                                            request=GetCustomerCountsRequest()).events_applied == 3
    assert sales_reports.sales_summary(session, principal=admin, request=GetSalesSummaryRequest()).events_applied == 3
    assert support_reports.support_summary(session, principal=admin,
                                           request=GetSupportSummaryRequest()).events_applied == 3


def _answer(tid: str, rating: int, day: str) -> tev.CsatAnswered:
    answer = tev.CsatAnswered(ticket_id=tid, rating=rating, assignee_id="agent.1")
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC))
    answer.answered_at.CopyFrom(stamp)
    return answer


def test_the_csat_day_window_narrows_only_the_days(session: Session) -> None:
    for i, (rating, day) in enumerate(((5, "2024-05-01"), (3, "2024-05-02"), (1, "2024-05-03"), (4, "2024-05-03"))):
        support.apply_ticket(session, Ticket(id=f"t{i}", version=1, assignee_id="agent.1"))
        support.apply_csat(session, _answer(f"t{i}", rating, day))
    s = support_reports.support_summary(session, principal=DEMO_USERS["admin"],
                                        request=GetSupportSummaryRequest(from_day="2024-05-02", to_day="2024-05-02"))
    assert [(d.day, d.count, d.average) for d in s.csat_per_day] == [("2024-05-02", 1, 3.0)]
    assert (s.csat_count, s.csat_average, s.total) == (4, 13 / 4, 4)
    upto = support_reports.support_summary(session, principal=DEMO_USERS["admin"],
                                           request=GetSupportSummaryRequest(to_day="2024-05-02"))
    assert [d.day for d in upto.csat_per_day] == ["2024-05-01", "2024-05-02"]


@pytest.mark.parametrize("value", ["2024-05-0", "20240501xx", "2024.05.01"])
def test_the_customer_and_support_reports_refuse_a_day_they_cannot_compare(session: Session, value: str) -> None:
    admin = DEMO_USERS["admin"]
    with pytest.raises(InvalidArgument) as err:
        customer_reports.customer_counts(session, principal=admin, request=GetCustomerCountsRequest(to_day=value))
    assert err.value.field == "to_day"
    with pytest.raises(InvalidArgument) as err:
        support_reports.support_summary(session, principal=admin, request=GetSupportSummaryRequest(from_day=value))
    assert err.value.field == "from_day"
