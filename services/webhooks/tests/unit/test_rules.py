"""The pure rules a receiver and an operator rely on: a signature a receiver can check (and an
old or altered request it can refuse), the SSRF rules (IPv4, IPv6, addresses hidden in IPv6,
allowed ranges, metadata), the retry schedule, the event catalogue and payload masking."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.common.v1.envelope_pb2 import Actor
from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_webhooks.rules import catalogue, payload, signature, targets
from crm_webhooks.rules.backoff import Schedule
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.events import new_event, parse_envelope

SECRET = "whsec_test-secret"
BODY = b'{"id":"d-1","type":"opportunity.won"}'


def test_a_receiver_verifies_a_signed_delivery_and_refuses_tampering_or_replays_later() -> None:
    headers = signature.headers(secret=SECRET, delivery_id="d-1", event_type="opportunity.won",
                                timestamp=1_800_000_000, body=BODY)
    ts, sig = headers[signature.HEADER_TIMESTAMP], headers[signature.HEADER_SIGNATURE]
    assert headers[signature.HEADER_ID] == "d-1" and headers[signature.HEADER_EVENT] == "opportunity.won"
    assert signature.verify(SECRET, timestamp=ts, body=BODY, signature=sig, now=1_800_000_010)
    assert not signature.verify(SECRET, timestamp=ts, body=BODY + b" ", signature=sig, now=1_800_000_010)
    assert not signature.verify("whsec_other", timestamp=ts, body=BODY, signature=sig, now=1_800_000_010)
    assert not signature.verify(SECRET, timestamp=str(int(ts) + 1), body=BODY, signature=sig, now=1_800_000_010)
    assert not signature.verify(SECRET, timestamp=ts, body=BODY, signature=sig, now=1_800_000_000 + 301)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert signature.sign(SECRET, 1_800_000_000, BODY) == f"v1={expected}"
    assert signature.new_secret() != signature.new_secret()


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.8.8", "203.0.113.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0",
    "169.254.1.1", "169.254.169.254", "100.100.100.200", "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fd00:ec2::254", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:7f00:1::",
    "fe80::1%eth0", "not-an-ip",
])
def test_internal_addresses_are_refused(address: str) -> None:
    assert targets.refusal(address) != ""


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert targets.refusal(address) == ""



@pytest.mark.parametrize(("address", "why"), [
    ("0.0.0.0", "0.0.0.0 is an unspecified address"), ("::", ":: is an unspecified address"),
    ("10.0.0.1", "10.0.0.1 is a private address"), ("fc00::1", "fc00::1 is a unique-local address"),
])
def test_the_refusal_reads_as_a_sentence(address: str, why: str) -> None:
    """What the 400 naming target_url says (and the delivery log): "an unspecified", not "a unspecified"."""
    assert targets.refusal(address) == why


def test_an_allowed_range_lets_an_internal_address_through_but_never_metadata() -> None:
    allowed = targets.parse_cidrs("10.20.0.0/16, 127.0.0.1/32, 169.254.0.0/16")
    assert targets.refusal("10.20.3.4", allowed) == ""
    assert targets.refusal("::ffff:10.20.3.4", allowed) == ""  # judged as the IPv4 it carries
    assert targets.refusal("10.21.0.1", allowed) != ""
    assert targets.refusal("127.0.0.1", allowed) == ""
    assert "metadata" in targets.refusal("169.254.169.254", allowed)
    with pytest.raises(ValueError, match="WEBHOOKS_ALLOWED_CIDRS"):
        targets.parse_cidrs("10.0.0.0/8, intranet")


def test_a_name_with_one_internal_address_among_public_ones_is_refused() -> None:
    assert targets.check_addresses(["8.8.8.8", "8.8.4.4"]) == "8.8.8.8"
    with pytest.raises(ValueError, match="private"):
        targets.check_addresses(["8.8.8.8", "10.0.0.1"])
    with pytest.raises(ValueError, match="does not resolve"):
        targets.check_addresses([])


@pytest.mark.parametrize("url,why", [
    ("ftp://erp.example.com/x", "only http and https"), ("file:///etc/passwd", "only http and https"),
    ("gopher://x", "only http and https"), ("https://user:pw@erp.example.com/", "credentials"),
    ("https:///path", "no host"), ("https://erp.example.com:99999/", "port"), ("", "required"),
    ("https://erp.example.com/a b", "not a valid URL"), ("https://erp.example.com/#x", "fragment"),
])
def test_urls_we_would_never_send_to_are_refused_naming_the_field(url: str, why: str) -> None:
    with pytest.raises(InvalidArgument, match=why) as caught:
        targets.parse_target(url)
    assert caught.value.field == "target_url"


def test_a_target_keeps_its_host_for_tls_and_the_host_header() -> None:
    target = targets.parse_target("https://ERP.example.com:8443/hooks?x=1")
    assert (target.scheme, target.host, target.port, target.path) == ("https", "erp.example.com", 8443, "/hooks?x=1")
    assert target.host_header == "erp.example.com:8443"
    assert targets.parse_target("http://[2606:4700::1]/").host_header == "[2606:4700::1]"


def test_retries_back_off_exponentially_with_jitter_for_a_day_then_park() -> None:
    schedule = Schedule(base=30.0, window=86400.0)
    nominal = [schedule.delay(n, 1.0 - 1e-12) for n in range(1, 10)]
    assert [round(x) for x in nominal] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert schedule.delay(3, 0.0) == 60.0  # jitter spreads between half and all of the delay
    start = datetime(2026, 12, 1, tzinfo=UTC)
    until, now, attempts = schedule.until(start), start, 0
    while True:
        attempts += 1
        at = schedule.next_attempt(attempts=attempts, now=now, retry_until=until, jitter=0.5)
        if at is None:
            break
        now = at
    assert until - timedelta(hours=1) <= now <= until  # retried through the day, parked at its end
    assert 25 < attempts < 40


def test_event_types_come_from_the_contracts_under_short_names() -> None:
    assert catalogue.CATALOGUE["opportunity.won"].subject == "crm.sales.opportunity.won"
    assert catalogue.CATALOGUE["contact.updated"].producer == "contacts"
    assert catalogue.CATALOGUE["ticket.solved"].subject == "crm.support.ticket.solved"
    assert catalogue.check_types(["opportunity.won", "crm.sales.opportunity.won", "ticket.solved"]) == [
        "opportunity.won", "ticket.solved"]
    with pytest.raises(InvalidArgument) as caught:
        catalogue.check_types(["opportunity.won", "deal.closed"])
    assert caught.value.field == "event_types[1]"
    with pytest.raises(InvalidArgument):
        catalogue.check_types([])


def _contact_updated() -> bytes:
    contact = contacts_pb2.Contact(id="c-1", name="张伟", owner_id="rep.1")
    contact.phones.add(number="+8613800138000", raw="138 0013 8000")
    contact.phones.add(number="+8613822223333", raw="13822223333")
    contact.emails.add(address="zhang.wei@example.com")
    env = new_event(producer="contacts", event_type="crm.contacts.contact.updated", aggregate_type="contact",
                    aggregate_id="c-1", aggregate_version=3, payload=events_pb2.ContactUpdated(contact=contact),
                    actor=Actor(user_id="rep.1"))
    return env.data


def test_payloads_are_masked_for_a_role_the_api_masks_and_whole_for_one_it_does_not() -> None:
    import json

    env = parse_envelope(_contact_updated())
    masked = json.loads(payload.body(env, name="contact.updated", delivery="d-1",
                                     owner=Principal("erp", ("integration",))))
    contact = masked["data"]["contact"]
    # the raw text as the API serves it to the same role: the masked number, never more digits
    assert contact["phones"][0]["number"] == "+861******8000" and contact["phones"][0]["raw"] == "+861******8000"
    assert contact["phones"][1]["number"] == "+861******3333" and contact["phones"][1]["raw"] == "+861******3333"
    assert contact["emails"][0]["address"] == "z***@example.com"
    assert contact["name"] == "张伟" and masked["type"] == "contact.updated" and masked["id"] == "d-1"
    assert masked["aggregate"] == {"type": "contact", "id": "c-1", "version": 3}
    whole = json.loads(payload.body(env, name="contact.updated", delivery="d-1", owner=Principal("root", ("admin",))))
    assert whole["data"]["contact"]["phones"][0]["number"] == "+8613800138000"
    assert whole["data"]["contact"]["emails"][0]["address"] == "zhang.wei@example.com"


def test_a_leads_unverified_phone_as_typed_is_masked_in_a_payload_too() -> None:
    import json

    from crm.sales.v1 import events_pb2 as sales_events
    from crm.sales.v1 import sales_pb2

    lead = sales_pb2.Lead(id="l-1", name="周八", phone="14012345678", phone_raw="140 1234 5678",
                          phone_unverified=True, email="zhou.ba@example.com")
    env = parse_envelope(new_event(producer="sales", event_type="crm.sales.lead.created", aggregate_type="lead",
                                   aggregate_id="l-1", aggregate_version=1,
                                   payload=sales_events.LeadCreated(lead=lead), actor=Actor(user_id="rep.1")).data)
    sent = json.loads(payload.body(env, name="lead.created", delivery="d-2", owner=Principal("erp", ("integration",))))
    data = sent["data"]["lead"]
    assert "1234" not in data["phone"] and "1234" not in data["phone_raw"] and data["email"] == "z***@example.com"


def test_what_was_said_on_a_call_does_not_reach_a_masked_subscriber() -> None:
    import json

    said = contacts_pb2.Interaction(id="i-1", contact_id="c-1", kind="call", subject="第二次电话",
                                    content="客户私下透露预算 99 万")
    env = parse_envelope(new_event(producer="contacts", event_type="crm.contacts.interaction.logged",
                                   aggregate_type="contact", aggregate_id="c-1", aggregate_version=2,
                                   payload=events_pb2.InteractionLogged(interaction=said),
                                   actor=Actor(user_id="rep.1")).data)
    sent = json.loads(payload.body(env, name="interaction.logged", delivery="d-3",
                                   owner=Principal("erp", ("integration",))))
    assert sent["data"]["interaction"]["subject"] == "第二次电话" and "content" not in sent["data"]["interaction"]
    whole = json.loads(payload.body(env, name="interaction.logged", delivery="d-3", owner=Principal("root", ("admin",))))
    assert whole["data"]["interaction"]["content"] == "客户私下透露预算 99 万"


def test_a_delivery_id_is_stable_per_event_and_subscription() -> None:
    assert payload.delivery_id("s-1", "e-1") == payload.delivery_id("s-1", "e-1")
    assert payload.delivery_id("s-1", "e-1") != payload.delivery_id("s-2", "e-1")
