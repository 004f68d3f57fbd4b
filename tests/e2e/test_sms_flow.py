"""SMS end to end, the whole suite as processes texting into the suite's SMS sink (devrun starts
`crmkit.sms_sink`, which speaks the provider's SendSms API, checks its signature, and pushes its
delivery receipts and the replies played on it to the gateway's callbacks): an sms wave reaches
only the phones of contacts with marketing_sms consent, with their variables, and its receipts
count as delivered; a reply "T" withdraws the consent in contacts and the next wave skips that
person; a callback without its token is refused; a support ticket whose customer chose SMS texts
them the agent's reply."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import sqlalchemy

from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e


def texts_to(suite: Any, phone: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{suite.sms_url}messages", params={"phone": phone}, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def sms_wave(mkt: Any, campaign_id: str, tag: str, settled: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """An sms wave of the tag, created again until marketing's projection has what the test set up
    (the CONTACTS stream is eventually consistent); a wave that is not started sends nothing."""
    def create() -> requests.Response:
        return mkt.post("/sms-waves", json={
            "campaign_id": campaign_id, "audience": {"tags": [tag]},
            "sms": {"template_code": "SMS_230001", "sign_name": "数牛CRM",
                    "params": {"name": "{{ name }}", "date": "12月12日"}}})
    created = poll(create, lambda r: r.status_code == 201 and settled(r.json()["sms_counts"]),
                   "marketing's projection has the contacts and their consent")
    wave = created.json()
    assert wave["channel"] == "sms" and created.headers["Location"].endswith(f"/send-waves/{wave['id']}")
    started = mkt.post(f"/send-waves/{wave['id']}/start", headers={"If-Match": created.headers["ETag"]})
    assert started.status_code == 200, started.text
    done = poll(lambda: mkt.get(f"/send-waves/{wave['id']}"), lambda r: r.json().get("status") == "completed",
                f"sms wave {wave['id']} completed")
    return dict(done.json())


def test_sms_wave_to_consenting_phones_then_an_opt_out_reply_and_the_next_wave(api: Callable[[str], Any],
                                                                               suite: Any, tag: str) -> None:
    mkt = api("marketing.hq")
    people = {}
    for key in ("yes", "mail_only", "also_yes"):
        created = mkt.post("/contacts", json=new_contact(f"{key}客户{tag[-4:]}", tags=[tag]))
        assert created.status_code == 201, created.text
        people[key] = created.json()
    phone = {k: p["phones"][0]["number"] for k, p in people.items()}
    for key, purpose in (("yes", "marketing_sms"), ("also_yes", "marketing_sms"), ("mail_only", "marketing_email")):
        granted = mkt.post(f"/contacts/{people[key]['id']}/consents", json={
            "purpose": purpose, "granted": True, "source": "web_form:e2e", "evidence": "ticked the SMS box"})
        assert granted.status_code == 200, granted.text
    campaign = mkt.post("/campaigns", json={"name": f"双十二 {tag}", "type": "social"})
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]

    # -- the first wave: the two with marketing_sms consent, not the one who only agreed to mail
    first = sms_wave(mkt, campaign_id, tag, lambda c: c.get("pending") == 2 and c.get("skipped") == {"no_consent": 1})
    (text,) = poll(lambda: texts_to(suite, phone["yes"]), lambda m: len(m) == 1, "the SMS at the sink")
    assert (text["template_code"], text["sign_name"]) == ("SMS_230001", "数牛CRM")
    assert text["params"] == {"name": people["yes"]["name"], "date": "12月12日"}
    assert len(texts_to(suite, phone["also_yes"])) == 1 and texts_to(suite, phone["mail_only"]) == []
    assert first["sms_counts"]["sent"] == 2
    delivered = poll(lambda: mkt.get(f"/campaigns/{campaign_id}/results"),
                     lambda r: r.json().get("sms", {}).get("delivered") == 2, "the sink's delivery receipts counted")
    assert delivered.json()["sms"]["sent"] == 2

    # -- a callback without its token is refused
    forged = requests.post(f"{suite.gateway_url}/api/v1/public/sms/replies", params={"token": "guessed-wrong"},
                           json=[{"phone_number": phone["also_yes"][3:], "content": "T"}], timeout=10)
    assert forged.status_code == 403, forged.text

    # -- "yes" replies T (回T退订): played on the sink, pushed to the gateway's callback
    played = requests.post(f"{suite.sms_url}replies", json={"phone": phone["yes"], "content": "T"}, timeout=20)
    assert played.status_code == 200 and played.json()["callback_status"] == 200, played.text
    withdrawn = poll(lambda: mkt.get(f"/contacts/{people['yes']['id']}"),
                     lambda r: any(c["purpose"] == "marketing_sms" and not c.get("granted")
                                   for c in r.json().get("consents", [])),
                     "marketing_sms withdrawn in contacts")
    consent = next(c for c in withdrawn.json()["consents"] if c["purpose"] == "marketing_sms")
    assert consent["source"] == "sms_reply"
    replies = mkt.get("/sms-replies", params={"phone": phone["yes"]})
    assert replies.status_code == 200, replies.text
    assert [(r["content"], r["opt_out"]) for r in replies.json()["items"]] == [("T", True)]

    # -- the next wave skips them, and texts the other one again
    second = sms_wave(mkt, campaign_id, tag, lambda c: c.get("skipped") == {"no_consent": 1, "unsubscribed": 1})
    assert second["sms_counts"]["sent"] == 1
    poll(lambda: texts_to(suite, phone["also_yes"]), lambda m: len(m) == 2, "the second SMS to the other one")
    assert len(texts_to(suite, phone["yes"])) == 1


def test_a_ticket_update_reaches_the_customer_who_chose_sms(api: Callable[[str], Any], suite: Any) -> None:
    agent = api("agent.support")
    admin = api("admin")
    contact = admin.post("/contacts", json=new_contact("赵敏")).json()
    phone = contact["phones"][0]["number"]
    refused = agent.post("/tickets", json={"subject": "快递未到", "contact_id": contact["id"], "notice_channel": "sms"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "notice_phone", refused.text
    created = agent.post("/tickets", json={"subject": "快递未到", "contact_id": contact["id"],
                                           "notice_channel": "sms", "notice_phone": phone})
    assert created.status_code == 201, created.text
    ticket = created.json()
    reply = agent.post(f"/tickets/{ticket['id']}/comments", json={"comment": {"body": "已联系快递", "public": True}})
    assert reply.status_code == 201, reply.text
    (text,) = poll(lambda: texts_to(suite, phone), lambda m: len(m) == 1, "the ticket's SMS at the sink")
    assert text["template_code"] == "SMS_TICKET_UPDATE"
    assert text["params"] == {"number": ticket["number"], "update": "有新回复"}
    # the sink's receipt (out_id s…) reaches support through the same callback: what an operator sees in
    # support's database (the SMS outbox row, delivered)
    assert text["out_id"].startswith("s")
    engine = sqlalchemy.create_engine(suite.database_url("support"))
    try:
        def delivered() -> Any:
            with engine.connect() as conn:
                return conn.execute(sqlalchemy.text("SELECT status, provider_id, delivered_at FROM sms_outbox "
                                                    "WHERE ticket_id = :t"), {"t": ticket["id"]}).all()
        (row,) = poll(delivered, lambda rows: len(rows) == 1 and rows[0].delivered_at is not None,
                      "the ticket SMS's delivery receipt in support")
        assert (row.status, row.provider_id) == ("sent", text["biz_id"])
    finally:
        engine.dispose()
