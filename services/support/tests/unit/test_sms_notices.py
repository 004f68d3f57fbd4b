"""Ticket updates by SMS to a customer who chose it (notice_channel sms): the choice checked on
the ticket, a public reply and the solve each texted once through the SMS outbox and worker,
a refusal kept with the provider's code. Real schema, a fake provider at the port."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.support.v1 import support_pb2 as pb
from crm_support import sms_jobs
from crm_support.usecases import sms_notices, tickets
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, PermissionDenied
from crmkit.sms import OutgoingSms, SmsAccepted, SmsRejected, SmsUnavailable

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
AGENT = Principal("agent.1", ("support",), "support", "", "客服小王")


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []
        self.error: Exception | None = None

    def send(self, message: OutgoingSms) -> SmsAccepted:
        if self.error is not None:
            raise self.error
        self.sent.append(message)
        return SmsAccepted(f"biz-{len(self.sent)}")


def open_ticket(store: Any, **fields: Any) -> pb.Ticket:
    ticket = pb.Ticket(subject="打印机无法连接", requester_name="张伟", **fields)
    return store.write(lambda uow: tickets.open_ticket(uow, principal=AGENT, now=NOW, ticket=ticket))


def send(store: Any, sms: FakeSms, at: datetime = NOW, template: str = "SMS_TICKET") -> int:
    return sms_jobs.send_sms(store.db, sms, now=at, template=template, sign_name="数牛", clock=lambda: at)


def reply(store: Any, ticket: pb.Ticket, public: bool = True) -> None:
    store.write(lambda uow: tickets.add_comment(uow, principal=AGENT, now=NOW, key=ticket.id,
                                                comment=pb.Comment(body="已为您重置打印机", public=public)))


def test_the_choice_is_checked_and_the_phone_stored_e164(store: Any) -> None:
    ticket = open_ticket(store, notice_channel="SMS", notice_phone="138 0013 8000")
    assert (ticket.notice_channel, ticket.notice_phone) == ("sms", "+8613800138000")
    with pytest.raises(InvalidArgument) as missing:
        open_ticket(store, notice_channel="sms")
    assert missing.value.field == "notice_phone"
    with pytest.raises(InvalidArgument) as bad:
        open_ticket(store, notice_channel="fax")
    assert bad.value.field == "notice_channel"
    with pytest.raises(InvalidArgument):
        open_ticket(store, notice_channel="sms", notice_phone="12345")


def test_a_public_reply_and_the_solve_are_texted_once_each(store: Any) -> None:
    sms = FakeSms()
    ticket = open_ticket(store, notice_channel="sms", notice_phone="+8613800138000")
    reply(store, ticket)
    reply(store, ticket, public=False)  # an internal note tells the customer nothing
    store.write(lambda uow: tickets.change_status(uow, principal=AGENT, now=NOW, key=ticket.id, status="solved",
                                                  reason="", resolution_note="重置", expected_version=0))
    assert send(store, sms) == 2 and send(store, sms) == 0
    assert [(m.phone, m.template_code, dict(m.params), m.sign_name) for m in sms.sent] == [
        ("+8613800138000", "SMS_TICKET", {"number": ticket.number, "update": "有新回复"}, "数牛"),
        ("+8613800138000", "SMS_TICKET", {"number": ticket.number, "update": "已解决"}, "数牛")]
    rows = store.read(lambda s: sms_notices.of_ticket(s, ticket_id=ticket.id))
    assert [(r["status"], r["provider_id"]) for r in rows] == [("sent", "biz-1"), ("sent", "biz-2")]


def test_email_customers_get_no_sms_and_a_refusal_is_kept(store: Any) -> None:
    sms = FakeSms()
    mail_only = open_ticket(store, requester_email="a@b.example")
    reply(store, mail_only)
    texted = open_ticket(store, notice_channel="sms", notice_phone="+8613800138001")
    reply(store, texted)
    sms.error = SmsUnavailable("provider away")
    assert send(store, sms) == 0
    [row] = store.read(lambda s: sms_notices.of_ticket(s, ticket_id=texted.id))
    assert row["status"] == "pending" and "provider away" in row["last_error"]
    sms.error = SmsRejected(True, "isv.MOBILE_NUMBER_ILLEGAL", "bad number")
    assert send(store, sms, NOW + timedelta(minutes=5)) == 0
    [row] = store.read(lambda s: sms_notices.of_ticket(s, ticket_id=texted.id))
    assert row["status"] == "failed" and "isv.MOBILE_NUMBER_ILLEGAL" in row["last_error"]
    assert store.read(lambda s: sms_notices.of_ticket(s, ticket_id=mail_only.id)) == []


def test_without_a_template_the_sms_is_skipped_with_the_reason(store: Any) -> None:
    ticket = open_ticket(store, notice_channel="sms", notice_phone="+8613800138002")
    reply(store, ticket)
    assert send(store, FakeSms(), template="") == 0
    [row] = store.read(lambda s: sms_notices.of_ticket(s, ticket_id=ticket.id))
    assert (row["status"], row["last_error"]) == ("skipped", "SUPPORT_SMS_TEMPLATE is not set")


def test_receipts_mark_the_ticket_sms_delivered_or_failed(store: Any) -> None:
    sms = FakeSms()
    ticket = open_ticket(store, notice_channel="sms", notice_phone="+8613800138003")
    reply(store, ticket)
    reply(store, ticket)
    send(store, sms)
    first, second = (r["seq"] for r in store.read(lambda s: sms_notices.of_ticket(s, ticket_id=ticket.id)))
    public = Principal("public-web", ("public",), "", "", "visitor")
    answer = store.write(lambda uow: sms_notices.record_receipts(uow, principal=public, now=NOW, receipts=[
        pb.TicketSmsReceipt(out_id=f"s{first}", success=True),
        pb.TicketSmsReceipt(out_id=f"s{second}", success=False, error_code="MK:0001", error_message="停机"),
        pb.TicketSmsReceipt(out_id="s999999", success=True)]))
    assert (answer.marked, answer.unmatched) == (2, 1)
    rows = store.read(lambda s: sms_notices.of_ticket(s, ticket_id=ticket.id))
    assert rows[0]["delivered_at"] is not None and rows[0]["status"] == "sent"
    assert rows[1]["status"] == "failed" and rows[1]["last_error"] == "MK:0001: 停机"
    with pytest.raises(PermissionDenied):
        store.write(lambda uow: sms_notices.record_receipts(uow, principal=AGENT, now=NOW, receipts=[]))
