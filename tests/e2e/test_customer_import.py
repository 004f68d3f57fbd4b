"""A customer import through the gateway, as a sales team moving a spreadsheet in would: progress
while it runs, a report naming every bad row with every reason, nothing typed lost (a phone
that does not validate is kept and still found by its digits), and the same file again changes
nothing."""
from __future__ import annotations

import csv
import io
import json
import random
import uuid

import pytest

from crmkit.testing import wait_for

pytestmark = pytest.mark.e2e

MAPPING = {"columns": {"客户名称": "name", "手机": "mobile", "邮箱": "email", "来源": "source", "备注": "ignore"},
           "values": {"source": {"values": {"webinar": "event"}}}}


def _file(word: str) -> tuple[bytes, dict[str, str]]:
    good = f"139{random.randrange(10**8):08d}"
    odd = f"140{random.randrange(10**8):08d}"  # a prefix no Chinese mobile has: kept, unverified
    rows = [["客户名称", "手机", "邮箱", "来源", "备注"],
            [f"王芳 {word}", good, f"{word}@example.cn", "website", "老客户"],
            ["", f"137{random.randrange(10**8):08d}", "not-an-email", "cold_call", ""],  # three problems
            [f"李雷 {word}", f"{odd[:3]} {odd[3:7]} {odd[7:]}", "", "webinar", ""],
            [f"王芳二 {word}", good, "", "", "重复"]]  # the same mobile as row 1
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8"), {"good": good, "odd": odd}


def _upload(client, content: bytes):  # noqa: ANN001, ANN202
    return client.post("/imports", data=content, headers={"Content-Type": "text/csv"}, params={
        "entity": "contact", "file_name": "客户.csv", "source": "e2e-old-crm", "mapping": json.dumps(MAPPING)})


def _until(fn, what: str):  # noqa: ANN001, ANN202
    """fn's first truthy answer within 30 s (crmkit's wait_for answers nothing)."""
    box: list = []
    wait_for(lambda: bool(box.append(fn()) or box[-1]), 30, what=what)
    return box[-1]


def _search(client, q: str) -> list[dict]:  # noqa: ANN001
    r = client.get("/search/customers", params={"q": q})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_file_with_bad_rows_imports_with_progress_and_a_full_report(api):
    rep = api("rep.north.1")
    word = "imp" + uuid.uuid4().hex[:8]
    content, phones = _file(word)
    first = _upload(rep, content)
    assert first.status_code == 202, first.text
    job_id = first.json()["id"]
    assert first.headers["Location"].endswith(f"/imports/{job_id}")

    def finished() -> dict | None:
        r = rep.get(f"/imports/{job_id}")
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] == "done" else None

    job = _until(finished, "the import to finish")
    assert (job["rows_total"], job["rows_done"]) == (4, 4)
    assert (job["accepted"], job["rejected"], job["warnings"]) == (2, 2, 1)
    assert {(p["row"], p["field"]) for p in job["problems"]} >= {(2, "name"), (2, "source"), (4, "phones")}

    report = rep.get(f"/imports/{job_id}/report")
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/csv")
    assert report.content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese text as UTF-8
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["row", "reasons", "客户名称"]
    by_row = {r[0]: r for r in lines[1:]}
    assert sorted(by_row) == ["2", "3", "4"]  # row 3 is kept: its odd mobile stored as typed, unverified
    assert by_row["2"][-1] == by_row["4"][-1] == "rejected" and by_row["3"][-1] == "kept"
    assert "unverified" in by_row["3"][1]
    assert all(reason in by_row["2"][1] for reason in ("name is required", "not-an-email", "cold_call"))
    assert "duplicate of row 1" in by_row["4"][1] and by_row["4"][2] == f"王芳二 {word}"

    # nothing typed lost: the odd mobile is stored as typed, unverified, and found by its digits
    hits = _until(lambda: _search(rep, phones["odd"]), "the unverified phone to be found")
    contact = rep.get(f"/contacts/{hits[0]['id']}").json()
    assert contact["name"] == f"李雷 {word}" and contact["source"] == "event"
    assert contact["phones"][0]["unverified"] is True and contact["phones"][0]["raw"].replace(" ", "") == phones["odd"]

    again = _upload(rep, content)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == job_id and again.json()["reused"] is True
    assert len(_until(lambda: _search(rep, word), "search")) == 2  # the two imported, once each


def test_another_crms_export_with_chinese_headers_and_labels_imports_without_a_mapping(api):
    rep = api("rep.north.1")
    word = "hdr" + uuid.uuid4().hex[:8]
    out = io.StringIO()
    csv.writer(out).writerows([["客户名称", "手机号", "邮箱", "来源", "客户等级", "行业", "生日"],
                               [f"赵敏 {word}", f"139{random.randrange(10**8):08d}", f"{word}@example.cn", "官网", "VIP",
                                "制造业", "1990-01-01"]])
    r = rep.post("/imports", data=out.getvalue().encode(), headers={"Content-Type": "text/csv"},
                 params={"entity": "contact", "file_name": "old-crm.csv"})
    assert r.status_code == 202, r.text
    job = _until(lambda: (lambda j: j if j["status"] == "done" else None)(rep.get(f"/imports/{r.json()['id']}").json()),
                 "the import")
    assert (job["accepted"], job["rejected"], job["unmapped_columns"]) == (1, 0, ["生日"])  # said, before and after
    assert job["columns"]["手机号"] == "mobile" and job["columns"]["生日"] == ""
    [hit] = _until(lambda: _search(rep, word), "the imported customer")
    contact = rep.get(f"/contacts/{hit['id']}").json()
    assert (contact["source"], contact["level"], contact["industry"]) == ("website", "vip", "manufacturing")


def test_a_file_that_is_not_a_workbook_is_refused_naming_the_file_and_its_job_ends_failed(api):
    # each service that imports (contacts, sales, support) refuses it the same way
    for user, entity in (("rep.north.1", "contact"), ("rep.north.1", "lead"), ("agent.support", "ticket")):
        client = api(user)
        name = f"not-a-workbook-{uuid.uuid4().hex[:8]}.xlsx"
        r = client.post("/imports", data=b"\x00\x01 not a zip " + name.encode(), headers={"Content-Type": "application/"
                        "vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
                        params={"entity": entity, "file_name": name})
        assert r.status_code == 400, r.text
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["file"]
        # "My imports" shows the attempt as failed, with the reason, not as uploading forever
        [job] = [j for j in client.get("/imports", params={"entity": entity}).json()["items"] if j["file_name"] == name]
        assert job["status"] == "failed" and "not an xlsx workbook" in job["error"], job


def test_an_export_of_the_imported_contacts_round_trips(api):
    rep = api("rep.north.1")
    word = "exp" + uuid.uuid4().hex[:8]
    content, phones = _file(word)
    job_id = _upload(rep, content).json()["id"]
    _until(lambda: rep.get(f"/imports/{job_id}").json()["status"] == "done", "the import")
    exported = rep.get("/contacts/export", params={"q": word})
    assert exported.status_code == 200, exported.text
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert sorted(r["name"] for r in rows) == [f"李雷 {word}", f"王芳 {word}"]
    odd = next(r for r in rows if r["name"] == f"李雷 {word}")
    assert odd["phone"].replace(" ", "") == phones["odd"] and odd["source"] == "event"  # as typed, unverified

    # the exported file imports back with no mapping: every row is found to be a duplicate
    back = rep.post("/imports", data=exported.content, headers={"Content-Type": "text/csv"},
                    params={"entity": "contact", "file_name": "export.csv", "dry_run": "true"})
    assert back.status_code == 202, back.text
    job = _until(lambda: (lambda j: j if j["status"] == "done" else None)(rep.get(f"/imports/{back.json()['id']}").json()),
                 "the dry run")
    assert (job["rows_total"], job["rejected"]) == (2, 2)
    assert all("duplicate of contact" in p["message"] for p in job["problems"] if p["field"] in ("phones", "emails"))

    xlsx = rep.get("/contacts/export", params={"q": word, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    names = sorted(str(r[0]) for r in list(sheet.iter_rows(values_only=True))[1:])
    assert names == [f"李雷 {word}", f"王芳 {word}"]
    assert api("rep.south.1").get("/contacts/export", params={"q": word}).text.count(word) == 0  # visibility


def test_the_cli_uploads_follows_with_a_progress_bar_and_saves_the_report(suite, tmp_path, capsys):
    from crm_devtools import imports as cli
    from crm_devtools.users import DEMO_USERS
    from crmkit.auth import mint_token
    from tests.e2e.conftest import SECRET

    word = "cli" + uuid.uuid4().hex[:8]
    content, _ = _file(word)
    source = tmp_path / "客户.csv"
    source.write_bytes(content)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    token = mint_token(DEMO_USERS["rep.north.1"], SECRET)
    code = cli.main(["--gateway", suite.gateway_url, "--token", token, "upload", str(source),
                     "--mapping", str(mapping), "--source", "cli-test"])
    err = capsys.readouterr().err
    assert code == 0, err
    last = [line for line in err.splitlines() if "[" + "#" * 30 + "]" in line][-1].split("\r")[-1]
    assert "done" in last and "rejected 2" in last
    assert "columns: " in err and "客户名称 → name" in err and "手机 → mobile" in err  # the mapping as applied
    report = source.with_suffix(".report.csv").read_bytes().decode("utf-8-sig")
    assert [r[0] for r in csv.reader(io.StringIO(report))] == ["row", "2", "3", "4"]
    code = cli.main(["--gateway", suite.gateway_url, "--token", token, "list", "--entity", "contact", "--limit", "5"])
    listed = capsys.readouterr().out.splitlines()
    assert code == 0 and "客户.csv" in listed[0] and "done" in listed[0]  # the newest first
