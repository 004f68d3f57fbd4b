"""Exports through the gateway (issue 13): a rep's export of leads and opportunities holds what
their list holds (their own records, not a teammate's), with the list's filters; an exported
opportunity list round-trips its values (Chinese names, amounts and currencies, dates); leads
exported with the import's columns import back; a standard report's file holds its JSON's rows;
a job export reports its progress and hands its file to the user who asked, and nobody else."""
from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.e2e.conftest import poll

pytestmark = pytest.mark.e2e


def ok(resp: requests.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}"
    return resp.json() if "json" in resp.headers.get("Content-Type", "") else resp


def csv_rows(resp: requests.Response) -> list[dict[str, str]]:
    assert resp.status_code == 200, resp.text
    assert resp.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))


def listed(who: Any, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    items, token = [], ""
    while True:
        page = ok(who.get(path, params={**params, "page_size": "200", **({"page_token": token} if token else {})}))
        items += page["items"]
        token = page.get("next_page_token", "")
        if not token:
            return items


def test_a_reps_opportunity_export_is_their_list_and_round_trips(api: Callable[[str], Any]) -> None:
    rep1, rep2 = api("rep.north.1"), api("rep.north.2")
    run = uuid.uuid4().hex[:6]
    day = f"2031-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"  # isolates this test's deals

    def deal(who: Any, n: int) -> dict[str, Any]:
        return ok(who.post("/opportunities", json={
            "name": f"导出商机 {run}-{n}", "expected_close_date": day, "description": "含\"引号\", 逗号\n和换行",
            "amount": {"currency_code": "CNY" if n % 2 else "USD", "amount": f"{n}234.56"}}), 201)

    mine = [deal(rep1, n) for n in range(1, 4)]
    theirs = deal(rep2, 9)
    filters = {"close_from": day, "close_to": day}
    rows = csv_rows(rep1.get("/opportunities/export", params=filters))
    expected = listed(rep1, "/opportunities", filters)
    assert [r["id"] for r in rows] == [o["id"] for o in expected]  # the list's rows, in its order
    assert {o["id"] for o in mine} <= {r["id"] for r in rows} and theirs["id"] not in {r["id"] for r in rows}
    assert {r["owner_id"] for r in rows} == {"rep.north.1"}
    by_id = {r["id"]: r for r in rows}
    for o in expected:
        row = by_id[o["id"]]
        assert (row["name"], row["amount"], row["amount_currency"], row["expected_close_date"],
                row["description"], row["stage"]) == (o["name"], o["amount"]["amount"], o["amount"]["currency_code"],
                                                      o["expected_close_date"], o.get("description", ""), o["stage"])
        assert row["created_at"] == o["created_at"]  # ISO 8601, as the JSON has it
    # the same filters through a filter the list refuses: named
    bad = rep1.get("/opportunities/export", params={"closes": day})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "closes"

    from openpyxl import load_workbook

    book = ok(rep1.get("/opportunities/export", params={**filters, "format": "xlsx"}))
    sheet = list(load_workbook(io.BytesIO(book.content), read_only=True).active.iter_rows(values_only=True))
    header = list(sheet[0])
    cells = [dict(zip(header, r, strict=False)) for r in sheet[1:]]
    assert [c["id"] for c in cells] == [r["id"] for r in rows]
    assert {c["name"] for c in cells} == {r["name"] for r in rows}
    assert sorted(float(c["amount"]) for c in cells) == sorted(float(r["amount"]) for r in rows)


def test_leads_export_with_their_filters_and_import_back(api: Callable[[str], Any]) -> None:
    rep1, rep2 = api("rep.north.1"), api("rep.north.2")
    word = f"导出线索{uuid.uuid4().hex[:6]}"
    made = [ok(who.post("/leads", json={"name": f"{word} 联系人{n}", "company": f"{word} 公司{n}", "source": "website",
                                        "budget": f"{n}00.50", "currency_code": "CNY"}), 201)
            for who, n in ((rep1, 1), (rep1, 2), (rep2, 3))]
    rows = csv_rows(rep1.get("/leads/export", params={"q": word}))
    expected = listed(rep1, "/leads", {"q": word})
    assert sorted(r["id"] for r in rows) == sorted(lead["id"] for lead in expected)
    assert all(r["owner_id"] == lead["owner_id"] for r, lead in zip(
        sorted(rows, key=lambda r: r["id"]), sorted(expected, key=lambda e: e["id"]), strict=True))
    assert {r["owner_id"] for r in rows} == {"rep.north.1"}  # a rep's own leads only
    assert {m["id"] for m in made if m["owner_id"] == "rep.north.1"} == {r["id"] for r in rows}

    # the import's columns only: the file imports back as it is
    file = rep1.get("/leads/export", params={"q": word, "columns": "import"})
    again = ok(rep1.post("/leads/import", json={"csv": file.content.decode("utf-8")}))
    assert again.get("failed", 0) == 0 and again["created"] == len(rows), again
    after = listed(rep1, "/leads", {"q": word})
    assert sorted((e["company"], e.get("budget")) for e in after) == sorted(
        [(e["company"], e.get("budget")) for e in expected] * 2)


def test_a_standard_report_export_holds_its_json_rows(api: Callable[[str], Any]) -> None:
    manager = api("manager.north")

    def both() -> tuple[Any, list[list[str]]]:
        doc = ok(manager.get("/reports/standard/lead_sources"))
        resp = ok(manager.get("/reports/standard/lead_sources/export"))
        return doc, list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))

    doc, rows = poll(both, lambda got: len(got[1]) - 1 >= len(got[0]["rows"]), "the report and its file")
    assert rows[0] == [c["name"] for c in doc["columns"]]

    def cell(v: Any) -> str:
        return "" if v is None else str(int(v)) if float(v).is_integer() else str(v)

    # the JSON and the file were read one after the other: compare once they agree on the rows
    doc, rows = poll(both, lambda got: [r[:len(got[0]["columns"])] for r in got[1][1:len(got[0]["rows"]) + 1]] == [
        [*r["keys"], *(cell(v) for v in r["values"])] for r in got[0]["rows"]], "the file matching its JSON")
    assert len(rows) - 1 in (len(doc["rows"]), len(doc["rows"]) + 1)  # + the totals row
    book = ok(manager.get("/reports/standard/lead_sources/export", params={"format": "xlsx"}))
    assert book.headers["Content-Type"].endswith("spreadsheetml.sheet")


def test_a_job_export_reports_progress_and_only_its_owner_downloads_it(api: Callable[[str], Any]) -> None:
    rep1, rep2 = api("rep.north.1"), api("rep.north.2")
    day = f"2032-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"
    for n in range(5):
        ok(rep1.post("/opportunities", json={"name": f"任务导出 {n}", "expected_close_date": day,
                                             "amount": {"currency_code": "CNY", "amount": f"{n}.10"}}), 201)
    job = ok(rep1.post("/exports", json={"list": "opportunities", "format": "csv",
                                         "filters": {"close_from": day, "close_to": day}}), 202)
    assert job["status"] in ("running", "done")
    job = poll(lambda: ok(rep1.get(f"/exports/{job['id']}")), lambda j: j["status"] != "running", "the job's end")
    assert job["status"] == "done" and job["rows_written"] >= 5 and job["expires_at"]
    assert rep2.get(f"/exports/{job['id']}").status_code == 404
    url = job["download_url"].removeprefix("/api/v1")
    assert rep2.get(url).status_code == 404
    rows = csv_rows(rep1.get(url))
    direct = csv_rows(rep1.get("/opportunities/export", params={"close_from": day, "close_to": day}))
    assert rows == direct and len(rows) == job["rows_written"]
    refused = rep1.post("/exports", json={"list": "opportunities", "filters": {"closes": day}})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "filters.closes"
