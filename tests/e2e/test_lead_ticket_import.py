"""Lead and ticket imports through the gateway, the same contract as the customer import: a job
with progress, a report naming every bad row with every reason, nothing typed lost (a lead's
phone that does not validate is kept, unverified), and the same file again changes nothing."""
from __future__ import annotations

import csv
import io
import json
import random
import uuid

import pytest

from crmkit.testing import wait_for

pytestmark = pytest.mark.e2e


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def _done(client, job_id: str) -> dict:  # noqa: ANN001
    box: list = []

    def finished() -> bool:
        r = client.get(f"/imports/{job_id}")
        assert r.status_code == 200, r.text
        box.append(r.json())
        return r.json()["status"] in ("done", "failed")

    wait_for(finished, 30, what="the import to finish")
    return box[-1]


def _report(client, job_id: str) -> dict[str, list[str]]:  # noqa: ANN001
    r = client.get(f"/imports/{job_id}/report")
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf"), r.text
    return {row[0]: row for row in list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]}


def test_a_lead_file_with_bad_rows(api):
    rep = api("rep.north.1")
    word = "lead" + uuid.uuid4().hex[:8]
    good, odd = f"139{random.randrange(10**8):08d}", f"140{random.randrange(10**8):08d}"
    content = _csv([["姓名", "公司", "手机", "邮箱", "来源"],
                    [f"王芳 {word}", "华为", good, f"{word}@example.cn", "webinar"],
                    ["", "", "", "not-an-email", "cold_call"],                  # three problems
                    [f"李雷 {word}", "", f"{odd[:3]} {odd[3:7]} {odd[7:]}", "", "referral"],
                    [f"王芳二 {word}", "", good, "", ""]])                      # the same mobile as row 1
    mapping = {"columns": {"姓名": "name", "公司": "company", "手机": "phone", "邮箱": "email", "来源": "source"},
               "values": {"source": {"values": {"webinar": "event"}}}}
    params = {"entity": "lead", "file_name": "线索.csv", "source": "e2e-leads", "mapping": json.dumps(mapping)}
    first = rep.post("/imports", data=content, headers={"Content-Type": "text/csv"}, params=params)
    assert first.status_code == 202, first.text
    job = _done(rep, first.json()["id"])
    assert (job["status"], job["rows_total"], job["accepted"], job["rejected"], job["warnings"]) == ("done", 4, 2, 2, 1)
    report = _report(rep, job["id"])
    assert sorted(report) == ["2", "4"]
    assert all(r in report["2"][1] for r in ("a lead needs a name or a company", "not-an-email", "cold_call"))
    assert "duplicate of row 1 of this file" in report["4"][1]

    leads = rep.get("/leads", params={"q": word}).json()["items"]
    by_name = {lead["name"]: lead for lead in leads}
    assert sorted(by_name) == [f"李雷 {word}", f"王芳 {word}"]
    kept = by_name[f"李雷 {word}"]
    assert kept["phone"] == odd and kept["phone_unverified"] is True and kept["phone_raw"].replace(" ", "") == odd
    assert by_name[f"王芳 {word}"]["source"] == "event"

    again = rep.post("/imports", data=content, headers={"Content-Type": "text/csv"}, params=params)
    assert again.status_code == 200 and again.json()["id"] == job["id"], again.text
    assert len(rep.get("/leads", params={"q": word}).json()["items"]) == 2


def test_a_ticket_file_with_bad_rows(api):
    agent = api("agent.support")
    word = "tkt" + uuid.uuid4().hex[:8]
    content = _csv([["编号", "主题", "优先级", "渠道"],
                    [f"{word}-1", f"无法登录 {word}", "高", "email"],
                    [f"{word}-2", "", "critical", "fax"],                     # three problems
                    [f"{word}-1", f"重复 {word}", "", ""]])                      # the same old id as row 1
    mapping = {"columns": {"编号": "external_ref", "主题": "subject", "优先级": "priority", "渠道": "channel"},
               "values": {"priority": {"values": {"高": "high"}}}}
    params = {"entity": "ticket", "file_name": "工单.csv", "mapping": json.dumps(mapping)}
    first = agent.post("/imports", data=content, headers={"Content-Type": "text/csv"}, params=params)
    assert first.status_code == 202, first.text
    assert first.json()["id"].startswith("support-")
    job = _done(agent, first.json()["id"])
    assert (job["status"], job["accepted"], job["rejected"]) == ("done", 1, 2)
    report = _report(agent, job["id"])
    assert all(r in report["2"][1] for r in ("a ticket needs a subject", "'critical'", "'fax'"))
    assert f"duplicate of row 1 of this file ({word}-1)" in report["3"][1]
    again = agent.post("/imports", data=content, headers={"Content-Type": "text/csv"}, params=params)
    assert again.status_code == 200 and again.json()["id"] == job["id"], again.text
    assert api("rep.north.1").get(f"/imports/{job['id']}").status_code == 404  # another user's job

    # the tickets' export imported again (no mapping) matches each ticket by its number: none opened twice
    exported = agent.get("/tickets/export")
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    [mine] = [r for r in rows if r["external_ref"] == f"{word}-1"]
    back = agent.post("/imports", data=exported.content, headers={"Content-Type": "text/csv"},
                      params={"entity": "ticket", "file_name": "tickets-export.csv"})
    assert back.status_code == 202, back.text
    job = _done(agent, back.json()["id"])
    assert (job["status"], job["accepted"], job["rejected"]) == ("done", 0, len(rows)), job
    assert job["columns"]["number"] == "number"
    assert f"duplicate of ticket {mine['id']} ({mine['number']})" in _report(agent, job["id"])[str(rows.index(mine) + 1)][1]


def test_a_user_who_closed_the_tab_finds_their_jobs_of_every_service(api):
    manager = api("manager.north")
    word = "list" + uuid.uuid4().hex[:8]
    files = [("contact", [["name", "email"], [f"张三 {word}", f"{word}@example.cn"]]),
             ("lead", [["name", "company"], [f"李四 {word}", "华为"]]),
             ("ticket", [["subject", "priority"], [f"打印机 {word}", "high"]])]
    ids = []
    for entity, rows in files:
        r = manager.post("/imports", data=_csv(rows), headers={"Content-Type": "text/csv"},
                         params={"entity": entity, "file_name": f"{word}-{entity}.csv"})
        assert r.status_code == 202, r.text
        ids.append(_done(manager, r.json()["id"])["id"])
    first = manager.get("/imports", params={"page_size": 2})
    assert first.status_code == 200, first.text
    second = manager.get("/imports", params={"page_size": 2, "page_token": first.json()["next_page_token"]})
    listed = [*first.json()["items"], *second.json()["items"]][:3]
    assert [job["id"] for job in listed] == ids[::-1]  # newest first over contacts, sales and support
    assert [(job["entity"], job["status"], job["accepted"]) for job in listed] == [
        ("ticket", "done", 1), ("lead", "done", 1), ("contact", "done", 1)]
    leads = manager.get("/imports", params={"entity": "lead"}).json()["items"]
    assert leads[0]["id"] == ids[1] and {job["entity"] for job in leads} == {"lead"}
    assert not {job["id"] for job in api("rep.north.1").get("/imports").json()["items"]} & set(ids)
    bad = manager.get("/imports", params={"page_token": "bm90LWpzb24"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "page_token"
