"""Support's mail through a real SMTP server (crmkit.testing.SmtpSink): the CSAT survey when a
ticket is solved, SLA mail to the supervisor with the "my escalations" list, and a service that
stops in the middle of sending.

The restart tests make the sender die (a BaseException ends its thread, as a killed process
would end it) either before the mail reached the relay or after the relay's 250 but before
'sent' was recorded. The first still ends with exactly one mail; the second is the documented
window of at-least-once delivery: a second copy with the same Message-ID."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.support.v1 import support_pb2 as pb
from crm_support.usecases import notices
from crmkit.mail import Mailer, OutgoingMail, SmtpMailer
from crmkit.testing import SmtpSink, wait_for

pytestmark = pytest.mark.integration


class Api:
    def __init__(self, support: Any) -> None:
        self.agent = support.as_user("agent")


class ProcessDied(BaseException):  # noqa: N818 - not an error the sender may handle: its end
    """Ends the mail worker's thread where it stands, like SIGKILL ends the process."""


class DiesMidSend:
    """A mailer that dies on its first mail: before handing it to the relay, or just after."""

    def __init__(self, inner: Mailer, *, after_handover: bool) -> None:
        self.inner, self.after_handover = inner, after_handover
        self.died = threading.Event()

    def send(self, mail: OutgoingMail) -> None:
        if self.after_handover:
            self.inner.send(mail)
        self.died.set()
        raise ProcessDied()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    server = SmtpSink(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def mailers(sink: SmtpSink) -> dict[str, Any]:
    """What the next start of the service gets as its mailer (tests swap it between restarts)."""
    return {"next": SmtpMailer.from_url(sink.url)}


@pytest.fixture
def support_overrides(mailers: dict[str, Any]) -> dict[str, Any]:
    return {"mailer": lambda settings: mailers["next"]}


def solve(api: Any, **fields: Any) -> tuple[pb.Ticket, str]:
    ticket = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(**{
        "subject": "发票开错了", "requester_email": "wang.qiang@hbsteel.cn", "requester_name": "王强", **fields})))
    solved = api.agent.ChangeTicketStatus(pb.ChangeTicketStatusRequest(id=ticket.id, status="solved",
                                                                       resolution_note="已重开发票"))
    return ticket, solved.csat_token


def rows(support: Any, ticket: pb.Ticket) -> list[dict[str, Any]]:
    assert support.runtime is not None
    with support.runtime.db.read() as session:
        return notices.mails_of(session, ticket_id=ticket.id)


def test_a_solved_ticket_mails_its_survey_once_and_the_link_answers_it(support: Any, api: Any, sink: SmtpSink) -> None:
    ticket, token = solve(api)
    support.tick()
    [mail] = sink.wait_for(1)
    assert ticket.number in mail["Subject"] and mail["To"].addresses[0].addr_spec == "wang.qiang@hbsteel.cn"
    assert mail["To"].addresses[0].display_name == "王强"
    link = f"http://127.0.0.1:8080/api/v1/public/csat/{token}"  # PUBLIC_BASE_URL's default
    assert link in mail.get_body(("plain",)).get_content()
    assert mail.get_body(("html",)) is not None
    answered = api.public.AnswerCsat(pb.AnswerCsatRequest(token=link.rsplit("/", 1)[1], rating=4))
    assert answered.ticket_number == ticket.number
    api.agent.ChangeTicketStatus(pb.ChangeTicketStatusRequest(id=ticket.id, status="closed"))
    support.tick()
    support.restart()
    support.tick()
    assert len(sink.messages()) == 1 and rows(support, ticket)[0]["status"] == "sent"


def test_sla_mail_reaches_the_supervisor_who_lists_their_escalations(support: Any, api: Any, sink: SmtpSink) -> None:
    api.manager.UpdateSupportSettings(pb.UpdateSupportSettingsRequest(settings=pb.SupportSettings(
        sla_policies=[pb.SlaPolicy(id="urgent", priority="urgent", first_response_minutes=120, resolution_minutes=480,
                                   warn_before_minutes=30, supervisor_id="manager.support")],
        staff=[pb.StaffMember(user_id="manager.support", name="主管", email="lead@shuniu.example")]),
        update_mask=FieldMask(paths=["sla_policies", "staff"])))
    ticket = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(subject="生产系统宕机", priority="urgent")))
    calm = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(subject="小问题", priority="low")))
    support.clock.advance(minutes=95)
    support.tick()
    support.clock.advance(minutes=30)
    support.tick()
    support.tick()  # the escalation was queued by the SLA run; the mail run of the same tick may have gone first
    warning, escalated = sink.wait_for(2)
    assert [m["To"].addresses[0].addr_spec for m in (warning, escalated)] == ["lead@shuniu.example"] * 2
    assert warning["Subject"].startswith(f"[{ticket.number}] SLA 预警")
    assert escalated["Subject"] == f"[{ticket.number}] 工单已升级给您：生产系统宕机"
    mine = api.manager.ListMyEscalations(pb.ListMyEscalationsRequest())
    assert [t.id for t in mine.tickets] == [ticket.id] and calm.id not in [t.id for t in mine.tickets]
    assert api.agent.ListMyEscalations(pb.ListMyEscalationsRequest()).tickets == []
    with pytest.raises(grpc.RpcError) as info:
        api.public.ListMyEscalations(pb.ListMyEscalationsRequest())
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _die_then_restart(support: Any, mailers: dict[str, Any], sink: SmtpSink, *, after_handover: bool) -> pb.Ticket:
    real = mailers["next"]
    dying = mailers["next"] = DiesMidSend(real, after_handover=after_handover)
    support.restart()  # now sending through the mailer that dies (on a new port: new callers)
    ticket, _ = solve(Api(support))
    worker = next(w for w in support.runtime.workers if getattr(w, "name", "") == "support-mail")
    worker.tick()
    assert dying.died.wait(15)
    wait_for(lambda: not worker._thread.is_alive(), 10, what="the sender to die")
    assert rows(support, ticket)[0]["status"] == "sending"
    mailers["next"] = real
    support.restart()
    support.tick()  # within the lease: the mail may still be on its way, nothing is sent
    assert rows(support, ticket)[0]["status"] == "sending"
    support.clock.advance(seconds=notices.LEASE.total_seconds() + 1)
    support.tick()
    assert rows(support, ticket)[0]["status"] == "sent"
    return ticket


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_sender_that_dies_before_the_relay_has_the_mail_still_sends_exactly_one(
        support: Any, api: Any, mailers: dict[str, Any], sink: SmtpSink) -> None:
    ticket = _die_then_restart(support, mailers, sink, after_handover=False)
    [mail] = sink.wait_for(1)
    assert ticket.number in mail["Subject"]
    support.tick()
    assert len(sink.messages()) == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_sender_that_dies_after_the_relay_took_the_mail_resends_it_with_the_same_message_id(
        support: Any, api: Any, mailers: dict[str, Any], sink: SmtpSink) -> None:
    ticket = _die_then_restart(support, mailers, sink, after_handover=True)
    first, second = sink.wait_for(2)
    assert first["Message-ID"] == second["Message-ID"] == rows(support, ticket)[0]["message_id"]
    assert first["Subject"] == second["Subject"] and ticket.number in first["Subject"]
