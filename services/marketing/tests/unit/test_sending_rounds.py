"""The sender through a relay driven in rounds (ports.SmtpRounds' contract, faked): a process that
dies at any point of a round still gives each recipient one mail at most, and none twice; and the
bytes a wave sends read the same as crmkit.mail's message of the same mail."""
from __future__ import annotations

import email.policy
import re
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import pytest
from sqlalchemy import select

from crm_marketing.rules.mime import WaveMime, dot_stuffed
from crm_marketing.usecases import sending as sending_usecases
from crmkit import shredding
from crmkit.events import parse_envelope, unpack_payload
from crmkit.mail import OutgoingMail, message_bytes
from crmkit.runtime_tables import outbox_row

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


@pytest.mark.parametrize(("crash_round", "delivered"), [(2, 2), (3, 3)])
def test_a_sender_killed_mid_round_leaves_every_recipient_one_mail(world: World, crash_round: int,
                                                                   delivered: int) -> None:
    for i in range(5):
        world.store.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    relay = fakes.FakeRounds(connections=2)
    relay.crash_round = crash_round
    with pytest.raises(fakes.Crash):
        world.sender(relay).run_once(world.clock())
    # batches of 3 in rounds of 2: exchange 2 ends mails 1-2 and stages 3, exchange 3 ends 3. Killed
    # in exchange 2, mail 3's DATA never ended; in 3, the relay took mail 3 and the answer was lost
    assert len(relay.delivered) == delivered
    relay.crash_round = 0
    assert world.sender(relay).run_once(world.clock()) == 0  # the dead worker's claims are still live
    world.clock.advance(seconds=61)
    world.sender(relay).run_once(world.clock())
    ids = relay.message_ids()
    assert len(ids) == 5 and len(set(ids)) == 5  # everyone once, nobody twice
    counts = world.counts(wave)
    assert (counts.delivered, counts.pending) == (5, 0)
    assert world.store.events().count("crm.marketing.email.sent") == 5


def test_a_round_whose_send_log_did_not_commit_is_never_ended(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database fails at a round's commit: that round's mails, staged at the relay, are dropped
    unended (a later exchange on the same connections would deliver them unrecorded)."""
    for i in range(4):
        world.store.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    real, calls = sending_usecases.handed, []

    def failing_second_commit(uow: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk I/O error")
        real(uow, **kwargs)

    monkeypatch.setattr(sending_usecases, "handed", failing_second_commit)
    relay = fakes.FakeRounds(connections=2)
    sender = world.sender(relay)
    with pytest.raises(OSError):
        sender.run_once(world.clock())
    sender.close()
    assert len(relay.delivered) == 2  # the first round; the second's DATA never ended
    monkeypatch.setattr(sending_usecases, "handed", real)
    world.clock.advance(seconds=61)
    world.sender(relay).run_once(world.clock())
    ids = relay.message_ids()
    assert len(ids) == 4 and len(set(ids)) == 4
    assert world.counts(wave).delivered == 4


def test_each_email_sent_event_names_the_mail_the_relay_took(world: World) -> None:
    """Reporting and webhooks read email.sent: its contact, address and Message-ID are those of the
    mail delivered, for mails settled in the round that sent them and for mails a dead worker had
    handed over (settled by the worker that took its claims over)."""
    for i in range(5):
        world.store.contact(f"客户{i}", f"c{i}@example.cn", tags=("expo",))
    wave = world.wave(tags=["expo"])
    relay = fakes.FakeRounds(connections=2)
    relay.crash_round = 3  # mail 3 delivered, its answer lost: recorded by the next worker
    with pytest.raises(fakes.Crash):
        world.sender(relay).run_once(world.clock())
    relay.crash_round = 0
    world.clock.advance(seconds=61)
    world.sender(relay).run_once(world.clock())
    delivered = {mid: re.search(rb"^To: .*<([^>]+)>", data, re.MULTILINE).group(1).decode()  # type: ignore[union-attr]
                 for mid, data in zip(relay.message_ids(), relay.delivered, strict=True)}
    with world.store.db.read() as session:
        events = [unpack_payload(parse_envelope(shredding.open_local(session, data)))
                  for subject, data in session.execute(select(outbox_row.c.subject, outbox_row.c.payload))
                  if subject == "crm.marketing.email.sent"]
    assert sorted(e.message_id for e in events) == sorted(delivered)
    for e in events:
        assert e.wave_id == wave.id and e.campaign_id == wave.campaign_id and e.channel == "email"
        assert e.email == delivered[e.message_id] == f"{e.contact_id[2:]}@example.cn"
        assert e.message_id == sending_usecases.message_id(wave, e.contact_id)
