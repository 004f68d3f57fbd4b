"""Issue 11's data-subject flow through the gateway: a person with data in every service (a
captured lead converted into a contact and a deal with a quote, a timeline entry and a consent,
a ticket with a comment, a campaign invitation, the read models) → the export holds every record
(and the quote PDF in its ZIP) → the erasure saga runs until every service confirms → the name,
email and phone are in no service's database file (WAL checkpointed), no search finds the
person, the receipt lists every service, and the same email captured or added again is refused.
Crypto-shredding: the event streams (CONTACTS, SALES, SUPPORT, MARKETING), read raw from the
nats-server, never hold the name, email or phone readable, while the consumers (marketing's
audience, reporting, the search index) read them; after the erasure their keys are gone."""
from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import uuid
import zipfile
from typing import Any

import grpc
import nats
import pytest

from crm.common.v1 import subject_keys_pb2 as kpb
from crm.common.v1.subject_keys_pb2_grpc import SubjectKeysStub
from crmkit.auth import SYSTEM, mint_token
from tests.e2e.conftest import poll
from tests.e2e.test_sales_flow import ok, setup_north_team

pytestmark = pytest.mark.e2e
SERVICES = ("contacts", "sales", "marketing", "support", "reporting", "webhooks")
STREAMS = ("CONTACTS", "SALES", "SUPPORT", "MARKETING")


def stream_messages(suite: Any) -> dict[str, list[bytes]]:
    """Every message of the producers' streams, as the nats-server stores them."""
    async def read() -> dict[str, list[bytes]]:
        nc = await nats.connect(suite.nats.url)
        try:
            js = nc.jetstream()
            out: dict[str, list[bytes]] = {}
            for stream in STREAMS:
                info = await js.stream_info(stream)
                out[stream] = [(await js.get_msg(stream, seq)).data
                               for seq in range(info.state.first_seq, info.state.last_seq + 1)]
            return out
        finally:
            await nc.close()
    return asyncio.run(read())


def subject_keys(suite: Any, service: str, key_ids: list[str]) -> kpb.GetSubjectKeysResponse:
    token = mint_token(SYSTEM, suite.jwt_secret)
    with grpc.insecure_channel(f"127.0.0.1:{suite.ports[service][0]}") as channel:
        answer: kpb.GetSubjectKeysResponse = SubjectKeysStub(channel).GetSubjectKeys(
            kpb.GetSubjectKeysRequest(key_ids=key_ids), metadata=(("authorization", f"Bearer {token}"),), timeout=10)
        return answer


def readable(messages: dict[str, list[bytes]], values: tuple[str, ...]) -> list[str]:
    return [f"{value} in {stream}" for stream, datas in messages.items() for data in datas
            for value in values if value.encode() in data]



def database_bytes(suite: Any, service: str) -> bytes:
    path = suite.var / f"{service}.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_a_person_is_exported_then_erased_from_every_service(api: Any, suite: Any) -> None:
    if any(not url.startswith("sqlite") for url in map(suite.database_url, SERVICES)):
        pytest.skip("reads the SQLite files")
    setup_north_team(api)
    admin, mkt = api("admin"), api("marketing.hq")
    run = uuid.uuid4().hex[:8]
    name, email, phone = f"隐私测试{run}", f"dsr.{run}@privacy.example", f"+86139{int(run, 16) % 10**8:08d}"
    company = f"隐私科技有限公司 {run}"

    # -- data in every service
    lead = ok(api("system").post("/leads/capture", json={"form_id": "expo-2026", "lead": {
        "name": name, "company": company, "industry": "manufacturing", "region": "north",
        "phone": phone, "email": email, "budget": "500000"}}), 201)
    rep = api(lead["owner_id"])
    ok(rep.post(f"/leads/{lead['id']}/status", json={"status": "qualified"},
                headers={"If-Match": f'"{lead["version"]}"'}))
    converted = ok(rep.post(f"/leads/{lead['id']}/convert", json={
        "amount": {"currency_code": "CNY", "amount": "480000"}, "expected_close_date": "2026-06-30"}))
    contact_id, opp = converted["contact_id"], converted["opportunity"]
    manager = api("manager.north")
    product = ok(manager.post("/products", json={"sku": f"dsr-{run}", "name": "CRM 企业版", "unit": "套"}), 201)
    book = ok(manager.http.put(manager.base + "/price-books", json={
        "name": f"价目 {run}", "currency_code": "CNY", "tier": "standard",
        "entries": [{"product_id": product["id"], "unit_price": {"amount": "100.00"}}]}, timeout=10))
    quote = ok(rep.post("/quotes", json={"opportunity_id": opp["id"], "price_book_id": book["id"],
                                         "lines": [{"product_id": product["id"], "quantity": "1"}]}), 201)
    ok(rep.post(f"/contacts/{contact_id}/interactions", json={
        "kind": "call", "direction": "outbound", "subject": "首次电话", "content": "关注交付周期"}), 201)
    ok(admin.post(f"/contacts/{contact_id}/consents", json={
        "purpose": "marketing_email", "granted": True, "lawful_basis": "consent", "source": "web_form:newsletter"}))
    ticket = ok(admin.post("/tickets", json={"subject": "发票金额有误", "contact_id": contact_id,
                                             "priority": "normal"}), 201)
    ok(admin.post(f"/tickets/{ticket['id']}/comments", json={"comment": {"body": "请提供订单号", "public": True}}),
       201)
    campaign = ok(mkt.post("/campaigns", json={"name": f"隐私展会 {run}", "type": "trade_show"}), 201)
    ok(mkt.post(f"/campaigns/{campaign['id']}/invitees", json={"contact_ids": [contact_id]}), 201)
    poll(lambda: ok(rep.get("/search/customers", params={"q": email}))["items"],
         lambda hits: any(h["id"] == contact_id for h in hits), "the contact in customer search")

    # -- the export: every service's records, and the quote's PDF in the ZIP
    export = ok(admin.post("/privacy/exports", json={"emails": [email.upper()]}), 202)
    assert {s["service"] for s in export["steps"]} == {"resolve", *SERVICES}
    done = poll(lambda: ok(admin.get(f"/privacy/exports/{export['id']}")), lambda e: e["status"] == "completed",
                "the export")
    assert all(s["status"] == "done" for s in done["steps"]) and contact_id in done["contact_ids"]

    def exported() -> dict[str, Any]:
        document: dict[str, Any] = ok(admin.get(f"/privacy/exports/{export['id']}/download"))
        return document

    document = exported()
    assert document["subject"]["names"] == [name] and phone in document["subject"]["phones"]
    parts = document["services"]
    assert [c["id"] for c in parts["contacts"]["contacts"]] == [contact_id]
    assert [e["record"]["interaction"]["subject"] for e in parts["contacts"]["timeline"]
            if e["record"].get("kind") == "call"] == ["首次电话"]
    assert [c["purpose"] for c in parts["contacts"]["consent history"]] == ["marketing_email"]
    assert [x["id"] for x in parts["sales"]["leads"]] == [lead["id"]]
    assert [x["id"] for x in parts["sales"]["opportunities"]] == [opp["id"]]
    assert [x["id"] for x in parts["sales"]["quotes"]] == [quote["id"]]
    assert [x["id"] for x in parts["support"]["tickets"]] == [ticket["id"]]
    assert [c["record"]["body"] for c in parts["support"]["comments"]] == ["请提供订单号"]
    assert [i["campaign_id"] for i in parts["marketing"]["invitations"]] == [campaign["id"]]
    assert [c["contact_id"] for c in parts["reporting"]["customer"]] == [contact_id]
    # who did what to the person's records (crmkit.audit: the fact, ids and field names only)
    assert any(e["record_id"] == contact_id for e in parts["contacts"]["audit"])
    assert any(e["record_id"] == lead["id"] for e in parts["sales"]["audit"])
    archive = zipfile.ZipFile(io.BytesIO(ok(admin.get(f"/privacy/exports/{export['id']}/download",
                                                      params={"format": "zip"})).content))
    pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert pdfs == [f"sales/quotes/{quote['number']}-v1.pdf"]
    assert archive.read(pdfs[0]).startswith(b"%PDF")
    assert json.loads(archive.read("export.json"))["services"]["sales"]["leads"][0]["id"] == lead["id"]
    # reading what is not there: 404 and 400 naming the field
    assert admin.get("/privacy/exports/nope").status_code == 404
    refused = admin.post("/privacy/erasures", json={"emails": ["not-an-email"]})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "emails[0]"
    several = admin.post("/privacy/exports", json={"emails": ["ok@example.com", "nope"], "phones": ["12"]})
    assert several.status_code == 400, several.text
    assert [e["field"] for e in several.json()["errors"]] == ["emails[1]", "phones[0]"], several.text
    assert rep.post("/privacy/erasures", json={"contact_ids": [contact_id]}).status_code == 403

    # -- the erasure (before it, the person is in the files the check below reads)
    assert all(v.encode() in database_bytes(suite, "contacts") for v in (name, email, phone))
    assert email.encode() in database_bytes(suite, "sales")
    # the streams carry the person's events sealed from the start; consumers opened them: marketing's
    # audience has the email only from the CONTACTS stream, and the ticket came out of support
    poll(lambda: database_bytes(suite, "marketing"), lambda raw: email.encode() in raw,
         "marketing's audience row with the email (from the CONTACTS stream)")
    messages = stream_messages(suite)
    about = [d for datas in messages.values() for d in datas if contact_id.encode() in d or lead["id"].encode() in d]
    assert len(about) >= 6, f"only {len(about)} messages about the person"
    assert readable(messages, (name, email, phone)) == []
    person_keys = (("contacts", f"contacts/contact/{contact_id}"), ("sales", f"sales/lead/{lead['id']}"),
                   ("sales", f"sales/opportunity/{opp['id']}"), ("support", f"support/ticket/{ticket['id']}"),
                   ("marketing", f"marketing/contact/{contact_id}"))
    for service, key_id in person_keys:
        assert [k.key_id for k in subject_keys(suite, service, [key_id]).keys] == [key_id], key_id
    erasure = ok(admin.post("/privacy/erasures", json={"contact_ids": [contact_id], "reason": f"Art. 17 {run}"}),
                 202)
    finished = poll(lambda: ok(admin.get(f"/privacy/erasures/{erasure['id']}")),
                    lambda e: e["status"] == "completed", "the erasure")
    receipt = ok(admin.get(f"/privacy/erasures/{erasure['id']}/receipt"))
    assert [c["service"] for c in receipt["confirmations"]] == list(SERVICES)
    assert all(c["confirmed_at"] for c in receipt["confirmations"]) and receipt["completed_at"]
    assert receipt["suppressed_identifiers"] == 2 and contact_id in finished["contact_ids"]
    keys_erased = {c["service"]: {x["holding"]: x["rows"] for x in c.get("counts", [])}.get("subject keys", 0)
                   for c in receipt["confirmations"]}
    assert keys_erased["contacts"] >= 1 and keys_erased["sales"] >= 2 and keys_erased["support"] >= 1, keys_erased

    # the streams: no message readable, and the keys that opened them are gone for every consumer
    after = stream_messages(suite)
    assert sum(map(len, after.values())) >= sum(map(len, messages.values()))
    assert readable(after, (name, email, phone)) == []
    for service, key_id in person_keys:
        answer = subject_keys(suite, service, [key_id])
        assert list(answer.erased) == [key_id] and not answer.keys, f"{key_id} still held by {service}"

    # nothing left: database files, search, reports, the old export
    for service in (*SERVICES, "privacy"):
        raw = database_bytes(suite, service)
        for value in (name, email, phone):
            assert value.encode() not in raw, f"{value} still in {service}.db"
    assert ok(rep.get("/search/customers", params={"q": name}))["items"] == []
    assert ok(rep.get("/search/customers", params={"q": email}))["items"] == []
    assert admin.get(f"/contacts/{contact_id}").status_code == 404
    assert name not in ok(admin.get("/reports/customers")).__repr__()
    gone = admin.get(f"/privacy/exports/{export['id']}/download")
    assert gone.status_code == 400 and "expired" in gone.json()["detail"]
    assert ok(rep.get(f"/opportunities/{opp['id']}"))["amount"]["amount"] == "480000.00"  # the deal stays

    # suppressed: captured, created or imported again, the email and the phone are refused
    again = api("system").post("/leads/capture", json={"form_id": "expo-2026", "lead": {
        "name": "someone", "company": company, "email": email.upper()}})
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "email", again.text
    by_phone = rep.post("/contacts", json={"name": "someone", "phones": [{"raw": phone}]})
    assert by_phone.status_code == 400 and by_phone.json()["errors"][0]["field"] == "phones[0].number", by_phone.text
    imported = ok(rep.post("/leads/import", json={"csv": f"name,email\nsomeone,{email}\n"}))
    assert imported["created"] == 0 and imported["rows"][0]["field"] == "email", imported
    customers = rep.post("/imports", data=f"name,email\nsomeone,{email}\n".encode(),
                         headers={"Content-Type": "text/csv"}, params={"entity": "contact", "file_name": "again.csv"})
    assert customers.status_code == 202, customers.text
    job = poll(lambda: ok(rep.get(f"/imports/{customers.json()['id']}")), lambda j: j["status"] == "done",
               "the customer import")
    assert (job["accepted"], job["rejected"]) == (0, 1) and job["problems"][0]["field"] == "emails[0].address", job

    # erasing twice is harmless: a second saga completes and finds nothing
    twice = ok(admin.post("/privacy/erasures", json={"contact_ids": [contact_id]}), 202)
    poll(lambda: ok(admin.get(f"/privacy/erasures/{twice['id']}")), lambda e: e["status"] == "completed",
         "the second erasure")
