"""The mail support sends (CSAT surveys, SLA warnings, escalations) through its mail outbox and
the mail worker, with a fake Mailer at the port; and the "my escalations" list. Real schema,
milliseconds."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.support.v1 import support_pb2 as pb
from crm_support import jobs
from crm_support.usecases import csat, notices, settings, tickets
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.mail import MailRejected, MailUnavailable, make_message_id

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
AGENT = Principal("agent.1", ("support",), "support", "", "客服小王")
MANAGER = Principal("manager.support", ("manager",), "support", "", "主管")
SUPERVISOR = Principal("lead.support", ("rep",), "support", "", "组长")  # not an agent: reads what reaches them
SENDER = notices.Sender("舒纽客服 <support@shuniu.example>", "https://crm.shuniu.example")
POLICIES = [pb.SlaPolicy(id="urgent", priority="urgent", first_response_minutes=120, resolution_minutes=480,
                         warn_before_minutes=30, supervisor_id="lead.support")]
STAFF = [pb.StaffMember(user_id="lead.support", name="Lead 组长", email="lead@shuniu.example", language="en")]


def open_ticket(store: Any, **fields: Any) -> pb.Ticket:
    ticket = pb.Ticket(**{"subject": "打印机无法连接", "requester_email": "zhang.wei@customer.example",
                          "requester_name": "张伟", **fields})
    return store.write(lambda uow: tickets.open_ticket(uow, principal=AGENT, now=NOW, ticket=ticket))


def move(store: Any, ticket: pb.Ticket, status: str, at: datetime = NOW) -> tuple[pb.Ticket, str]:
    return store.write(lambda uow: tickets.change_status(  # type: ignore[no-any-return]
        uow, principal=AGENT, now=at, key=ticket.id, status=status, reason="", resolution_note="fixed",
        expected_version=0))


def send(store: Any, mailer: Any, at: datetime = NOW) -> int:
    return jobs.send_mail(store.db, mailer, SENDER, at)


def mails(store: Any, ticket: pb.Ticket) -> list[dict[str, Any]]:
    return store.read(lambda s: notices.mails_of(s, ticket_id=ticket.id))  # type: ignore[no-any-return]


def configure(store: Any, **fields: Any) -> None:
    paths = list(fields)
    store.write(lambda uow: settings.update_settings(uow, principal=MANAGER, paths=paths,
                                                     patch=pb.SupportSettings(**fields), expected_version=0))


def test_solving_mails_the_survey_once_with_a_link_that_answers_it(store: Any, mailer: Any) -> None:
    ticket = open_ticket(store)
    _, token = move(store, ticket, "solved")
    assert send(store, mailer) == 1 and send(store, mailer) == 0
    [mail] = mailer.sent
    assert mail.to == "张伟 <zhang.wei@customer.example>" and mail.sender == SENDER.mail_from
    assert ticket.number in mail.subject and mail.subject.startswith(f"[{ticket.number}]")
    assert "请评价" in mail.subject and "张伟好" in mail.text  # the ticket is Chinese: so is the mail
    link = f"https://crm.shuniu.example/api/v1/public/csat/{token}"
    assert link in mail.text and link in mail.html
    assert mail.message_id == make_message_id("support", f"csat:{ticket.id}", domain="shuniu.example")
    assert mail.headers["Auto-Submitted"] == "auto-generated"
    # the token in the mail is the survey's
    answered = store.write(lambda uow: csat.answer(uow, principal=AGENT, now=NOW, token=link.rsplit("/", 1)[1],
                                                   rating=5, comment="快"))
    assert answered.ticket_number == ticket.number
    # reopened, solved again, closed: still the one survey, the one mail
    move(store, ticket, "open")
    move(store, ticket, "solved")
    move(store, ticket, "closed")
    send(store, mailer)
    assert len(mailer.sent) == 1
    [row] = mails(store, ticket)
    assert (row["status"], row["attempts"], row["message_id"]) == ("sent", 1, mail.message_id)


def test_an_english_ticket_gets_an_english_survey_and_no_address_no_mail(store: Any, mailer: Any) -> None:
    english = open_ticket(store, subject="Printer offline", requester_name="Amy")
    move(store, english, "solved")
    nobody = open_ticket(store, requester_email="", requester_name="")
    move(store, nobody, "solved")
    send(store, mailer)
    [mail] = mailer.sent
    assert mail.subject == f"[{english.number}] How did we do? Printer offline"
    assert mail.text.startswith("Hello Amy,") and mail.to == "Amy <zhang.wei@customer.example>"
    assert mails(store, nobody) == []


def test_without_smtp_nothing_is_sent_and_the_mail_is_skipped_not_kept(store: Any, mailer: Any) -> None:
    ticket = open_ticket(store)
    move(store, ticket, "solved")
    assert send(store, None) == 0
    [row] = mails(store, ticket)
    assert (row["status"], row["last_error"]) == ("skipped", jobs.MAIL_OFF)
    send(store, mailer, NOW + timedelta(days=1))  # mail switched on later: no day-old survey
    assert mailer.sent == []


def test_a_relay_that_is_down_is_retried_later_and_a_refusal_is_final(store: Any, mailer: Any) -> None:
    first, second = open_ticket(store), open_ticket(store, requester_email="nobody@customer.example")
    move(store, first, "solved")
    move(store, second, "solved")
    mailer.fail_with = MailUnavailable("smtp://relay:25 unreachable")
    assert send(store, mailer) == 0
    rows = [mails(store, t)[0] for t in (first, second)]
    assert [r["status"] for r in rows] == ["pending", "pending"]
    assert rows[1]["attempts"] == 0  # the run stopped at the first: the relay is down for all
    assert "unreachable" in rows[0]["last_error"]
    mailer.fail_with = None
    assert send(store, mailer) == 1  # the second, due now; the first waits out its backoff
    mailer.fail_with = MailRejected(True, 550, "no such user")
    assert send(store, mailer, NOW + timedelta(minutes=2)) == 0
    assert mails(store, first)[0]["status"] == "failed" and "550" in mails(store, first)[0]["last_error"]
    mailer.fail_with = None
    assert send(store, mailer, NOW + timedelta(hours=2)) == 0  # a permanent refusal is not retried


def test_a_sender_that_died_mid_send_is_replaced_after_the_lease_with_the_same_mail(store: Any, mailer: Any) -> None:
    ticket = open_ticket(store)
    move(store, ticket, "solved")
    # the first sender claims the mail and dies before it records the outcome
    with store.db.unit_of_work() as uow:
        [seq] = notices.due(uow.session, now=NOW)
        claimed = notices.claim(uow, seq=seq, now=NOW, sender=SENDER)
        uow.commit()
    assert claimed is not None and mails(store, ticket)[0]["status"] == "sending"
    assert send(store, mailer, NOW + timedelta(minutes=1)) == 0  # still within its lease
    assert send(store, mailer, NOW + notices.LEASE + timedelta(seconds=1)) == 1
    [again] = mailer.sent
    assert again == claimed  # same Message-ID, same content: a receiver can drop a duplicate
    [row] = mails(store, ticket)
    assert (row["status"], row["attempts"]) == ("sent", 2)


def test_sla_warning_and_escalation_reach_the_supervisor_by_mail_and_list(store: Any, mailer: Any) -> None:
    configure(store, sla_policies=POLICIES)
    configure(store, staff=STAFF)
    ticket = open_ticket(store, subject="生产系统宕机", priority="urgent")
    assert jobs.check_sla(store.db, NOW + timedelta(minutes=95)) == 1  # the warning
    assert jobs.check_sla(store.db, NOW + timedelta(minutes=125)) == 1  # the breach, escalated
    assert jobs.check_sla(store.db, NOW + timedelta(hours=9)) == 1  # resolution breached: no second escalation
    send(store, mailer, NOW + timedelta(hours=9))
    assert [m.to for m in mailer.sent] == ["Lead 组长 <lead@shuniu.example>"] * 2
    warning, escalated = mailer.sent
    assert warning.subject.startswith(f"[{ticket.number}] SLA warning: first response due 2026-03-02 11:00")
    assert escalated.subject == f"[{ticket.number}] Escalated to you: 生产系统宕机"
    assert f"https://crm.shuniu.example/api/v1/tickets/{ticket.number}" in escalated.text
    [mine], _ = store.read(lambda s: tickets.list_escalated_to_me(s, principal=SUPERVISOR, open_only=False,
                                                                   page_size=0, page_token=""))
    assert mine.id == ticket.id
    assert store.read(lambda s: tickets.get(s, principal=SUPERVISOR, key=ticket.number)).escalated


def test_a_supervisor_without_an_address_is_skipped_with_the_reason(store: Any, mailer: Any) -> None:
    configure(store, sla_policies=POLICIES)
    ticket = open_ticket(store, priority="urgent")
    jobs.check_sla(store.db, NOW + timedelta(minutes=95))
    send(store, mailer, NOW + timedelta(minutes=95))
    assert mailer.sent == []
    [row] = mails(store, ticket)
    assert row["status"] == "skipped" and "lead.support" in row["last_error"] and "settings.staff" in row["last_error"]


def test_my_escalations_open_first_then_resolved_paged(store: Any) -> None:
    configure(store, sla_policies=POLICIES)
    opened = [open_ticket(store, subject=f"故障 {i}", priority="urgent") for i in range(5)]
    open_ticket(store, subject="not escalated", priority="low")
    jobs.check_sla(store.db, NOW + timedelta(minutes=125))
    move(store, opened[1], "solved", NOW + timedelta(minutes=130))
    move(store, opened[3], "solved", NOW + timedelta(minutes=130))

    def page(token: str = "", open_only: bool = False) -> tuple[list[str], str]:
        items, following = store.read(lambda s: tickets.list_escalated_to_me(
            s, principal=SUPERVISOR, open_only=open_only, page_size=2, page_token=token))
        return [t.subject for t in items], following

    seen, token = [], ""
    while True:
        subjects, token = page(token)
        seen += subjects
        if not token:
            break
    assert seen == ["故障 4", "故障 2", "故障 0", "故障 3", "故障 1"]
    assert page(open_only=True)[0] == ["故障 4", "故障 2"]
    others, _ = store.read(lambda s: tickets.list_escalated_to_me(s, principal=AGENT, open_only=False,
                                                                   page_size=0, page_token=""))
    assert others == []


@pytest.mark.parametrize(("member", "field"), [
    (pb.StaffMember(user_id="", email="a@x.example"), "staff[1].user_id"),
    (pb.StaffMember(user_id="lead.support", email="b@x.example"), "staff[1].user_id"),
    (pb.StaffMember(user_id="x", email="not-an-address"), "staff[1].email"),
    (pb.StaffMember(user_id="x", email="X <x@x.example>"), "staff[1].email"),
    (pb.StaffMember(user_id="x", email="x@x.example", language="fr"), "staff[1].language"),
])
def test_the_staff_directory_is_checked(store: Any, member: pb.StaffMember, field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        configure(store, staff=[*STAFF, member])
    assert info.value.field == field


def test_mail_is_on_only_with_an_smtp_url_read_at_start() -> None:
    from crm_support import bootstrap
    from crmkit.config import ServiceSettings
    from crmkit.mail import SmtpMailer

    env = {"DATABASE_URL": "sqlite:///x.db", "NATS_URL": "nats://127.0.0.1:4222", "JWT_SECRET": "s" * 32}
    assert bootstrap.smtp_mailer(ServiceSettings.from_env("support", env)) is None
    on = bootstrap.smtp_mailer(ServiceSettings.from_env("support", {**env, "SMTP_URL": "smtp://127.0.0.1:1025"}))
    assert isinstance(on, SmtpMailer) and on.target.port == 1025
