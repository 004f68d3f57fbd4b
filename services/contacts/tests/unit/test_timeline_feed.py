"""Other services' events as lines on a customer's timeline: which events count, the kind and
the plain-words summary each gets, and ids that make a redelivered event the same entry."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.common.v1.envelope_pb2 import Actor
from crm.common.v1.types_pb2 import Money
from crm.sales.v1 import events_pb2 as sales_ev
from crm.sales.v1.sales_pb2 import Contract, Opportunity, Quote, Task
from crm_contacts.rules import timeline as timeline_feed
from crmkit.events import new_event, parse_envelope, unpack_payload

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def envelope(event_type: str, payload, aggregate_id: str = "agg-1"):  # noqa: ANN001, ANN201
    producer = event_type.split(".")[1]
    built = new_event(producer=producer, event_type=event_type, aggregate_type=event_type.split(".")[2],
                      aggregate_id=aggregate_id, aggregate_version=2, payload=payload,
                      actor=Actor(user_id="rep.north.1"), occurred_at=WHEN)
    env = parse_envelope(built.data)
    return env, unpack_payload(env)


QUOTE = Quote(id="q1", number="Q-2026-000001", contact_id="c1", account_id="a1")
OPPORTUNITY = Opportunity(id="o1", name="华为 2026 年度框架", contact_id="c1",
                          amount=Money(currency_code="CNY", amount="120000.00"), loss_reason="价格")


@pytest.mark.parametrize(("event_type", "payload", "kind", "summary"), [
    ("crm.sales.quote.sent", sales_ev.QuoteChanged(quote=QUOTE), "quote_sent",
     "报价 Q-2026-000001 已发送 / quote Q-2026-000001 sent"),
    ("crm.sales.quote.accepted", sales_ev.QuoteChanged(quote=QUOTE), "quote_accepted",
     "报价 Q-2026-000001 已被接受 / quote Q-2026-000001 accepted"),
    ("crm.sales.quote.declined", sales_ev.QuoteChanged(quote=QUOTE), "quote_declined",
     "报价 Q-2026-000001 被拒绝 / quote Q-2026-000001 declined"),
    ("crm.sales.opportunity.won", sales_ev.OpportunityClosed(opportunity=OPPORTUNITY), "opportunity_won",
     "商机「华为 2026 年度框架」赢单（CNY 120000.00） / opportunity 华为 2026 年度框架 won (CNY 120000.00)"),
    ("crm.sales.opportunity.lost", sales_ev.OpportunityClosed(opportunity=OPPORTUNITY), "opportunity_lost",
     "商机「华为 2026 年度框架」输单，原因：价格 / opportunity 华为 2026 年度框架 lost (价格)"),
    ("crm.sales.contract.created",
     sales_ev.ContractChanged(contract=Contract(id="k1", number="C-2026-000007", contact_id="c1")),
     "contract_created", "合同 C-2026-000007 已创建 / contract C-2026-000007 created"),
    ("crm.sales.contract.status_changed",
     sales_ev.ContractChanged(contract=Contract(id="k1", number="C-2026-000007", contact_id="c1", status="signed"),
                              previous_status="draft"),
     "contract_status_changed", "合同 C-2026-000007 状态变为 signed / contract C-2026-000007 is now signed"),
    ("crm.sales.task.completed", sales_ev.TaskChanged(task=Task(id="t1", title="致电客户", contact_id="c1")),
     "task_completed", "任务已完成：致电客户 / task done: 致电客户"),
])
def test_sales_events_become_entries_in_plain_words(event_type: str, payload, kind: str, summary: str) -> None:  # noqa: ANN001
    env, unpacked = envelope(event_type, payload)
    entry = timeline_feed.timeline_entry(env, unpacked)
    assert entry is not None
    assert (entry.kind, entry.summary, entry.contact_id) == (kind, summary, "c1")
    assert entry.source_service == "sales" and entry.author_id == "rep.north.1"
    assert entry.occurred_at.ToDatetime(tzinfo=UTC) == WHEN
    subject = next(iter(unpacked.ListFields()))[1]
    assert entry.reference_id == subject.id


def test_a_converted_lead_goes_on_the_contact_named_by_the_event() -> None:
    env, payload = envelope("crm.sales.lead.converted", sales_ev.LeadConverted(
        opportunity=Opportunity(id="o9", name="顺纽 CRM 一期"), contact_id="c7", account_id="a7"))
    entry = timeline_feed.timeline_entry(env, payload)
    assert entry is not None and entry.contact_id == "c7" and entry.kind == "lead_converted"
    assert entry.summary == "线索已转化为商机「顺纽 CRM 一期」 / lead converted into opportunity 顺纽 CRM 一期"
    assert entry.reference_id == "o9"


def test_support_tickets_and_csat_answers_become_entries() -> None:
    support_ev = pytest.importorskip("crm.support.v1.events_pb2")
    support_pb = pytest.importorskip("crm.support.v1.support_pb2")
    ticket = support_pb.Ticket(id="t1", number="T-000123", subject="无法登录", contact_id="c1")
    env, payload = envelope("crm.support.ticket.created", support_ev.TicketCreated(ticket=ticket))
    entry = timeline_feed.timeline_entry(env, payload)
    assert entry is not None and entry.kind == "ticket_opened" and entry.source_service == "support"
    assert entry.summary == "工单 T-000123 已创建：无法登录 / ticket T-000123 opened: 无法登录"
    env, payload = envelope("crm.support.ticket.solved", support_ev.TicketSolved(ticket=ticket))
    assert timeline_feed.timeline_entry(env, payload).summary == "工单 T-000123 已解决 / ticket T-000123 solved"
    env, payload = envelope("crm.support.csat.answered", support_ev.CsatAnswered(
        ticket_id="t1", ticket_number="T-000123", contact_id="c1", rating=5, comment="很快"))
    entry = timeline_feed.timeline_entry(env, payload)
    assert entry is not None and entry.kind == "csat_answered" and entry.reference_id == "t1"
    assert entry.summary == "满意度评分 5（工单 T-000123）：很快 / satisfaction rating 5 for ticket T-000123"


def test_events_without_a_contact_or_not_for_the_timeline_give_no_entry() -> None:
    env, payload = envelope("crm.sales.quote.sent", sales_ev.QuoteChanged(quote=Quote(number="Q-1", account_id="a1")))
    assert timeline_feed.timeline_entry(env, payload) is None
    env, payload = envelope("crm.sales.quote.approved", sales_ev.QuoteChanged(quote=QUOTE))
    assert not timeline_feed.wanted(env.event_type)
    assert timeline_feed.timeline_entry(env, payload) is None


def test_the_entry_id_derives_from_the_event_so_a_redelivery_is_the_same_entry() -> None:
    env, payload = envelope("crm.sales.quote.sent", sales_ev.QuoteChanged(quote=QUOTE))
    first, again = timeline_feed.timeline_entry(env, payload), timeline_feed.timeline_entry(env, payload)
    assert first is not None and again is not None and first.id == again.id
    other, other_payload = envelope("crm.sales.quote.sent", sales_ev.QuoteChanged(quote=QUOTE))
    assert timeline_feed.timeline_entry(other, other_payload).id != first.id
    assert timeline_feed.entry_id(env.event_id, "c1") != timeline_feed.entry_id(env.event_id, "c2")


def test_an_ownership_transfer_reads_as_a_change_of_owner() -> None:
    env, _ = envelope("crm.sales.ownership.transferred", sales_ev.OwnershipTransferred(
        transfer_id="tr1", from_user_id="rep.north.1", to_user_id="rep.north.2", contact_ids=["c1"]))
    entry = timeline_feed.owner_changed_entry(env, "c1", "rep.north.1", "rep.north.2")
    assert entry.kind == "owner_changed" and entry.contact_id == "c1"
    assert entry.summary == "负责人由 rep.north.1 转给 rep.north.2 / owner changed from rep.north.1 to rep.north.2"
