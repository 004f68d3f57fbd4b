"""The audit log through the gateway, as an auditor uses it: a rep's change and read of a contact
and a lead are listed, merged across services newest first, with the request id and the client
address; filters and pages work; the export streams JSON lines and CSV; a rep is refused."""
from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Api, new_contact


def wait_for_entries(auditor: Api, params: dict[str, Any], count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Read entries are appended off the request path: poll, with a bound."""
    deadline = time.monotonic() + timeout
    while True:
        answer = auditor.get("/audit", params=params)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def test_an_auditor_lists_and_exports_what_a_rep_changed_and_read(api: Callable[[str], Api], tag: str) -> None:
    rep, auditor = api("rep.north.1"), api("auditor.hq")
    request_id = f"audit-e2e-{tag}"
    made = rep.post("/contacts", json=new_contact(f"审计 {tag}", tags=[tag]), headers={"X-Request-Id": request_id})
    assert made.status_code == 201, made.text
    contact = made.json()
    assert rep.get(f"/contacts/{contact['id']}").status_code == 200
    lead = rep.post("/leads", json={"name": f"线索 {tag}", "company": "审计公司", "source": "website"})
    assert lead.status_code in (200, 201), lead.text

    about = wait_for_entries(auditor, {"record_id": contact["id"]}, 2)
    assert [e["action"] for e in about][:2] == ["read", "created"], about
    created = about[1]
    assert created["actor"] == "rep.north.1" and created["service"] == "contacts"
    assert "name" in created["fields"] and created["client_addr"] == "127.0.0.1" and created["event_id"]
    assert created["request_id"] == request_id
    assert f"审计 {tag}" not in json.dumps(about, ensure_ascii=False), "no personal data values in the log"

    both = wait_for_entries(auditor, {"actor": "rep.north.1", "since": created["at"]}, 3)
    assert {"contacts", "sales"} <= {e["service"] for e in both}, "one list over every service"
    page = auditor.get("/audit", params={"actor": "rep.north.1", "page_size": 3}).json()
    assert len(page["items"]) == 3 and page["next_page_token"]
    times = [e["at"] for e in page["items"]]
    assert times == sorted(times, reverse=True), "merged newest first"
    following = auditor.get("/audit", params={"actor": "rep.north.1", "page_size": 3,
                                              "page_token": page["next_page_token"]}).json()
    first_keys = {(e["service"], e["seq"]) for e in page["items"]}
    assert not first_keys & {(e["service"], e["seq"]) for e in following["items"]}, "no entry on two pages"

    lines = auditor.get("/audit/export", params={"record_id": contact["id"]})
    assert lines.status_code == 200 and lines.headers["Content-Type"].startswith("application/x-ndjson")
    assert [json.loads(line)["record_id"] for line in lines.text.splitlines()] == [contact["id"]] * len(about)
    table = auditor.get("/audit/export", params={"record_id": contact["id"], "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {r["action"] for r in rows} >= {"created", "read"} and rows[0]["record_id"] == contact["id"]

    bad = auditor.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "since"
    assert auditor.get("/audit", params={"page_token": "bm90LWpzb24"}).status_code == 400


def test_a_rep_may_not_read_the_audit_log(api: Callable[[str], Api]) -> None:
    rep = api("rep.north.1")
    for path in ("/audit", "/audit/export", "/sales/transfers"):
        answer = rep.get(path)
        assert answer.status_code in (403, 404), (path, answer.status_code, answer.text)


def test_transfers_are_listed_for_an_auditor(api: Callable[[str], Api], tag: str) -> None:
    manager, auditor = api("manager.north"), api("auditor.hq")
    leaver = f"rep.left.{tag}"  # owns nothing: the transfer changes no other test's records
    moved = manager.post("/sales/transfers", json={"from_user_id": leaver, "to_user_id": "rep.north.1",
                                                    "reason": "调岗"})
    assert moved.status_code in (200, 201), moved.text
    listed = auditor.get("/sales/transfers", params={"from_user_id": leaver})
    assert listed.status_code == 200, listed.text
    transfer = next(e for e in listed.json()["items"] if e["action"] == "transfer")
    assert transfer["actor"] == "manager.north" and "rep.north.1" in transfer["details"]
