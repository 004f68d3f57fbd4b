"""The authorization matrix through the gateway: every resource × every role × every verb, with
what the role policies say (README "Roles"): allowed, or refused with 404 (the caller may not
see the record: it might as well not exist) or 403 (they see it but may not do this).

One set of records, made once by rep.north.1 (their account, contact, lead, deal, task and a
ticket for that contact) and by marketing.hq (a campaign), is read and changed by every demo role.
Changes are harmless (the same title again, a tag, a next step), so the rows can run in any
order. Then the findings of issue 11 as a second rep and a manager of another region would try
them: moving a record to another region, attaching work to someone else's customer, and a
duplicate's id."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e

ROLES = ("admin", "manager.north", "manager.south", "rep.north.1", "rep.north.2", "rep.south.1", "marketing.hq",
         "finance.hq", "analyst.hq", "agent.support", "legal.hq")
OK, HIDDEN, DENIED = "ok", 404, 403


def row(**codes: Any) -> dict[str, Any]:
    """Every role's expected outcome: `default` for those not named (dots become underscores)."""
    default = codes.pop("default")
    named = {k.replace("_", "."): v for k, v in codes.items()}
    return {role: named.get(role, default) for role in ROLES}


# -- what each role may do, per resource and verb --------------------------------------------
# Customers (contacts service): owner, their team's and region's manager, admin; support and
# analysts read all but change nothing; marketing, finance and legal see only their own.
CUSTOMER_READ = row(default=HIDDEN, admin=OK, manager_north=OK, rep_north_1=OK, analyst_hq=OK, agent_support=OK)
CUSTOMER_EDIT = row(default=HIDDEN, admin=OK, manager_north=OK, rep_north_1=OK, analyst_hq=DENIED,
                    agent_support=DENIED)
# Sales records: finance, legal, analysts and support read every one (they approve, report, help).
SALES_READ = row(default=HIDDEN, admin=OK, manager_north=OK, rep_north_1=OK, finance_hq=OK, analyst_hq=OK,
                 agent_support=OK, legal_hq=OK)
SALES_EDIT = row(default=HIDDEN, admin=OK, manager_north=OK, rep_north_1=OK, finance_hq=DENIED, analyst_hq=DENIED,
                 agent_support=DENIED, legal_hq=DENIED)
# Tickets: support agents and admins every one; a manager their region's; the author follows it.
TICKET_READ = row(default=HIDDEN, admin=OK, manager_north=OK, rep_north_1=OK, agent_support=OK)
TICKET_WORK = row(default=DENIED, admin=OK, manager_north=OK, agent_support=OK, manager_south=HIDDEN)
# Campaigns: marketing and analysts read every one, marketing changes its own.
CAMPAIGN_READ = row(default=HIDDEN, admin=OK, marketing_hq=OK, analyst_hq=OK)
CAMPAIGN_EDIT = row(default=HIDDEN, admin=OK, marketing_hq=OK, analyst_hq=DENIED)


@pytest.fixture(scope="module")
def records(api: Callable[[str], Any]) -> dict[str, str]:
    rep, mkt = api("rep.north.1"), api("marketing.hq")

    def made(r: Any) -> str:
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    run = uuid.uuid4().hex[:8]
    account = made(rep.post("/accounts", json={"name": f"矩阵测试有限公司 {run}", "industry": "C39"}))
    contact = made(rep.post("/contacts", json=new_contact(f"矩阵 {run}", title="采购经理", account_id=account)))
    lead = made(rep.post("/leads", json={"name": f"线索 {run}", "company": f"线索公司 {run}",
                                         "owner_id": "rep.north.1"}))
    opp = made(rep.post("/opportunities", json={
        "name": f"商机 {run}", "account_id": account, "contact_id": contact, "expected_close_date": "2027-06-30",
        "amount": {"currency_code": "CNY", "amount": "100000"}}))
    task = made(rep.post("/tasks", json={"title": "回访", "related_type": "opportunity", "related_id": opp,
                                         "contact_id": contact}))
    manager = api("manager.north")
    product = made(manager.post("/products", json={"sku": f"matrix-{run}", "name": "CRM 企业版", "unit": "套"}))
    book = manager.http.put(manager.base + "/price-books", timeout=10, json={
        "name": f"矩阵价 {run}", "currency_code": "CNY", "tier": "standard",
        "entries": [{"product_id": product, "unit_price": {"amount": "19999.99"}}]})
    assert book.status_code in (200, 201), book.text
    quote = made(rep.post("/quotes", json={"opportunity_id": opp, "price_book_id": book.json()["id"],
                                           "lines": [{"product_id": product, "quantity": "2"}]}))
    ticket = made(rep.post("/tickets", json={"subject": f"打印机无法连接 {run}", "contact_id": contact}))
    campaign = made(mkt.post("/campaigns", json={"name": f"矩阵活动 {run}", "type": "webinar",
                                                 "start_date": "2027-04-01"}))
    return {"account": account, "contact": contact, "lead": lead, "opportunity": opp, "task": task,
            "quote": quote, "ticket": ticket, "campaign": campaign, "run": run, "product": product,
            "book": book.json()["id"]}


def outcome(r: Any) -> Any:
    if r.status_code in (HIDDEN, DENIED):
        return r.status_code
    assert r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return OK


# (resource, verb, expected, the call)
Call = Callable[[Any, dict[str, str]], Any]
CASES: list[tuple[str, str, dict[str, Any], Call]] = [
    ("account", "read", CUSTOMER_READ, lambda a, r: a.get(f"/accounts/{r['account']}")),
    ("account", "edit", CUSTOMER_EDIT, lambda a, r: a.patch(f"/accounts/{r['account']}", json={"industry": "C39"})),
    ("contact", "read", CUSTOMER_READ, lambda a, r: a.get(f"/contacts/{r['contact']}")),
    ("contact", "timeline", CUSTOMER_READ, lambda a, r: a.get(f"/contacts/{r['contact']}/timeline")),
    ("contact", "edit", CUSTOMER_EDIT, lambda a, r: a.patch(f"/contacts/{r['contact']}", json={"title": "采购经理"})),
    ("lead", "read", SALES_READ, lambda a, r: a.get(f"/leads/{r['lead']}")),
    ("lead", "edit", SALES_EDIT, lambda a, r: a.patch(f"/leads/{r['lead']}", json={"notes": "matrix"})),
    ("opportunity", "read", SALES_READ, lambda a, r: a.get(f"/opportunities/{r['opportunity']}")),
    ("opportunity", "edit", SALES_EDIT,
     lambda a, r: a.patch(f"/opportunities/{r['opportunity']}", json={"next_step": "matrix"})),
    ("quote", "read", SALES_READ, lambda a, r: a.get(f"/quotes/{r['quote']}")),
    ("ticket", "read", TICKET_READ, lambda a, r: a.get(f"/tickets/{r['ticket']}")),
    ("ticket", "comments", TICKET_READ, lambda a, r: a.get(f"/tickets/{r['ticket']}/comments")),
    ("ticket", "edit", TICKET_WORK, lambda a, r: a.patch(f"/tickets/{r['ticket']}", json={"tags": ["matrix"]})),
    ("ticket", "comment", TICKET_WORK,
     lambda a, r: a.post(f"/tickets/{r['ticket']}/comments", json={"comment": {"body": "内部备注", "public": False}})),
    ("campaign", "read", CAMPAIGN_READ, lambda a, r: a.get(f"/campaigns/{r['campaign']}")),
    ("campaign", "edit", CAMPAIGN_EDIT,
     lambda a, r: a.patch(f"/campaigns/{r['campaign']}", json={"description": "matrix"})),
]


@pytest.mark.parametrize("resource, verb, expected, call", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_role_gets_what_the_policy_says(api: Callable[[str], Any], records: dict[str, str], resource: str,
                                              verb: str, expected: dict[str, Any], call: Call) -> None:
    got = {role: outcome(call(api(role), records)) for role in ROLES}
    assert got == expected


# (resource, the list call, the key of the record it must (not) contain, who finds it)
LISTS: list[tuple[str, Callable[[Any, dict[str, str]], Any], dict[str, Any]]] = [
    ("accounts", lambda a, r: a.get("/accounts", params={"q": f"矩阵测试有限公司 {r['run']}"}), CUSTOMER_READ),
    ("contacts", lambda a, r: a.get("/contacts", params={"account_id": r["account"]}), CUSTOMER_READ),
    ("leads", lambda a, r: a.get("/leads", params={"q": f"线索 {r['run']}"}), SALES_READ),
    ("opportunities", lambda a, r: a.get("/opportunities", params={"account_id": r["account"]}), SALES_READ),
    ("tasks", lambda a, r: a.get("/tasks", params={"related_id": r["opportunity"]}), SALES_READ),
    ("tickets", lambda a, r: a.get("/tickets", params={"contact_id": r["contact"]}), TICKET_READ),
    ("campaigns", lambda a, r: a.get("/campaigns", params={"owner_id": "marketing.hq", "page_size": 200}),
     CAMPAIGN_READ),
]
KEY = {"accounts": "account", "contacts": "contact", "leads": "lead", "opportunities": "opportunity",
       "tasks": "task", "tickets": "ticket", "campaigns": "campaign"}


@pytest.mark.parametrize("name, call, expected", LISTS, ids=[entry[0] for entry in LISTS])
def test_every_role_lists_only_what_it_may_read(api: Callable[[str], Any], records: dict[str, str], name: str,
                                                call: Callable[[Any, dict[str, str]], Any],
                                                expected: dict[str, Any]) -> None:
    def found(role: str) -> bool:
        r = call(api(role), records)
        if r.status_code == DENIED:  # a role refused the whole list finds nothing either
            return False
        assert r.status_code == 200, f"{role}: {r.text}"
        return records[KEY[name]] in {item["id"] for item in r.json()["items"]}

    assert {role: found(role) for role in ROLES} == {role: expected[role] == OK for role in ROLES}


def test_the_tickets_status_moves_only_for_those_who_work_it(api: Callable[[str], Any],
                                                             records: dict[str, str]) -> None:
    ticket, status = records["ticket"], "new"
    got = {}
    for role in ROLES:
        target = "open" if status in ("new", "pending") else "pending"
        r = api(role).post(f"/tickets/{ticket}/status", json={"status": target})
        got[role] = outcome(r)
        if got[role] == OK:
            status = target
    assert got == TICKET_WORK


def test_finance_reads_the_payment_records_but_not_the_conversations(api: Callable[[str], Any],
                                                                     records: dict[str, str]) -> None:
    finance = api("finance.hq")
    quote = finance.get(f"/quotes/{records['quote']}").json()
    assert quote["total"]["amount"] == "39999.98" and quote["status"] == "draft"
    assert finance.get(f"/opportunities/{records['opportunity']}").json()["amount"]["amount"] == "100000.00"
    assert finance.get(f"/contacts/{records['contact']}/timeline").status_code == HIDDEN
    assert finance.get(f"/tickets/{records['ticket']}/comments").status_code == HIDDEN


def test_an_analyst_reads_customers_with_masked_phones_and_emails(api: Callable[[str], Any],
                                                                   records: dict[str, str]) -> None:
    full = api("rep.north.1").get(f"/contacts/{records['contact']}").json()
    seen = api("analyst.hq").get(f"/contacts/{records['contact']}").json()
    assert seen["name"] == full["name"]
    email, masked = full["emails"][0]["address"], seen["emails"][0]["address"]
    assert masked != email and "***@" in masked and masked.endswith(email.split("@")[1])
    assert "*" in seen["phones"][0]["number"] and seen["phones"][0]["number"][-4:] == full["phones"][0]["number"][-4:]


# -- the findings ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [
    ("/contacts", new_contact("换区客户", region="south")),
    ("/accounts", {"name": "换区公司", "team": "south-sales"}),
    ("/leads", {"name": "换区线索", "region": "south"}),
    ("/opportunities", {"name": "换区商机", "region": "south"}),
])
def test_a_rep_cannot_file_a_record_in_another_region_or_team(api: Callable[[str], Any], path: str,
                                                             body: dict[str, Any]) -> None:
    r = api("rep.north.1").post(path, json=body)
    assert r.status_code == DENIED, r.text
    assert r.json()["errors"][0]["field"] in ("region", "team")


def test_a_rep_cannot_move_their_records_out_of_their_managers_view(api: Callable[[str], Any],
                                                                    records: dict[str, str]) -> None:
    rep = api("rep.north.1")
    for path in (f"/contacts/{records['contact']}", f"/accounts/{records['account']}", f"/leads/{records['lead']}"):
        r = rep.patch(path, json={"region": "south"})
        assert r.status_code == DENIED, f"{path}: {r.text}"
    assert api("manager.north").get(f"/contacts/{records['contact']}").json()["region"] == "north"


@pytest.mark.parametrize("path, body", [
    ("/opportunities", lambda r: {"name": "挂别人客户", "account_id": r["account"]}),
    ("/opportunities", lambda r: {"name": "挂别人联系人", "contact_id": r["contact"]}),
    ("/tasks", lambda r: {"title": "挂别人客户", "contact_id": r["contact"]}),
    ("/tasks", lambda r: {"title": "挂别人商机", "related_type": "opportunity", "related_id": r["opportunity"]}),
    ("/contacts", lambda r: new_contact("挂别人公司", account_id=r["account"])),
])
def test_a_rep_cannot_attach_work_to_a_customer_they_cannot_see(api: Callable[[str], Any], records: dict[str, str],
                                                               path: str, body: Callable[[dict[str, str]], Any]) -> None:
    before = api("rep.north.1").get(f"/contacts/{records['contact']}/timeline").json()["items"]
    r = api("rep.north.2").post(path, json=body(records))
    assert r.status_code == HIDDEN, r.text
    assert api("rep.north.1").get(f"/contacts/{records['contact']}/timeline").json()["items"] == before


def test_a_rep_cannot_quote_to_a_contact_they_cannot_see(api: Callable[[str], Any], records: dict[str, str]) -> None:
    other = api("rep.north.2")
    own = other.post("/opportunities", json={"name": "自己的商机"}).json()["id"]
    body = {"opportunity_id": own, "price_book_id": records["book"], "contact_id": records["contact"],
            "lines": [{"product_id": records["product"], "quantity": "1"}]}
    r = other.post("/quotes", json=body)
    assert r.status_code == HIDDEN and r.json()["errors"][0]["field"] == "contact_id", r.text
    del body["contact_id"]
    assert other.post("/quotes", json=body).status_code == 201          # their own deal's quote is fine


def test_a_manager_cannot_lend_another_regions_reps_work(api: Callable[[str], Any], records: dict[str, str]) -> None:
    admin = api("admin")
    r = admin.http.put(admin.base + "/sales/reps", timeout=10,
                       json={"user_id": "rep.north.1", "team": "north-sales", "region": "north", "active": True})
    assert r.status_code == 200, r.text
    lend = {"from_user_id": "rep.north.1", "to_user_id": "rep.south.1", "ends_at": "2099-01-01T00:00:00Z"}
    r = api("manager.south").post("/sales/delegations", json=lend)
    assert r.status_code == DENIED and r.json()["errors"][0]["field"] == "from_user_id", r.text
    assert api("rep.south.1").get(f"/leads/{records['lead']}").status_code == HIDDEN


def test_a_duplicate_names_the_existing_record_only_to_whoever_may_see_it(api: Callable[[str], Any],
                                                                        records: dict[str, str]) -> None:
    existing = api("rep.north.1").get(f"/contacts/{records['contact']}").json()
    again = {"name": "同一个人", "phones": [{"raw": existing["phones"][0]["number"]}]}
    hidden = api("rep.north.2").post("/contacts", json=again)
    assert hidden.status_code == 409 and "existing_id" not in hidden.json() and "Location" not in hidden.headers
    assert records["contact"] not in hidden.text
    shown = api("manager.north").post("/contacts", json=again)
    assert shown.status_code == 409 and shown.json()["existing_id"] == records["contact"]
