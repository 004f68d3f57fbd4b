"""A retry with the same idempotency key and body gets the first answer, whatever changed since,
and never asks contacts again: for every support write that reads contacts (issue 8: the
create-ticket retry used to be hashed after the ticket was filled from contacts, and answered
409 once the contact had changed)."""
from __future__ import annotations

from typing import Any

import grpc
import pytest

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb

pytestmark = pytest.mark.integration


def customer(contacts: Any, email: str = "wang.qiang@hbsteel.cn") -> cpb.Contact:
    return contacts.add_contact(cpb.Contact(name="王强", account_id="acc-hbsteel", level="vip",
                                            emails=[cpb.Email(address=email)]))


def email(sender: str, message_id: str) -> bytes:
    return (f"From: {sender}\r\nTo: support@shuniu.example\r\nSubject: 发票开错了\r\n"
            f"Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n抬头写错了\r\n").encode()


def test_create_ticket_retry_returns_the_first_answer_without_asking_contacts(
        support: Any, api: Any, contacts: Any, rpc_error: Any) -> None:
    contact = customer(contacts)
    request = pb.CreateTicketRequest(ticket=pb.Ticket(subject="打印机无法连接", contact_id=contact.id,
                                                      priority="high"))
    first = api.agent.CreateTicket(request, key="create-retry")
    assert (first.customer_level, first.account_id) == ("vip", "acc-hbsteel")
    asked = dict(contacts.calls)
    contact.level = "regular"  # the customer changes in contacts meanwhile

    again = api.agent.CreateTicket(request, key="create-retry")
    assert again == first  # not 409: the key matches the request as it was sent
    assert dict(contacts.calls) == asked
    assert support.events().count("crm.support.ticket.created") == 1
    # a new request does see the change, and the key still refuses a different body
    assert api.agent.CreateTicket(request, key="create-new").customer_level == "regular"
    other = pb.CreateTicketRequest(ticket=pb.Ticket(subject="另一个问题", contact_id=contact.id))
    assert rpc_error(api.agent.CreateTicket, other, "create-retry").code() == grpc.StatusCode.ABORTED


def test_inbound_email_retry_does_not_find_or_create_the_sender_again(support: Any, api: Any, contacts: Any) -> None:
    request = pb.InboundEmailRequest(raw=email("Li Lei <li.lei@unknown.example>", "<m1@unknown.example>"))
    first = api.relay.InboundEmail(request, key="mail-retry")
    assert not first.threaded and first.ticket.contact_id
    assert (contacts.calls["FindDuplicates"], contacts.calls["CreateContact"]) == (1, 1)
    asked = dict(contacts.calls)
    contacts.contacts[first.ticket.contact_id].level = "vip"

    again = api.relay.InboundEmail(request, key="mail-retry")
    assert again == first and not again.duplicate  # the stored answer, not a second delivery
    assert dict(contacts.calls) == asked
    assert support.events().count("crm.support.ticket.created") == 1


def test_inbound_chat_retry_does_not_ask_contacts_again(support: Any, api: Any, contacts: Any) -> None:
    contact = customer(contacts, "chat@example.cn")
    by_email = pb.InboundChatRequest(conversation_id="conv-retry-1", customer_email="chat@example.cn",
                                     messages=[pb.ChatMessage(author="customer", text="登录不了")])
    by_contact = pb.InboundChatRequest(conversation_id="conv-retry-2", contact_id=contact.id,
                                       messages=[pb.ChatMessage(author="customer", text="提示密码错误")])
    first = api.relay.InboundChat(by_email, key="chat-retry-1")
    second = api.relay.InboundChat(by_contact, key="chat-retry-2")
    assert first.ticket.contact_id == second.ticket.contact_id == contact.id
    assert (contacts.calls["FindDuplicates"], contacts.calls["GetContact"]) == (1, 1)
    asked = dict(contacts.calls)
    contact.level = "regular"

    assert api.relay.InboundChat(by_email, key="chat-retry-1") == first
    assert api.relay.InboundChat(by_contact, key="chat-retry-2") == second
    assert dict(contacts.calls) == asked
    assert support.events().count("crm.support.ticket.created") == 2
    assert "crm.support.ticket.commented" not in support.events()  # the retries threaded nothing


def test_log_call_retry_does_not_ask_contacts_again(support: Any, api: Any, contacts: Any) -> None:
    contact = customer(contacts)
    request = pb.LogCallRequest(summary="VPN 连不上", contact_id=contact.id, priority="high", duration_seconds=120)
    first = api.agent.LogCall(request, key="call-retry")
    assert first.ticket.channel == "phone" and first.ticket.customer_level == "vip"
    asked = dict(contacts.calls)
    contact.level = "regular"

    assert api.agent.LogCall(request, key="call-retry") == first
    assert dict(contacts.calls) == asked
    assert support.events().count("crm.support.ticket.created") == 1


def test_web_form_retry_does_not_ask_contacts_again_nor_count_against_the_limit(
        support: Any, api: Any, contacts: Any) -> None:
    request = pb.SubmitWebFormRequest(name="赵敏", email="zhao.min@example.cn", subject="发票开错了",
                                      description="抬头写错了", client_ip="203.0.113.9")
    first = api.public.SubmitWebForm(request, key="form-retry")
    asked = dict(contacts.calls)
    assert asked["CreateContact"] == 1
    for _ in range(3):  # more than the address's hourly limit allows for this email (3)
        assert api.public.SubmitWebForm(request, key="form-retry") == first
    assert dict(contacts.calls) == asked
    ticket = api.agent.GetTicket(pb.GetTicketRequest(id=first.ticket_number))
    assert ticket.contact_id and ticket.requester_email == "zhao.min@example.cn"
    assert support.events().count("crm.support.ticket.created") == 1
    # the retries used none of the sender's hourly allowance: two more new submissions still pass
    api.public.SubmitWebForm(request, key="form-2")
    api.public.SubmitWebForm(request, key="form-3")
