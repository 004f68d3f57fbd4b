"""The contacts API as a sales rep and a manager use it."""
from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e


def test_rep_cannot_read_list_or_search_another_reps_contact(api):
    owner, other, manager = api("rep.north.1"), api("rep.north.2"), api("manager.north")
    name = f"私有客户 {uuid.uuid4().hex[:6]}"
    created = owner.post("/contacts", json=new_contact(name)).json()
    assert other.get(f"/contacts/{created['id']}").status_code == 404
    assert all(c["id"] != created["id"] for c in other.get("/contacts", params={"q": name}).json()["items"])
    assert other.patch(f"/contacts/{created['id']}", json={"title": "hijack"}).status_code == 404
    assert owner.get(f"/contacts/{created['id']}").json()["title"] == ""
    # the region's manager does see it
    assert manager.get(f"/contacts/{created['id']}").status_code == 200
    assert api("rep.south.1").get(f"/contacts/{created['id']}").status_code == 404


def test_duplicate_is_409_naming_the_existing_record_unless_allowed(api):
    rep = api("rep.north.1")
    body = new_contact("重复客户")
    first = rep.post("/contacts", json=body).json()
    again = dict(body, phones=[{"raw": body["phones"][0]["raw"].replace(" ", "-")}])
    dup = rep.post("/contacts", json=again)
    assert dup.status_code == 409
    assert dup.json()["existing_id"] == first["id"]
    forced = rep.post("/contacts", params={"allow_duplicate": "true"}, json=again)
    assert forced.status_code == 201 and forced.json()["id"] != first["id"]


def test_idempotency_key_makes_a_retried_create_return_the_first_answer(api):
    rep = api("rep.north.1")
    key = uuid.uuid4().hex
    body = new_contact(f"幂等 {key[:6]}")
    first = rep.post("/contacts", json=body, headers={"Idempotency-Key": key})
    second = rep.post("/contacts", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and second.status_code in (200, 201)
    assert first.json()["id"] == second.json()["id"]
    assert len(rep.get("/contacts", params={"q": body["name"]}).json()["items"]) == 1


def test_stale_if_match_is_409_and_changes_nothing(api):
    rep = api("rep.north.1")
    created = rep.post("/contacts", json=new_contact("版本客户"))
    etag = created.headers["ETag"]
    cid = created.json()["id"]
    ok = rep.patch(f"/contacts/{cid}", json={"title": "经理"}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.headers["ETag"] != etag
    stale = rep.patch(f"/contacts/{cid}", json={"title": "总监"}, headers={"If-Match": etag})
    assert stale.status_code == 409
    assert rep.get(f"/contacts/{cid}").json()["title"] == "经理"


def test_interactions_show_on_the_timeline_newest_first(api):
    rep = api("rep.north.1")
    cid = rep.post("/contacts", json=new_contact("时间线客户")).json()["id"]
    for kind, content in (("call", "首次电话沟通"), ("meeting", "Demo at customer site"), ("note", "价格敏感")):
        r = rep.post(f"/contacts/{cid}/interactions", json={"kind": kind, "content": content})
        assert r.status_code == 201, r.text
    items = rep.get(f"/contacts/{cid}/timeline").json()["items"]
    assert [i["kind"] for i in items] == ["note", "meeting", "call"]


def test_merge_moves_everything_to_the_survivor(api):
    rep = api("rep.north.1")
    a = rep.post("/contacts", json=new_contact("合并甲", tags=["a"])).json()
    b = rep.post("/contacts", json=new_contact("合并乙", tags=["b"])).json()
    rep.post(f"/contacts/{b['id']}/interactions", json={"kind": "call", "content": "来电"})
    r = rep.post(f"/contacts/{a['id']}/merge", json={"merged_ids": [b["id"]]})
    assert r.status_code == 200, r.text
    survivor = rep.get(f"/contacts/{a['id']}").json()
    assert {p["number"] for p in survivor["phones"]} >= {b["phones"][0]["number"]}
    assert set(survivor["tags"]) >= {"a", "b"}
    assert rep.get(f"/contacts/{b['id']}").status_code == 404
    kinds = [i["kind"] for i in rep.get(f"/contacts/{a['id']}/timeline").json()["items"]]
    assert "call" in kinds and "merged" in kinds


def test_list_pages_through_every_match_once(api, tag):
    rep = api("rep.south.2")
    made = {rep.post("/contacts", json=new_contact(f"分页 {i}", tags=[tag])).json()["id"] for i in range(7)}
    seen, token = [], ""
    while True:
        params = {"tag": tag, "page_size": 3}
        if token:
            params["page_token"] = token
        page = rep.get("/contacts", params=params).json()
        seen += [c["id"] for c in page["items"]]
        token = page.get("next_page_token", "")
        if not token:
            break
    assert sorted(seen) == sorted(made)


def test_openapi_document_and_operational_endpoints(suite):
    import requests

    doc = requests.get(f"{suite.gateway_url}/api/v1/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.") and "/api/v1/contacts" in doc["paths"]
    assert requests.get(f"{suite.gateway_url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{suite.gateway_url}/readyz", timeout=5).status_code == 200
    assert "crm_http_requests_total" in requests.get(f"{suite.gateway_url}/metrics", timeout=5).text
