"""Issue 13: no key a service fills in itself makes its create fail once an administrator retires
it. With `website` / `other` (source) and `lead` / `customer` (lifecycle stage) retired, a public
form submission with the consent box ticked still becomes a lead and a consent contact, and an
email from a stranger still becomes a ticket with a contact: contacts stores the first active
stage and no source, and keeps each value as sent as a tag. A user's own create with a retired
key is still a 400 naming the field. The picklists are restored at the end."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from .conftest import new_contact, poll

pytestmark = pytest.mark.e2e

RETIRED = {"source": ("website", "other"), "lifecycle_stage": ("lead", "customer")}


def _set_retired(admin: Any, name: str, keys: tuple[str, ...], retired: bool) -> None:
    got = admin.get(f"/admin/picklists/{name}")
    assert got.status_code == 200, got.text
    body = got.json()
    for value in body["values"]:
        if value["key"] in keys:
            value["retired"] = retired
    etag = got.headers.get("ETag", "")  # none before the first change
    r = admin.http.put(f"{admin.base}/admin/picklists/{name}", json=body, timeout=10,
                       headers={"If-Match": etag} if etag else {})
    assert r.status_code == 200, r.text


@pytest.fixture
def retired(api: Any) -> Iterator[Any]:
    admin = api("admin")
    try:
        for name, keys in RETIRED.items():
            _set_retired(admin, name, keys, True)
        yield admin
    finally:  # the built-in values active again for the rest of the session
        for name, keys in RETIRED.items():
            _set_retired(admin, name, keys, False)


def test_a_form_submission_and_a_stranger_s_email_survive_retired_keys(api: Any, retired: Any) -> None:
    run = uuid.uuid4().hex[:6]
    admin, mkt, rep = retired, api("marketing.hq"), api("rep.north.1")
    assert admin.patch("/automation-settings", json={"form_min_seconds": 0}).status_code == 200

    refused = rep.post("/contacts", json=new_contact(f"手填 {run}"))  # source website, as a user typed it
    assert refused.status_code == 400, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["source"]

    form = mkt.post("/forms", json={
        "name": f"停用来源 {run}", "title": {"zh": "报名", "en": "Sign up"},
        "fields": [{"name": "name", "label": {"zh": "姓名", "en": "Name"}, "required": True},
                   {"name": "email", "label": {"zh": "邮箱", "en": "Email"}, "required": True}],
        "consent": {"enabled": True, "text": {"zh": "我同意接收活动资讯", "en": "I agree to receive news"}}})
    assert form.status_code == 201, form.text
    form_id = form.json()["id"]
    public = requests.Session()
    shown = public.get(f"{mkt.base}/public/forms/{form_id}/definition", timeout=10).json()
    email = f"visitor.{run}@e2e.example"
    sent = public.post(f"{mkt.base}/public/forms/{form_id}/submissions", timeout=10, json={
        "form_token": shown["form_token"], "consent": True, "values": {"name": f"访客 {run}", "email": email}})
    assert sent.status_code == 202, sent.text

    [sub] = poll(lambda: mkt.get(f"/forms/{form_id}/submissions").json()["items"],
                 lambda items: len(items) == 1 and items[0]["status"] != "pending", "the submission handed over")
    assert sub["status"] == "delivered" and sub["lead_id"] and sub["contact_id"], sub
    lead = admin.get(f"/leads/{sub['lead_id']}")
    assert lead.status_code == 200 and lead.json()["email"] == email, lead.text
    contact = admin.get(f"/contacts/{sub['contact_id']}").json()
    assert [e["address"] for e in contact["emails"]] == [email]
    assert (contact.get("source", ""), contact["lifecycle_stage"]) == ("", "prospect"), contact
    assert {"source:website", "lifecycle_stage:lead"} <= set(contact["tags"]), contact
    consents = {c["purpose"]: c["granted"] for c in contact.get("consents", [])}
    assert True in consents.values(), contact  # the visitor's consent, recorded on that contact

    stranger = f"stranger.{run}@e2e.example"
    raw = (f"From: 陌生人 <{stranger}>\r\nSubject: 无法登录 {run}\r\nMessage-ID: <{run}@e2e.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n登录时提示密码错误\r\n")
    mail = admin.post("/inbound/email", data=raw.encode(), headers={"Content-Type": "message/rfc822"})
    assert mail.status_code == 201, mail.text  # a new ticket
    contact_id = mail.json()["ticket"].get("contact_id", "")
    assert contact_id, mail.text
    sender = admin.get(f"/contacts/{contact_id}").json()
    assert (sender.get("source", ""), sender["lifecycle_stage"]) == ("", "prospect"), sender
    assert {"source:other", "lifecycle_stage:customer"} <= set(sender["tags"]), sender
