"""An erasure reaches the webhooks queue, as a DPO and an integrator would notice it: a person's
contact events were delivered to an ERP (its own account, emails masked) and are still queued for
a paused subscription of an admin; the export lists those deliveries with their bodies; after the
erasure the person is in neither delivery log nor the webhooks database, and when the paused
subscription resumes only the other customer's delivery goes out."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from crmkit.testing import wait_for
from tests.e2e.conftest import poll
from tests.e2e.test_privacy_flow import database_bytes
from tests.e2e.test_webhooks_flow import Receiver, ok

pytestmark = pytest.mark.e2e


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    pair = (Receiver(), Receiver())
    yield pair
    for found in pair:
        found.server.shutdown()
        found.server.server_close()


def contact_ids(receiver: Receiver) -> list[str]:
    return [g["body"]["data"]["contact"]["id"] for g in receiver.got]


def test_an_erased_persons_deliveries_are_gone_and_their_queued_one_never_goes(
        api: Any, suite: Any, receivers: tuple[Receiver, Receiver]) -> None:
    if not suite.database_url("webhooks").startswith("sqlite"):
        pytest.skip("reads the SQLite file")
    erp_receiver, held_receiver = receivers
    admin, erp, dpo = api("admin"), api("erp.integration"), api("dpo.hq")
    run = uuid.uuid4().hex[:8]
    name, email, phone = f"钩子隐私{run}", f"hook.{run}@privacy.example", f"+86137{int(run, 16) % 10**8:08d}"

    live = ok(erp.post("/webhooks/subscriptions", json={"target_url": erp_receiver.url,
                                                         "event_types": ["contact.created"]}), 201)
    erp_receiver.secret = live["secret"].encode()
    held = ok(admin.post("/webhooks/subscriptions", json={"target_url": held_receiver.url,
                                                           "event_types": ["contact.created"]}), 201)
    held_receiver.secret = held["secret"].encode()
    ok(admin.patch(f"/webhooks/subscriptions/{held['id']}", json={"status": "paused"}))

    person = ok(admin.post("/contacts", json={"name": name, "emails": [{"address": email}],
                                              "phones": [{"raw": phone}]}), 201)["id"]
    other = ok(admin.post("/contacts", json={"name": f"保留客户{run}",
                                             "emails": [{"address": f"keep.{run}@example.com"}]}), 201)["id"]
    wait_for(lambda: {person, other} <= set(contact_ids(erp_receiver)), timeout=30, what="the ERP's deliveries")
    assert all(g["verified"] for g in erp_receiver.got)
    sent_to_erp = json.dumps([g["body"] for g in erp_receiver.got], ensure_ascii=False)
    assert email not in sent_to_erp and name in sent_to_erp  # masked for the integration's role
    held_log = f"/webhooks/subscriptions/{held['id']}/deliveries"
    erp_log = f"/webhooks/subscriptions/{live['id']}/deliveries"
    poll(lambda: ok(admin.get(held_log, params={"status": "pending"}))["items"], lambda items: len(items) >= 2,
         "both deliveries held by the paused subscription")
    assert held_receiver.got == []

    # the export lists the person's deliveries, whole for the admin's and masked for the ERP's
    export = ok(dpo.post("/privacy/exports", json={"contact_ids": [person]}), 202)
    assert "webhooks" in {s["service"] for s in export["steps"]}
    poll(lambda: ok(dpo.get(f"/privacy/exports/{export['id']}")), lambda e: e["status"] == "completed", "the export")
    part = ok(dpo.get(f"/privacy/exports/{export['id']}/download"))["services"]["webhooks"]
    exported = part["webhook deliveries"]
    assert {e["subscription_id"] for e in exported} == {live["id"], held["id"]}
    assert {e["body"]["data"]["contact"]["id"] for e in exported} == {person}
    assert {e["status"] for e in exported} == {"delivered", "pending"}
    erased_ids = {e["id"] for e in exported}
    assert email.encode() in database_bytes(suite, "webhooks")

    erasure = ok(dpo.post("/privacy/erasures", json={"contact_ids": [person], "reason": f"Art. 17 {run}"}), 202)
    poll(lambda: ok(dpo.get(f"/privacy/erasures/{erasure['id']}")), lambda e: e["status"] == "completed",
         "the erasure")
    receipt = ok(dpo.get(f"/privacy/erasures/{erasure['id']}/receipt"))
    (webhooks,) = [c for c in receipt["confirmations"] if c["service"] == "webhooks"]
    assert {c["holding"]: int(c["rows"]) for c in webhooks["counts"]}["webhook deliveries"] == 2

    # gone from both logs and from the file; the other customer's deliveries stay
    for who, log in ((erp, erp_log), (admin, held_log)):
        left = {d["id"] for d in ok(who.get(log))["items"]}
        assert left and not left & erased_ids
    raw = database_bytes(suite, "webhooks")
    for value in (name, email, phone, person):
        assert value.encode() not in raw, f"{value} still in webhooks.db"
    # resumed: what waited goes at once, and it is only the other customer
    ok(admin.patch(f"/webhooks/subscriptions/{held['id']}", json={"status": "active"}))
    wait_for(lambda: other in contact_ids(held_receiver), timeout=30, what="the other customer's held delivery")
    poll(lambda: ok(admin.get(held_log, params={"status": "pending"}))["items"], lambda items: items == [],
         "every held delivery sent")
    assert person not in contact_ids(held_receiver)  # the erased person's queued delivery never went
    assert all(g["verified"] for g in held_receiver.got)
    ok(erp.delete(f"/webhooks/subscriptions/{live['id']}"), 204)
    ok(admin.delete(f"/webhooks/subscriptions/{held['id']}"), 204)
