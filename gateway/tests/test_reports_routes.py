"""/api/v1/reports/sales, /support, /campaigns (+ /campaigns/{id}) and /email-open-rate through the
gateway against the real reporting service (in-process, SQLite, a real nats-server), its read
models seeded directly through its handlers."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crm.common.v1.types_pb2 import Money
from crm.marketing.v1 import events_pb2 as mev
from crm.marketing.v1.marketing_pb2 import Campaign, SendWave
from crm.sales.v1.sales_pb2 import Lead, Opportunity
from crm.support.v1 import events_pb2 as tev
from crm.support.v1.support_pb2 import Ticket
from crm_devtools.users import DEMO_USERS
from crm_reporting import bootstrap as reporting_bootstrap
from crm_reporting.handlers import marketing as marketing_handlers
from crm_reporting.handlers import sales as sales_handlers
from crm_reporting.handlers import support as support_handlers
from crmkit.auth import mint_token
from crmkit.config import ServiceSettings
from crmkit.db import Database
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import NatsServer

SECRET = "gateway-test-secret-0123456789abcdef"  # the gateway conftest's


def _seed(url: str) -> None:
    db = Database(url)
    with db.unit_of_work() as uow:
        s = uow.session
        for oid, status, amount in (("o1", "open", "100.5"), ("o2", "won", "200"), ("o3", "lost", "10")):
            o = Opportunity(id=oid, version=1, stage="proposal", status=status, owner_id="rep.north.1",
                            team="north-sales", region="north", amount=Money(currency_code="CNY", amount=amount))
            o.closed_at.FromDatetime(datetime(2024, 6, 1, tzinfo=UTC))
            sales_handlers.apply_opportunity(s, o)
        sales_handlers.apply_lead(s, Lead(id="l1", version=1, source="event", owner_id="rep.north.1",
                                          team="north-sales", region="north"))
        t = Ticket(id="t1", version=1, status="open", priority="high", assignee_id="agent.1")
        support_handlers.apply_ticket(s, t)
        answer = tev.CsatAnswered(ticket_id="t1", rating=4, assignee_id="agent.1")
        answer.answered_at.FromDatetime(datetime(2024, 5, 2, tzinfo=UTC))
        support_handlers.apply_csat(s, answer)
        _seed_campaigns(s)
        uow.commit()
    db.dispose()


def _seed_campaigns(s: Any) -> None:
    """camp-1 (marketing.hq's webinar, cost 1000, one 2500 deal: ROI 1.5, two mails, one opened) and
    camp-2 (rep.south.1's, nothing spent). The deal and lead are in region east: the sales report's
    callers above see none of them."""
    marketing_handlers.apply_campaign(s, Campaign(
        id="camp-1", version=1, name="春季新品发布会", type="webinar", status="active", owner_id="marketing.hq",
        team="marketing", start_date="2024-06-01", actual_cost=Money(currency_code="CNY", amount="1000")))
    marketing_handlers.apply_campaign(s, Campaign(
        id="camp-2", version=1, name="South ads", type="ads", status="active", owner_id="rep.south.1",
        team="south-sales", region="south", start_date="2024-06-02"))
    wave = SendWave(id="w-1", campaign_id="camp-1", version=2, status="completed")
    wave.started_at.FromDatetime(datetime(2024, 6, 3, 9, tzinfo=UTC))
    marketing_handlers.apply_wave(s, wave)
    for kind, contact in (("sent", "c-1"), ("sent", "c-2"), ("opened", "c-1")):
        e = mev.EmailEngagement(wave_id="w-1", campaign_id="camp-1", contact_id=contact)
        e.at.FromDatetime(datetime(2024, 6, 3, 10, tzinfo=UTC))
        marketing_handlers.apply_engagement(s, e, kind, f"{kind}-{contact}")
    lead = Lead(id="l-east", version=1, source="campaign", campaign_id="camp-1", owner_id="marketing.hq",
                team="east-sales", region="east")
    lead.created_at.FromDatetime(datetime(2024, 6, 1, tzinfo=UTC))
    sales_handlers.apply_lead(s, lead)
    deal = Opportunity(id="o-east", version=2, lead_id="l-east", stage="closed", status="won", owner_id="rep.east",
                       team="east-sales", region="east", amount=Money(currency_code="CNY", amount="2500"))
    deal.closed_at.FromDatetime(datetime(2024, 6, 10, tzinfo=UTC))
    sales_handlers.apply_opportunity(s, deal)


@pytest.fixture(scope="module")
def reporting_addr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Its own nats-server: reporting consumes whole streams, and other tests publish to them.
    nats_server = NatsServer(tmp_path_factory.mktemp("reports-routes-nats")).start()
    try:
        yield from _reporting(nats_server, tmp_path_factory)
    finally:
        nats_server.stop()


def _reporting(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("reporting")
    url = f"sqlite:///{tmp / 'reporting.db'}"
    spec = reporting_bootstrap.spec()
    upgrade(url, spec.migrations)
    _seed(url)
    settings = ServiceSettings.from_env("reporting", {
        "DATABASE_URL": url, "NATS_URL": nats_server.url, "PORT": "0", "METRICS_PORT": "0",
        "JWT_SECRET": SECRET, "DATA_DIR": str(tmp)})
    runtime = ServiceRuntime(spec, settings).start()
    yield runtime.address
    runtime.stop()


@pytest.fixture
def rclient(make_client: Any, settings: Any, reporting_addr: str) -> Any:
    return make_client(settings, reporting_addr=reporting_addr)


def _headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(DEMO_USERS[user], SECRET)}"}


def test_sales_report(rclient: Any) -> None:
    answer = rclient.get("/api/v1/reports/sales", headers=_headers("manager.north"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["pipeline_by_stage"] == [{"key": "proposal", "currency_code": "CNY", "count": 1, "amount": "100.50"}]
    assert body["won_by_month"] == [{"key": "2024-06", "currency_code": "CNY", "count": 1, "amount": "200.00"}]
    assert body["win_rate"] == 0.5 and body["leads_by_source"] == [{"key": "event", "count": 1}]
    south = rclient.get("/api/v1/reports/sales?region=south", headers=_headers("admin")).get_json()
    assert south["pipeline_by_stage"] == [] and south["win_rate"] == 0
    other = rclient.get("/api/v1/reports/sales", headers=_headers("rep.south.1")).get_json()
    assert other["pipeline_by_stage"] == [] and other["leads_by_source"] == []


def test_support_report(rclient: Any) -> None:
    answer = rclient.get("/api/v1/reports/support?from_day=2024-05-01&to_day=2024-05-31", headers=_headers("admin"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["total"] == 1 and body["by_priority"] == [{"key": "high", "count": 1}]
    assert body["csat_average"] == 4 and body["csat_per_day"] == [{"day": "2024-05-02", "count": 1, "average": 4,
                                                                   "satisfied": 1}]
    assert (body["csat_count"], body["csat_satisfied"], body["csat_satisfied_share"]) == (1, 1, 1.0)
    # no answer the caller may see: the count is 0 and average and share are absent, never 0
    nobody = rclient.get("/api/v1/reports/support", headers=_headers("rep.south.1")).get_json()
    assert (nobody["csat_count"], nobody["csat_satisfied"]) == (0, 0)
    assert "csat_average" not in nobody and "csat_satisfied_share" not in nobody
    bad = rclient.get("/api/v1/reports/support?from_day=2024-05-31&to_day=2024-05-01", headers=_headers("admin"))
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("application/problem+json")
    assert rclient.get("/api/v1/reports/support?from_day=tomorrow", headers=_headers("admin")).status_code == 400


def test_the_document_describes_the_support_csat_figures(rclient: Any) -> None:
    schemas = rclient.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    figures = schemas["SupportSummary"]["properties"]
    assert figures["csat_satisfied"]["type"] == "integer"
    share = figures["csat_satisfied_share"]
    assert (share["type"], share["minimum"], share["maximum"]) == ("number", 0, 1)
    assert "absent" in share["description"] and "absent" in figures["csat_average"]["description"]
    assert schemas["CsatDay"]["properties"]["satisfied"]["type"] == "integer"


def _problem_field(answer: Any) -> str:
    assert answer.headers["Content-Type"].startswith("application/problem+json"), answer.get_data(as_text=True)
    return str(answer.get_json()["errors"][0]["field"])


def test_campaign_roi_table(rclient: Any) -> None:
    answer = rclient.get("/api/v1/reports/campaigns", headers=_headers("marketing.hq"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    # a marketer reads every campaign (as marketing shows them): rep.south.1's camp-2 too
    assert sorted(r["campaign_id"] for r in body["campaigns"]) == ["camp-1", "camp-2"]
    row = next(r for r in body["campaigns"] if r["campaign_id"] == "camp-1")
    assert (row["campaign_id"], row["channel"], row["leads"], row["email"]["delivered"]) == ("camp-1", "webinar", 1, 2)
    assert row["email"]["open_rate"] == 0.5
    assert row["money"] == {"currency_code": "CNY", "budget": "0.00", "actual_cost": "1000.00", "first_touch_deals": 1,
                            "first_touch_revenue": "2500.00", "last_touch_deals": 1, "last_touch_revenue": "2500.00",
                            "first_touch_roi": 1.5, "last_touch_roi": 1.5}
    assert [c["channel"] for c in body["channels"]] == ["ads", "webinar"]

    everything = rclient.get("/api/v1/reports/campaigns?order_by=name&page_size=1", headers=_headers("admin")).get_json()
    assert [r["campaign_id"] for r in everything["campaigns"]] == ["camp-2"]
    assert "first_touch_roi" not in everything["campaigns"][0]["money"]          # nothing spent: null, not 0
    token = everything["page"]["next_page_token"]
    rest = rclient.get(f"/api/v1/reports/campaigns?order_by=name&page_size=1&page_token={token}",
                       headers=_headers("admin")).get_json()
    assert [r["campaign_id"] for r in rest["campaigns"]] == ["camp-1"] and rest["page"]["next_page_token"] == ""
    assert rclient.get("/api/v1/reports/campaigns", headers=_headers("rep.north.1")).get_json()["campaigns"] == []

    for query, field in (("order_by=roi", "order_by"), ("from_day=2024-06-30&to_day=2024-06-01", "to_day"),
                         ("page_size=0", "page_size"), ("page_token=forged", "page_token")):
        bad = rclient.get(f"/api/v1/reports/campaigns?{query}", headers=_headers("admin"))
        assert bad.status_code == 400, query
        assert _problem_field(bad) == field, query


def test_one_campaigns_report(rclient: Any) -> None:
    answer = rclient.get("/api/v1/reports/campaigns/camp-1", headers=_headers("marketing.hq"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["campaign"]["money"]["first_touch_roi"] == 1.5
    assert [(w["wave_id"], w["status"], w["send_day"]) for w in body["waves"]] == [("w-1", "completed", "2024-06-03")]
    assert body["leads_by_source"] == [{"key": "sales_lead", "count": 1}]
    hidden = rclient.get("/api/v1/reports/campaigns/camp-1", headers=_headers("rep.south.1"))
    assert hidden.status_code == 404 and _problem_field(hidden) == "campaign_id"
    assert rclient.get("/api/v1/reports/campaigns/nope", headers=_headers("admin")).status_code == 404


def test_email_open_rate(rclient: Any) -> None:
    answer = rclient.get("/api/v1/reports/email-open-rate?interval=week&by_campaign=true", headers=_headers("admin"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["interval"] == "week"
    assert body["points"] == [{"period": "2024-06-03", "campaign_id": "camp-1", "campaign_name": "春季新品发布会",
                               "delivered": 2, "opened": 1, "clicked": 0, "unsubscribed": 0, "open_rate": 0.5,
                               "click_rate": 0.0}]
    days = rclient.get("/api/v1/reports/email-open-rate?from_day=2024-06-04", headers=_headers("admin")).get_json()
    assert days["points"] == [] and "open_rate" not in days["total"]
    for query, field in (("interval=month", "interval"), ("from_day=2024-06-30&to_day=2024-06-01", "to_day"),
                         ("by_campaign=maybe", "by_campaign"), ("to_day=June", "to_day")):
        bad = rclient.get(f"/api/v1/reports/email-open-rate?{query}", headers=_headers("admin"))
        assert bad.status_code == 400, query
        assert _problem_field(bad) == field, query


def test_dashboards_page_by_cursor(rclient: Any) -> None:
    manager = _headers("manager.north")
    widget = {"kind": "figure", "query": {"source": "opportunities", "measures": ["count"]}}
    for n, name in enumerate(("分页 B", "分页 A", "分页 C")):
        made = rclient.post("/api/v1/reports/dashboards", json={"name": name, "widgets": [widget]},
                            headers={**manager, "Idempotency-Key": f"paging-{n}"})
        assert made.status_code == 201, made.get_json()
    whole = rclient.get("/api/v1/reports/dashboards", headers=manager).get_json()  # an old caller: everything
    names = [d["name"] for d in whole["items"] if d["name"].startswith("分页")]
    assert names == ["分页 A", "分页 B", "分页 C"] and whole["next_page_token"] == ""
    seen, token = [], ""
    while True:
        page = rclient.get("/api/v1/reports/dashboards", query_string={"page_size": 1, "page_token": token},
                           headers=manager).get_json()
        assert len(page["items"]) <= 1
        seen += [d["name"] for d in page["items"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [d["name"] for d in whole["items"]]
    bad = rclient.get("/api/v1/reports/dashboards?page_token=czE", headers=manager)
    assert bad.status_code == 400 and _problem_field(bad) == "page_token"


@pytest.mark.parametrize(("collection", "body"), [
    ("dashboards", {"name": "并发 board", "widgets": [{"kind": "figure", "query": {"source": "opportunities",
                                                                                   "measures": ["count"]}}]}),
    ("saved", {"name": "并发 query", "query": {"source": "opportunities", "measures": ["count"]}}),
])
def test_a_stale_if_match_on_a_dashboard_or_saved_query_is_409_and_changes_nothing(
        rclient: Any, collection: str, body: dict[str, Any]) -> None:
    """GET answers an ETag; two people edit from version 1: the second save (If-Match "1") must not
    overwrite the first, nor may a delete with a stale If-Match remove it."""
    manager = _headers("manager.north")
    made = rclient.post(f"/api/v1/reports/{collection}", json=body, headers=manager)
    assert made.status_code == 201, made.get_json()
    path = f"/api/v1/reports/{collection}/{made.get_json()['id']}"
    etag = rclient.get(path, headers=manager).headers["ETag"]
    first = rclient.put(path, json={**body, "name": "first"}, headers={**manager, "If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    second = rclient.put(path, json={**body, "name": "second"}, headers={**manager, "If-Match": etag})
    assert second.status_code == 409 and _problem_field(second) == "version"
    gone = rclient.delete(path, headers={**manager, "If-Match": etag})
    assert gone.status_code == 409
    assert rclient.get(path, headers=manager).get_json()["name"] == "first"
    assert rclient.delete(path, headers={**manager, "If-Match": '"2"'}).status_code == 204


@pytest.mark.parametrize("size", [-1, 1001])
def test_a_drill_down_page_size_out_of_range_is_refused(rclient: Any, size: int) -> None:
    body = {"query": {"source": "opportunities", "measures": ["count"]}, "page": {"page_size": size}}
    for path in ("/api/v1/reports/query/drill-down", "/api/v1/reports/dashboards/d-1/widgets/w1/drill-down"):
        bad = rclient.post(path, json=body if "query" in path else {"page": body["page"]},
                           headers=_headers("manager.north"))
        assert bad.status_code == 400, (path, bad.get_json())
        assert _problem_field(bad) == "page.page_size", path
