"""Customer search through the gateway, as the CRM's users would use it: a rep finds their own
new customer within moments, another rep never does, their region's manager does."""
from __future__ import annotations

import uuid

import pytest

from crmkit.testing import wait_for
from tests.e2e.conftest import new_contact

pytestmark = pytest.mark.e2e


def found(client, q: str, **params) -> list[dict]:  # noqa: ANN001
    r = client.get("/search/customers", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_new_customer_is_found_by_its_rep_and_manager_and_not_by_another_rep(api):
    rep_a, rep_b, manager = api("rep.north.1"), api("rep.north.2"), api("manager.north")
    word = "zq" + uuid.uuid4().hex[:8]
    body = new_contact(f"张伟 {word}", company_name="华为技术有限公司", title="采购总监")
    created = rep_a.post("/contacts", json=body)
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]

    wait_for(lambda: any(h["id"] == contact_id for h in found(rep_a, word)), 30, what="rep A to find it")
    hit = next(h for h in found(rep_a, "华为", kind="contact", limit=100) if h["id"] == contact_id)
    assert hit["company"] == "华为技术有限公司" and hit["kind"] == "contact"
    assert any("<em>华为</em>" in f for h in hit["highlights"] for f in h["fragments"])
    phone_digits = "".join(ch for ch in body["phones"][0]["raw"] if ch.isdigit())[2:]
    assert [h["id"] for h in found(rep_a, phone_digits)] == [contact_id]

    assert found(rep_b, word) == []
    assert found(rep_b, phone_digits) == []
    assert [h["id"] for h in found(manager, word)] == [contact_id]
    assert found(api("manager.south"), word) == []


def test_a_search_without_q_is_a_400_naming_q(api):
    r = api("rep.north.1").get("/search/customers")
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["q"]
