"""Ticket, CSAT, settings and knowledge-base use cases against the real schema, in milliseconds:
each write runs in one unit of work the test owns, as the servicer's transaction owner would."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.support.v1 import support_pb2 as pb
from crm_support.usecases import csat, kb, settings, tickets
from crmkit.auth import Principal
from crmkit.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.fields import patchable

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
AGENT = Principal("agent.1", ("support",), "support", "", "客服小王")
MANAGER = Principal("manager.support", ("manager",), "support", "", "主管")
REP = Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")


def open_ticket(store: Any, by: Principal = AGENT, at: datetime = NOW, **fields: Any) -> pb.Ticket:
    ticket = pb.Ticket(**{"subject": "打印机无法连接", **fields})
    return store.write(lambda uow: tickets.open_ticket(uow, principal=by, now=at, ticket=ticket))


def test_the_patchable_fields_are_what_update_ticket_accepted_before() -> None:
    # The gateway's PATCH schema is derived from the same declaration: the sets must not drift.
    assert tickets.UPDATABLE == patchable(pb.Ticket) == {
        "subject", "description", "type", "priority", "assignee_id", "group", "tags",
        "notice_channel", "notice_phone"}  # how the customer hears of updates (SMS, issue 15)
    assert set(kb.UPDATABLE) == {"title", "body", "category_id", "status", "language", "tags"}
    assert set(settings.UPDATABLE) == {"business_hours", "sla_policies", "routing_rules", "macros",
                                       "auto_close_days", "default_supervisor_id", "staff"}


def test_open_ticket_numbers_routes_and_starts_the_clocks(store: Any) -> None:
    store.write(lambda uow: settings.update_settings(uow, principal=MANAGER, expected_version=0, paths=["routing_rules"],
                patch=pb.SupportSettings(routing_rules=[pb.RoutingRule(
                    id="billing", keywords=["发票"], group="billing", agents=["agent.1", "agent.2"])])))
    first = open_ticket(store, subject="发票开错了", priority="urgent")
    second = open_ticket(store, subject="电子发票没有收到")
    plain = open_ticket(store, by=REP)
    assert (first.number, second.number, plain.number) == ("T-000001", "T-000002", "T-000003")
    assert (first.group, first.assignee_id, second.assignee_id, plain.assignee_id) == (
        "billing", "agent.1", "agent.2", "")
    assert (first.status, first.language, first.version, first.created_by) == ("new", "zh", 1, "agent.1")
    due = {c.metric: c.due_at.ToDatetime(tzinfo=UTC) for c in first.sla}
    assert due == {"first_response": NOW + timedelta(hours=2), "resolution": NOW + timedelta(hours=8)}
    assert store.events().count("crm.support.ticket.created") == 3
    assert store.events().count("crm.support.ticket.assigned") == 2
    with pytest.raises(PermissionDenied):
        open_ticket(store, by=REP, assignee_id="agent.1")  # only agents assign


def test_update_ticket_takes_only_patchable_fields_and_checks_the_version(store: Any) -> None:
    ticket = open_ticket(store)

    def update(paths: list[str], expected: int = 0, **fields: Any) -> pb.Ticket:
        patch = pb.Ticket(id=ticket.id, **fields)
        return store.write(lambda uow: tickets.update_ticket(uow, principal=AGENT, now=NOW, patch=patch, paths=paths,
                                                             expected_version=expected))

    with pytest.raises(InvalidArgument) as refused:
        update(["status"], status="solved")
    assert refused.value.field == "status"
    changed = update(["priority", "tags"], expected=1, priority="urgent", tags=["vip", "printer", "vip"])
    assert (changed.priority, list(changed.tags), changed.version, changed.sla_policy_id) == (
        "urgent", ["printer", "vip"], 2, "urgent")
    with pytest.raises(Conflict):
        update(["subject"], expected=1, subject="stale")


def test_status_flow_solve_makes_one_survey_and_reopen_counts(store: Any) -> None:
    ticket = open_ticket(store)

    def move(status: str, note: str = "") -> tuple[pb.Ticket, str]:
        return store.write(lambda uow: tickets.change_status(
            uow, principal=AGENT, now=NOW, key=ticket.number, status=status, reason="", resolution_note=note,
            expected_version=0))

    with pytest.raises(InvalidArgument):
        move("solved")  # without a resolution note
    solved, token = move("solved", "重装驱动")
    assert solved.status == "solved" and token
    reopened, _ = move("open")
    assert reopened.reopen_count == 1 and not reopened.HasField("solved_at")
    _, again = move("solved")  # the note is kept; the first survey too
    assert again == ""
    closed, _ = move("closed")
    with pytest.raises(FailedPrecondition):
        move("open")  # closed is final
    assert [(h.from_status, h.to_status) for h in closed.history] == [
        ("", "new"), ("new", "solved"), ("solved", "open"), ("open", "solved"), ("solved", "closed")]
    assert store.events().count("crm.support.csat.requested") == 1


def test_comments_reply_note_and_customer_answer(store: Any) -> None:
    ticket = open_ticket(store)

    def comment(body: str, *, public: bool = False, status: str = "", kind: str = "agent") -> pb.Comment:
        return store.write(lambda uow: tickets.add_comment(
            uow, principal=AGENT, now=NOW + timedelta(minutes=30), key=ticket.id,
            comment=pb.Comment(body=body, public=public), set_status=status, author_kind=kind))

    reply, made = comment("请重启打印机", public=True, status="pending")
    assert reply.status == "pending" and reply.HasField("first_responded_at") and made.message_id
    first = next(c for c in reply.sla if c.metric == "first_response")
    assert first.HasField("met_at") and not first.running
    _, note = comment("驱动版本旧")
    assert not note.public and not note.message_id
    answered, said = comment("还是不行", kind="customer")
    assert answered.status == "open" and said.public  # the customer answered: the clocks run again
    listed = store.read(lambda s: tickets.list_comments(s, principal=AGENT, key=ticket.id, public_only=True))
    assert [c.body for c in listed] == ["请重启打印机", "还是不行"]
    with pytest.raises(NotFound):  # the public principal sees no ticket
        store.read(lambda s: tickets.get(s, principal=PUBLIC, key=ticket.id))


def test_macro_renders_sets_status_and_tags(store: Any) -> None:
    store.write(lambda uow: settings.update_settings(uow, principal=MANAGER, expected_version=0, paths=["macros"],
                patch=pb.SupportSettings(macros=[pb.Macro(id="ask", body="您好 {{requester_name}}，工单 {{number}}",
                                                          public=True, set_status="pending", add_tags=["billing"])])))
    ticket = open_ticket(store, requester_name="赵敏")
    applied, comment = store.write(lambda uow: tickets.apply_macro(uow, principal=AGENT, now=NOW, key=ticket.id,
                                                                   macro_id="ask"))
    assert comment.body == f"您好 赵敏，工单 {ticket.number}"
    assert applied.status == "pending" and list(applied.tags) == ["billing"]


def test_csat_is_answered_once_with_its_token(store: Any) -> None:
    ticket = open_ticket(store)
    _, token = store.write(lambda uow: tickets.change_status(
        uow, principal=AGENT, now=NOW, key=ticket.id, status="solved", reason="", resolution_note="ok",
        expected_version=0))

    def answer(value: str, rating: int) -> pb.AnswerCsatResponse:
        return store.write(lambda uow: csat.answer(uow, principal=PUBLIC, now=NOW, token=value, rating=rating,
                                                   comment="快"))

    assert answer(token, 5) == pb.AnswerCsatResponse(ticket_number=ticket.number, rating=5)
    with pytest.raises(AlreadyExists):
        answer(token, 1)
    with pytest.raises(NotFound):
        answer("guess", 5)
    with pytest.raises(InvalidArgument):
        answer(token, 6)
    assert store.events().count("crm.support.csat.answered") == 1


def test_settings_are_for_managers_and_versioned(store: Any) -> None:
    def save(by: Principal, expected: int, days: int) -> pb.SupportSettings:
        return store.write(lambda uow: settings.update_settings(
            uow, principal=by, patch=pb.SupportSettings(auto_close_days=days), paths=["auto_close_days"],
            expected_version=expected))

    with pytest.raises(PermissionDenied):
        save(AGENT, 0, 7)
    assert save(MANAGER, 0, 6).version == 1
    assert save(MANAGER, 1, 7).version == 2
    with pytest.raises(Conflict):
        save(MANAGER, 1, 8)  # If-Match of a version already replaced
    assert store.read(lambda s: settings.get_settings(s, principal=AGENT)).auto_close_days == 7
    with pytest.raises(InvalidArgument):
        store.write(lambda uow: settings.update_settings(
            uow, principal=MANAGER, patch=pb.SupportSettings(version=9), paths=["version"], expected_version=0))


def test_kb_article_drafted_published_and_rated(store: Any) -> None:
    category = store.write(lambda uow: kb.create_category(uow, principal=AGENT,
                                                          category=pb.KbCategory(name=" 打印与扫描 ")))
    article = store.write(lambda uow: kb.create_article(uow, principal=AGENT, now=NOW, article=pb.KbArticle(
        id="mine", title="打印机卡纸处理", body="打开后盖取出纸张。", category_id=category.id)))
    assert (article.status, article.language, article.version, article.author_id) == ("draft", "zh", 1, "agent.1")
    assert article.id != "mine" and category.name == "打印与扫描"
    with pytest.raises(NotFound):  # drafts are not public
        store.read(lambda s: kb.get_article(s, principal=PUBLIC, article_id=article.id))
    published = store.write(lambda uow: kb.update_article(
        uow, principal=AGENT, now=NOW, patch=pb.KbArticle(id=article.id, status="published"), paths=["status"],
        expected_version=1))
    assert published.version == 2 and published.HasField("published_at")
    rated = store.write(lambda uow: kb.rate(uow, principal=PUBLIC, now=NOW, article_id=article.id, helpful=False,
                                            comment="没用"))
    assert (rated.not_helpful_count, rated.version) == (1, 2)  # counters are not content
    with pytest.raises(InvalidArgument):
        store.write(lambda uow: kb.update_article(uow, principal=AGENT, now=NOW, paths=["helpful_count"],
                                                  patch=pb.KbArticle(id=article.id), expected_version=0))
    assert store.events() == ["crm.support.kb_article.created", "crm.support.kb_article.updated",
                              "crm.support.kb_article.published", "crm.support.kb_article.rated"]


def test_a_kb_article_with_a_blank_tag_is_refused_naming_it(store: Any) -> None:
    with pytest.raises(InvalidArgument) as refused:  # it was saved with the blank tag
        store.write(lambda uow: kb.create_article(uow, principal=AGENT, now=NOW, article=pb.KbArticle(
            title="打印机卡纸处理", body="打开后盖取出纸张。", tags=["打印机", ""])))
    assert refused.value.field == "tags[1]"
