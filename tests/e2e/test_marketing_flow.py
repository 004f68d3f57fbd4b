"""Marketing end to end through the gateway, the whole suite as processes mailing into the suite's
SMTP sink (devrun starts one and hands every service its SMTP_URL): consent recorded in contacts →
a segment → a template with merge fields → a campaign → a send wave mailed to the consented only,
with the List-Unsubscribe headers and the merged name → the open pixel and a click counted in the
campaign results → one-click unsubscribe withdraws the consent in contacts → the next wave skips
that person."""
from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
import requests

from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e
LANDING = "https://shop.example/expo?ref=e2e"
_PUBLIC = re.compile(r"""https?://[^\s"'<>]+/api/v1/public/(open|click)/[A-Za-z0-9._-]+""")



def mails_to(suite: Any, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(suite.mail_dir.glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=default_policy)
        if isinstance(mail, EmailMessage) and address in str(mail["To"]):
            found.append(mail)
    return found


def html_of(mail: EmailMessage) -> str:
    body = mail.get_body(("html",))
    assert body is not None, "the mail has no html part"
    return str(body.get_content())


def send_wave(mkt: Any, campaign_id: str, template_id: str) -> dict[str, Any]:
    created = mkt.post("/send-waves", json={"campaign_id": campaign_id, "template_id": template_id})
    assert created.status_code == 201, created.text
    wave = created.json()
    started = mkt.post(f"/send-waves/{wave['id']}/start", headers={"If-Match": created.headers["ETag"]})
    assert started.status_code == 200, started.text
    done = poll(lambda: mkt.get(f"/send-waves/{wave['id']}"), lambda r: r.json().get("status") == "completed",
                f"wave {wave['id']} completed")
    return dict(done.json())


def test_segment_to_mail_to_tracking_to_unsubscribe_and_the_next_wave(api: Callable[[str], Any], suite: Any,
                                                                      tag: str) -> None:
    mkt = api("marketing.hq")
    people = {}
    for key, name, language in (("consented", f"王芳{tag[-4:]}", "zh-CN"), ("silent", f"Peter {tag}", "en"),
                                ("also", f"Anna {tag}", "en")):
        created = mkt.post("/contacts", json=new_contact(name, tags=[tag], language=language))
        assert created.status_code == 201, created.text
        people[key] = created.json()
    email = {k: p["emails"][0]["address"] for k, p in people.items()}
    for key in ("consented", "also"):
        granted = mkt.post(f"/contacts/{people[key]['id']}/consents", json={
            "purpose": "marketing_email", "granted": True, "lawful_basis": "consent", "source": "web_form:e2e",
            "evidence": "ticked the newsletter box"})
        assert granted.status_code == 200, granted.text

    segment = mkt.post("/segments", json={"name": f"e2e {tag}", "filter": {"tags_any": [tag]}})
    assert segment.status_code == 201, segment.text
    assert mkt.get(f"/segments/{segment.json()['id']}/count").json()["count"] == 3
    template = mkt.post("/email-templates", json={"name": f"邀请 {tag}", "contents": [
        {"language": "zh-CN", "subject": "{{ name }}，诚邀您参加{{ campaign_name }}",
         "text": f"尊敬的{{{{ name }}}}：详情见 {LANDING}",
         "html": f'<p>尊敬的{{{{ name }}}}：</p><p><a href="{LANDING}">展会详情</a></p>'},
        {"language": "en", "subject": "{{ name }}, join us at {{ campaign_name }}",
         "text": f"Dear {{{{ name }}}}, see {LANDING}",
         "html": f'<p>Dear {{{{ name }}}},</p><p><a href="{LANDING}">the expo</a></p>'}]})
    assert template.status_code == 201, template.text
    broken = mkt.post("/email-templates/preview", json={"contact_id": people["consented"]["id"], "template": {
        "name": "x", "contents": [{"language": "zh-CN", "subject": "{{ first_name }}", "text": "hi"}]}})
    assert broken.status_code in (400, 404), broken.text  # 404 until marketing has the contact
    preview = poll(lambda: mkt.post(f"/email-templates/{template.json()['id']}/preview",
                                    json={"contact_id": people["consented"]["id"]}),
                   lambda r: r.status_code == 200, "marketing knows the contact (CONTACTS stream)")
    assert people["consented"]["name"] in preview.json()["subject"]
    broken = mkt.post("/email-templates/preview", json={"contact_id": people["consented"]["id"], "template": {
        "name": "x", "contents": [{"language": "zh-CN", "subject": "{{ first_name }}", "text": "hi"}]}})
    assert broken.status_code == 400 and "first_name" in broken.json()["detail"], broken.text
    assert broken.json()["errors"][0]["field"].startswith("template")

    campaign = mkt.post("/campaigns", json={"name": f"春季展会 {tag}", "type": "email",
                                            "audience": {"segment_ids": [segment.json()["id"]]}})
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]

    # -- the first wave: mail to the consented two, none to the silent one
    first = send_wave(mkt, campaign_id, template.json()["id"])
    assert (first["counts"]["recipients"], first["counts"]["skipped"]) == (3, {"no_consent": 1}), first
    (mail,) = poll(lambda: mails_to(suite, email["consented"]), lambda m: len(m) == 1, "the mail in the sink")
    assert len(poll(lambda: mails_to(suite, email["also"]), lambda m: len(m) == 1, "Anna's mail")) == 1
    assert mails_to(suite, email["silent"]) == []
    assert people["consented"]["name"] in str(mail["Subject"]) and "{{" not in html_of(mail)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # (a long header is folded after its name: the parsed value keeps the fold's space)
    unsubscribe_url = re.fullmatch(r"<(https?://\S+/api/v1/public/unsubscribe/\S+)>",
                                   str(mail["List-Unsubscribe"]).strip())
    assert unsubscribe_url, mail["List-Unsubscribe"]
    links = {kind: url for kind, url in ((m.group(1), m.group(0)) for m in _PUBLIC.finditer(html_of(mail)))}
    assert {"open", "click"} <= links.keys(), html_of(mail)

    # -- the reader opens and clicks: counted, and the click goes only to the mail's own link
    pixel = requests.get(links["open"], timeout=10)
    assert pixel.status_code == 200 and pixel.headers["Content-Type"] == "image/gif"
    click = requests.get(links["click"], timeout=10, allow_redirects=False)
    assert click.status_code == 302, click.text
    target = click.headers["Location"]
    assert target.startswith("https://shop.example/expo?ref=e2e&") and "utm_source=shuniu" in target
    assert f"utm_campaign={campaign.json()['slug']}" in target
    forged = requests.get(links["click"][:-4] + "AAAA", timeout=10, allow_redirects=False)
    assert forged.status_code == 400 and forged.json()["errors"][0]["field"] == "token"
    assert requests.get(links["open"][:-4] + "AAAA", timeout=10).headers["Content-Type"] == "image/gif"
    results = mkt.get(f"/campaigns/{campaign_id}/results").json()["email"]
    assert (results["opened"], results["clicked"], results["delivered"]) == (1, 1, 2), results

    # -- one-click unsubscribe: the page alone changes nothing, the POST withdraws the consent
    page = requests.get(unsubscribe_url.group(1), timeout=10)
    assert page.status_code == 200 and "List-Unsubscribe" in page.text
    history = mkt.get(f"/contacts/{people['consented']['id']}/consents").json()["items"]
    assert history[0]["granted"] is True
    done = requests.post(unsubscribe_url.group(1), data="List-Unsubscribe=One-Click", timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "***@" in done.text, done.text
    withdrawn = poll(lambda: mkt.get(f"/contacts/{people['consented']['id']}/consents").json()["items"],
                     lambda h: not h[0]["granted"], "the withdrawal recorded in contacts")
    assert (withdrawn[0]["purpose"], withdrawn[0]["source"]) == ("marketing_email", "unsubscribe_link")
    assert mkt.get(f"/campaigns/{campaign_id}/results").json()["email"]["unsubscribed"] == 1

    # -- the next wave skips the person who left, mails the one who stayed
    second = send_wave(mkt, campaign_id, template.json()["id"])
    skipped = mkt.get(f"/send-waves/{second['id']}/recipients", params={"status": "skipped"}).json()["items"]
    assert {r["contact_id"]: r["skip_reason"] for r in skipped}[people["consented"]["id"]] in (
        "unsubscribed", "no_consent")
    poll(lambda: mails_to(suite, email["also"]), lambda m: len(m) == 2, "Anna's second mail")
    assert len(mails_to(suite, email["consented"])) == 1 and mails_to(suite, email["silent"]) == []
