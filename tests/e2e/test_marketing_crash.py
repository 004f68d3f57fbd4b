"""The marketing process killed (SIGKILL) while a wave is being mailed, then started again: every
recipient ends up with exactly one message in the suite's SMTP sink, and the wave completes with
every mail counted once (issue 10). Marketing runs slowly here (MARKETING_SEND_RATE) so the kill
lands mid-wave, with a short claim lease so the restarted process takes over the dead one's
claims within seconds; afterwards it is started again as the rest of the session expects it."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest

from crmkit.testing import ServiceProcess, wait_for
from tests.e2e.conftest import new_contact, poll

pytestmark = pytest.mark.e2e
PEOPLE = 40


def restart_marketing(suite: Any, *, kill: bool = False, **env: str) -> None:
    """Stop (or kill) the marketing process and start it again with `env` on top of its own."""
    current: ServiceProcess = suite.procs["marketing"]
    if kill:
        current.kill()
    else:
        current.stop()
    fresh = ServiceProcess("marketing", current.argv, {**suite.service_env("marketing"), **env},
                           suite.var / "logs", current.port)
    suite.procs["marketing"] = fresh.start()


@pytest.fixture
def slow_marketing(suite: Any, api: Callable[[str], Any]) -> Iterator[None]:
    restart_marketing(suite, MARKETING_SEND_RATE="8", MARKETING_SEND_LEASE="3", MARKETING_SEND_CONNECTIONS="4")
    yield
    restart_marketing(suite)
    # the next test starts once the gateway reaches marketing again (its channels may still be in
    # reconnect backoff right after the restart, answering 503 meanwhile)
    marketer = api("marketing.hq")
    for _ in range(10):   # every gateway worker has its own channel
        wait_for(lambda: marketer.get("/campaigns").status_code == 200, 30, what="the gateway reaching marketing again")


def delivered_to(suite: Any, addresses: set[str]) -> Counter[str]:
    """Messages in the sink per recipient address (of these addresses)."""
    seen: Counter[str] = Counter()
    for path in suite.mail_dir.glob("*.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=default_policy)
        for address in getattr(mail["To"], "addresses", ()):
            if address.addr_spec in addresses:
                seen[address.addr_spec] += 1
    return seen



def test_a_sender_killed_mid_wave_and_restarted_mails_everyone_exactly_once(
        api: Callable[[str], Any], suite: Any, tag: str, slow_marketing: None) -> None:
    mkt = api("marketing.hq")
    addresses = set()
    for i in range(PEOPLE):
        created = mkt.post("/contacts", json=new_contact(f"客户{i:02d} {tag[-4:]}", tags=[tag]))
        assert created.status_code == 201, created.text
        person = created.json()
        addresses.add(person["emails"][0]["address"])
        granted = mkt.post(f"/contacts/{person['id']}/consents", json={
            "purpose": "marketing_email", "granted": True, "lawful_basis": "consent", "source": "web_form:e2e"})
        assert granted.status_code == 200, granted.text
    segment = mkt.post("/segments", json={"name": f"crash {tag}", "filter": {"tags_any": [tag]}})
    assert segment.status_code == 201, segment.text
    template = mkt.post("/email-templates", json={"name": f"crash {tag}", "contents": [
        {"language": "zh-CN", "subject": "{{ name }}，您好", "text": "详情 https://shop.example/crash"}]})
    assert template.status_code == 201, template.text
    campaign = mkt.post("/campaigns", json={"name": f"Crash {tag}", "type": "email",
                                            "audience": {"segment_ids": [segment.json()["id"]]}})
    assert campaign.status_code == 201, campaign.text
    poll(lambda: mkt.get(f"/segments/{segment.json()['id']}/count"), lambda r: r.json().get("count") == PEOPLE,
         "every contact in the segment")
    # frozen from the segment's members (snapshots with their consents): everyone pending
    created = mkt.post("/send-waves", json={"campaign_id": campaign.json()["id"], "template_id": template.json()["id"]})
    assert created.status_code == 201 and created.json()["counts"]["pending"] == PEOPLE, created.text
    wave = created.json()
    started = mkt.post(f"/send-waves/{wave['id']}/start", headers={"If-Match": created.headers["ETag"]})
    assert started.status_code == 200, started.text

    # some mails out, most not: kill the process mid-wave, then start it again
    poll(lambda: sum(delivered_to(suite, addresses).values()), lambda n: n >= 6, "the first mails in the sink")
    restart_marketing(suite, kill=True, MARKETING_SEND_RATE="8", MARKETING_SEND_LEASE="3",
                      MARKETING_SEND_CONNECTIONS="4")
    at_kill = sum(delivered_to(suite, addresses).values())
    assert at_kill < PEOPLE, "the wave was over before the kill: nothing was tested"

    done = poll(lambda: mkt.get(f"/send-waves/{wave['id']}"), lambda r: r.json().get("status") == "completed",
                "the wave completed after the restart", timeout=120)
    counts = done.json()["counts"]
    wait_for(lambda: sum(delivered_to(suite, addresses).values()) >= PEOPLE, 30, what="every mail in the sink")
    seen = delivered_to(suite, addresses)
    assert set(seen) == addresses  # nobody left out
    assert [a for a, n in seen.items() if n != 1] == []  # and nobody mailed twice
    assert (counts["delivered"], counts["pending"], counts["recipients"]) == (PEOPLE, 0, PEOPLE)
