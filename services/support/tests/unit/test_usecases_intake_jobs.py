"""Intake (a preparation that asks contacts, then one write) with a fake contacts port, and the
scheduled SLA / auto-close work through jobs, against the real schema in milliseconds."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.support.v1 import support_pb2 as pb
from crm_support import jobs
from crm_support.ports import DependencyUnavailable
from crm_support.usecases import intake, settings, tickets
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, PermissionDenied, ResourceExhausted
from crmkit.testing import ManualClock, wait_for

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
AGENT = Principal("agent.1", ("support",), "support", "", "客服小王")
MANAGER = Principal("manager.support", ("manager",), "support", "", "主管")
RELAY = Principal("system", ("service",), "platform", "", "mail relay")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")


def email(sender: str, message_id: str, *, subject: str = "发票开错了", in_reply_to: str = "",
          extra: str = "") -> bytes:
    headers = f"From: {sender}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n{extra}"
    if in_reply_to:
        headers += f"In-Reply-To: {in_reply_to}\r\n"
    return (headers + "Content-Type: text/plain; charset=utf-8\r\n\r\n抬头写错了\r\n").encode()


def receive(store: Any, contacts: Any, raw: bytes, at: datetime = NOW) -> pb.InboundEmailResponse:
    prepared = store.read(lambda s: intake.prepare_email(s, contacts, principal=RELAY, raw=raw))
    return store.write(lambda uow: intake.receive_email(uow, principal=RELAY, now=at, email=prepared))


def test_create_ticket_asks_contacts_before_the_write_and_fills_the_customer(store: Any, contacts: Any) -> None:
    contact = contacts.add("王强", "wang.qiang@hbsteel.cn", level="vip", account_id="acc-1")
    asked = pb.Ticket(subject="打印机无法连接", contact_id=contact.id)
    customer = intake.prepare_ticket(contacts, principal=AGENT, authorization="Bearer agent", ticket=asked)
    assert contacts.calls["get_contact"] == 1 and contacts.authorizations == ["Bearer agent"]
    ticket = store.write(lambda uow: intake.create_ticket(uow, principal=AGENT, now=NOW, ticket=asked,
                                                          customer=customer))
    assert (ticket.customer_level, ticket.account_id, ticket.requester_email, ticket.requester_name) == (
        "vip", "acc-1", "wang.qiang@hbsteel.cn", "王强")
    with pytest.raises(PermissionDenied):  # refused before contacts is asked
        intake.prepare_ticket(contacts, principal=PUBLIC, authorization="", ticket=asked)
    assert contacts.calls["get_contact"] == 1
    with pytest.raises(DependencyUnavailable):
        intake.prepare_ticket(None, principal=AGENT, authorization="", ticket=asked)
    assert intake.prepare_ticket(None, principal=AGENT, authorization="", ticket=pb.Ticket(subject="x")) is None


def test_email_from_a_stranger_becomes_a_contact_and_replies_thread_without_asking(store: Any, contacts: Any) -> None:
    opened = receive(store, contacts, email("Li Lei <li.lei@unknown.example>", "<m1@unknown.example>"))
    assert not opened.threaded and opened.ticket.channel == "email" and opened.comment.author_kind == "customer"
    assert opened.ticket.contact_id in contacts.contacts and contacts.calls["find_or_create"] == 1
    reply, ours = store.write(lambda uow: tickets.add_comment(
        uow, principal=AGENT, now=NOW, key=opened.ticket.id, comment=pb.Comment(body="请提供税号", public=True),
        set_status="pending"))
    answer = receive(store, contacts, email("li.lei@unknown.example", "<m2@unknown.example>",
                                            in_reply_to=ours.message_id), NOW + timedelta(hours=1))
    assert answer.threaded and answer.ticket.id == opened.ticket.id and answer.ticket.status == "open"
    again = receive(store, contacts, email("li.lei@unknown.example", "<m2@unknown.example>",
                                           in_reply_to=ours.message_id))
    assert again.duplicate and again.comment.id == answer.comment.id
    away = receive(store, contacts, email("li.lei@unknown.example", "<m3@unknown.example>",
                                          extra="Auto-Submitted: auto-replied\r\n"))
    assert away == pb.InboundEmailResponse()
    assert contacts.calls["find_or_create"] == 1  # only the first message needed contacts
    with pytest.raises(PermissionDenied):
        store.read(lambda s: intake.prepare_email(s, contacts, principal=PUBLIC, raw=b"From: a@b.example\r\n\r\nx"))


def test_chat_threads_by_conversation_and_calls_become_tickets_or_notes(store: Any, contacts: Any) -> None:
    def chat(request: pb.InboundChatRequest) -> pb.InboundChatResponse:
        customer = store.read(lambda s: intake.prepare_chat(s, contacts, principal=RELAY, authorization="",
                                                            request=request))
        return store.write(lambda uow: intake.receive_chat(uow, principal=RELAY, now=NOW, request=request,
                                                           customer=customer))

    first = chat(pb.InboundChatRequest(conversation_id="c1", customer_email="Chat@Example.cn",
                                       messages=[pb.ChatMessage(text="登录不了")]))
    more = chat(pb.InboundChatRequest(conversation_id="c1", messages=[pb.ChatMessage(text="提示密码错误")]))
    assert (first.threaded, more.threaded, more.ticket.id) == (False, True, first.ticket.id)
    assert first.ticket.subject == "登录不了" and first.ticket.contact_id
    assert contacts.calls["find_or_create"] == 1
    with pytest.raises(InvalidArgument):
        chat(pb.InboundChatRequest(conversation_id="c2"))

    def call(request: pb.LogCallRequest) -> pb.LogCallResponse:
        customer = intake.prepare_call(contacts, principal=AGENT, authorization="Bearer a", request=request)
        return store.write(lambda uow: intake.log_call(uow, principal=AGENT, now=NOW, request=request,
                                                       customer=customer))

    note = call(pb.LogCallRequest(ticket_id=first.ticket.id, duration_seconds=300, summary="确认税号"))
    assert note.comment.body == "inbound call, 5 min: 确认税号" and not note.comment.public
    phone = call(pb.LogCallRequest(summary="VPN 连不上", contact_id=first.ticket.contact_id, priority="high"))
    assert (phone.ticket.channel, phone.ticket.priority, phone.ticket.contact_id) == (
        "phone", "high", first.ticket.contact_id)
    assert contacts.calls["get_contact"] == 1
    with pytest.raises(InvalidArgument):
        call(pb.LogCallRequest(direction="sideways", summary="x"))
    with pytest.raises(InvalidArgument) as negative:  # it was noted as "0 min"
        call(pb.LogCallRequest(summary="x", duration_seconds=-300))
    assert negative.value.field == "duration_seconds"


def test_web_form_refuses_bots_and_limits_a_sender_before_asking_contacts(store: Any, contacts: Any) -> None:
    def submit(address: str, **extra: Any) -> pb.SubmitWebFormResponse:
        request = pb.SubmitWebFormRequest(name="赵敏", email=address, subject="发票开错了", description="抬头写错了",
                                          client_ip="203.0.113.7", **extra)
        form = store.read(lambda s: intake.prepare_web_form(s, contacts, now=NOW, request=request))
        return store.write(lambda uow: intake.submit_web_form(uow, principal=PUBLIC, now=NOW, request=request,
                                                              form=form))

    with pytest.raises(InvalidArgument) as bot:
        submit("bot@example.cn", website="http://spam.example")
    assert bot.value.field == "website" and contacts.calls["find_or_create"] == 0
    numbers = [submit("Zhao.Min@example.cn").ticket_number for _ in range(3)]
    assert numbers == ["T-000001", "T-000002", "T-000003"]
    with pytest.raises(ResourceExhausted) as limited:
        submit("zhao.min@example.cn")
    assert limited.value.field == "email" and contacts.calls["find_or_create"] == 3
    ticket = store.read(lambda s: tickets.get(s, principal=AGENT, key="T-000001"))
    assert (ticket.channel, ticket.requester_email) == ("web", "zhao.min@example.cn") and ticket.contact_id


POLICIES = [pb.SlaPolicy(id="urgent", priority="urgent", first_response_minutes=120, resolution_minutes=480,
                         warn_before_minutes=30, supervisor_id="manager.support")]


def test_the_sla_job_warns_breaches_and_escalates_once(store: Any) -> None:
    store.write(lambda uow: settings.update_settings(uow, principal=MANAGER, paths=["sla_policies"],
                                                     patch=pb.SupportSettings(sla_policies=POLICIES),
                                                     expected_version=0))
    ticket = store.write(lambda uow: tickets.open_ticket(uow, principal=AGENT, now=NOW, ticket=pb.Ticket(
        subject="生产系统宕机", priority="urgent")))
    assert jobs.check_sla(store.db, NOW + timedelta(minutes=80)) == 0
    assert jobs.check_sla(store.db, NOW + timedelta(minutes=95)) == 1  # within 30 min of the 2 h target
    assert jobs.check_sla(store.db, NOW + timedelta(minutes=96)) == 0
    assert jobs.check_sla(store.db, NOW + timedelta(minutes=125)) == 1
    assert jobs.check_sla(store.db, NOW + timedelta(minutes=126)) == 0
    late = store.read(lambda s: tickets.get(s, principal=AGENT, key=ticket.id))
    assert late.escalated and late.escalated_to == "manager.support"
    # the resolution clock, looked at only after its due time: its breach (no late warning), no second escalation
    assert jobs.check_sla(store.db, NOW + timedelta(hours=9)) == 1
    events = store.events()
    assert (events.count("crm.support.sla.warning"), events.count("crm.support.sla.breached"),
            events.count("crm.support.ticket.escalated")) == (1, 2, 1)


def test_the_scheduler_closes_tickets_solved_long_ago(store: Any) -> None:
    ticket = store.write(lambda uow: tickets.open_ticket(uow, principal=AGENT, now=NOW,
                                                         ticket=pb.Ticket(subject="打印机无法连接")))
    store.write(lambda uow: tickets.change_status(uow, principal=AGENT, now=NOW, key=ticket.id, status="solved",
                                                  reason="", resolution_note="ok", expected_version=0))
    assert jobs.auto_close(store.db, NOW + timedelta(days=3)) == 0
    clock = ManualClock(NOW + timedelta(days=4, minutes=1))  # the default: closed after 4 days
    worker = jobs.worker(store.db, clock, interval=3600).start()
    try:
        wait_for(lambda: worker.ticks >= 1, what="a scheduler run")
    finally:
        worker.stop()
    closed = store.read(lambda s: tickets.get(s, principal=AGENT, key=ticket.id))
    assert closed.status == "closed" and closed.history[-1].reason == "auto_close"
    assert store.events().count("crm.support.ticket.closed") == 1
    assert jobs.auto_close(store.db, NOW + timedelta(days=5)) == 0
