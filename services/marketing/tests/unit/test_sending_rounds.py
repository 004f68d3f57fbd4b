"""The sender through a relay driven in rounds (ports.SmtpRounds' contract, faked): a process that
dies at any point of a round still gives each recipient one mail at most, and none twice; and the
bytes a wave sends read the same as crmkit.mail's message of the same mail."""
from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import pytest

from crm_marketing.rules.mime import WaveMime, dot_stuffed
from crmkit.mail import OutgoingMail, message_bytes

from .conftest import fakes
from .test_usecases_sending import World


@pytest.fixture
def world(store: Any, contacts: Any, mailer: Any) -> World:
    return World(store, contacts, mailer)


def _parsed(data: bytes) -> Any:
    return message_from_bytes(data.replace(b"\r\n..", b"\r\n."), policy=email.policy.SMTP)


def test_a_wave_message_reads_like_crmkit_mail_s_own() -> None:
    at = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    mail = OutgoingMail(sender="Shuniu 市场部 <marketing@shuniu.example>", to="王强 <wq@hbsteel.cn>",
                        subject="王强，诚邀您参加 2026 春季展会：新品发布、技术交流与现场签约优惠" * 2,
                        text="See https://shop.example/expo\n.line that starts with a dot\n", html="<p>尊敬的王强</p>",
                        message_id="<abc123@shuniu.example>", date=at,
                        headers={"List-Unsubscribe": "<https://crm.example/u/1>",
                                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    ours = WaveMime(mail.sender, {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}).build(
        to_name="王强", to_address="wq@hbsteel.cn", subject=mail.subject, text=mail.text, html=mail.html,
        message_id=mail.message_id, headers={"List-Unsubscribe": "<https://crm.example/u/1>"}, at=at)
    assert b"\r\n..line" in ours  # dot-stuffed for DATA
    mine, theirs = _parsed(ours), _parsed(dot_stuffed(message_bytes(mail)))
    for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert str(mine[header]) == str(theirs[header]), header
    assert max(len(line) for line in ours.split(b"\r\n")) <= 78
    for part in ("plain", "html"):
        assert mine.get_body((part,)).get_content() == theirs.get_body((part,)).get_content()


@pytest.mark.parametrize("crash_in", ["stage", "finish"])
def test_a_sender_killed_mid_round_leaves_every_recipient_one_mail(world: World, crash_in: str) -> None:
    for i in range(5):
        world.store.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    relay = fakes.FakeRounds(connections=2)
    relay.crash_in, relay.crash_round = crash_in, 2
    with pytest.raises(fakes.Crash):
        world.sender(relay).run_once(world.clock())
    # batches of 3 in rounds of 2 (the next batch claimed ahead): the crash is in the round of the 3rd
    # mail; at "stage" its DATA never ended, at "finish" the relay took it and the answer was lost
    assert len(relay.delivered) == (2 if crash_in == "stage" else 3)
    relay.crash_in = ""
    assert world.sender(relay).run_once(world.clock()) == 0  # the dead worker's claims are still live
    world.clock.advance(seconds=61)
    world.sender(relay).run_once(world.clock())
    ids = relay.message_ids()
    assert len(ids) == 5 and len(set(ids)) == 5  # everyone once, nobody twice
    counts = world.counts(wave)
    assert (counts.delivered, counts.pending) == (5, 0)
    assert world.store.events().count("crm.marketing.email.sent") == 5
