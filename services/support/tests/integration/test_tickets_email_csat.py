"""A ticket's life: opened for a known customer, answered, the customer's email reply threads
into it, solved, and its CSAT survey answered exactly once. Unknown senders become contacts."""
from __future__ import annotations

from typing import Any

import grpc
import pytest

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb

pytestmark = pytest.mark.integration


def email(sender: str, subject: str, body: str, message_id: str, in_reply_to: str = "") -> bytes:
    headers = [f"From: {sender}", "To: support@shuniu.example", f"Subject: {subject}", f"Message-ID: {message_id}",
               "Content-Type: text/plain; charset=utf-8"]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


def test_ticket_reply_email_thread_solve_and_csat_once(support: Any, api: Any, rpc_error: Any) -> None:
    account = api.admin and support.contacts_as("admin").CreateAccount(
        cpb.CreateAccountRequest(account=cpb.Account(name="河北钢铁", level="vip")))
    contact = support.contacts_as("admin").CreateContact(cpb.CreateContactRequest(contact=cpb.Contact(
        name="王强", account_id=account.id, level="vip", emails=[cpb.Email(address="wang.qiang@hbsteel.cn")])))

    ticket = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(
        subject="打印机无法连接", description="办公室打印机连不上", contact_id=contact.id, priority="high")),
        key="create-1")
    assert ticket.number.startswith("T-") and ticket.status == "new"
    assert (ticket.account_id, ticket.customer_level, ticket.requester_email) == (
        account.id, "vip", "wang.qiang@hbsteel.cn")
    again = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(
        subject="打印机无法连接", description="办公室打印机连不上", contact_id=contact.id, priority="high")),
        key="create-1")
    assert again.id == ticket.id  # an idempotent retry
    missing = rpc_error(api.agent.CreateTicket, pb.CreateTicketRequest(ticket=pb.Ticket(
        subject="x", contact_id="00000000-0000-0000-0000-000000000000")))
    assert missing.code() == grpc.StatusCode.NOT_FOUND

    reply = api.agent.AddComment(pb.AddCommentRequest(ticket_id=ticket.id, comment=pb.Comment(
        body="请重启打印机后再试", public=True), set_status="pending"))
    assert reply.ticket.status == "pending" and reply.comment.message_id
    note = api.agent.AddComment(pb.AddCommentRequest(ticket_id=ticket.id, comment=pb.Comment(body="驱动版本旧")))
    assert not note.comment.public

    # the customer answers our reply: threads by In-Reply-To, reopens the pending ticket
    support.clock.advance(hours=2)
    raw = email("王强 <Wang.Qiang@hbsteel.cn>", f"Re: [{ticket.number}] 打印机无法连接", "重启了还是不行\r\n\r\n> 请重启",
                "<r1@hbsteel.cn>", reply.comment.message_id)
    threaded = api.relay.InboundEmail(pb.InboundEmailRequest(raw=raw))
    assert threaded.threaded and threaded.ticket.id == ticket.id and threaded.ticket.status == "open"
    assert threaded.comment.body == "重启了还是不行" and threaded.comment.author_kind == "customer"
    # the same message delivered twice is recorded once
    assert api.relay.InboundEmail(pb.InboundEmailRequest(raw=raw)).duplicate
    # a new message quoting only the number in the subject threads too (the requester wrote it)
    by_subject = api.relay.InboundEmail(pb.InboundEmailRequest(raw=email(
        "wang.qiang@hbsteel.cn", f"[{ticket.number}] 补充", "型号是 HP 1020", "<r2@hbsteel.cn>")))
    assert by_subject.threaded and by_subject.ticket.id == ticket.id
    # ... but not when a stranger writes it
    stranger = api.relay.InboundEmail(pb.InboundEmailRequest(raw=email(
        "Li Lei <li.lei@unknown.example>", f"[{ticket.number}] hello", "I need an invoice", "<s1@unknown.example>")))
    assert not stranger.threaded and stranger.ticket.id != ticket.id
    assert stranger.ticket.contact_id  # the unknown sender became a contact
    made = support.contacts_as("admin").GetContact(cpb.GetContactRequest(id=stranger.ticket.contact_id))
    assert [e.address for e in made.emails] == ["li.lei@unknown.example"]

    bodies = [c.body for c in api.agent.ListComments(pb.ListCommentsRequest(ticket_id=ticket.id)).comments]
    assert bodies == ["请重启打印机后再试", "驱动版本旧", "重启了还是不行", "型号是 HP 1020"]
    public = api.agent.ListComments(pb.ListCommentsRequest(ticket_id=ticket.id, public_only=True)).comments
    assert "驱动版本旧" not in [c.body for c in public]

    no_note = rpc_error(api.agent.ChangeTicketStatus, pb.ChangeTicketStatusRequest(id=ticket.id, status="solved"))
    assert no_note.code() == grpc.StatusCode.INVALID_ARGUMENT
    solved = api.agent.ChangeTicketStatus(pb.ChangeTicketStatusRequest(
        id=ticket.number, status="solved", resolution_note="更新驱动后恢复"))
    assert solved.ticket.status == "solved" and solved.csat_token
    history = [(h.from_status, h.to_status) for h in solved.ticket.history]
    assert history == [("", "new"), ("new", "pending"), ("pending", "open"), ("open", "solved")]

    answer = api.public.AnswerCsat(pb.AnswerCsatRequest(token=solved.csat_token, rating=4, comment="驱动问题"))
    assert answer.ticket_number == ticket.number
    twice = rpc_error(api.public.AnswerCsat, pb.AnswerCsatRequest(token=solved.csat_token, rating=1))
    assert twice.code() == grpc.StatusCode.ALREADY_EXISTS
    wrong = rpc_error(api.public.AnswerCsat, pb.AnswerCsatRequest(token="guess", rating=5))
    assert wrong.code() == grpc.StatusCode.NOT_FOUND
    # the public principal reaches nothing else
    assert rpc_error(api.public.GetTicket, pb.GetTicketRequest(id=ticket.id)).code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(api.public.ListTickets, pb.ListTicketsRequest()).code() == grpc.StatusCode.PERMISSION_DENIED

    subjects = support.events()
    for subject in ("crm.support.ticket.created", "crm.support.ticket.commented", "crm.support.ticket.status_changed",
                    "crm.support.ticket.solved", "crm.support.csat.requested", "crm.support.csat.answered"):
        assert subject in subjects
    assert subjects.count("crm.support.csat.answered") == 1

    issues = api.agent.GetTopIssues(pb.GetTopIssuesRequest())
    assert issues.tickets_scanned == 2
