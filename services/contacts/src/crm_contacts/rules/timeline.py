"""What other services' events put on a customer's timeline: which events count, the entry's
kind, and its summary in plain words (Chinese / English). Pure: the payload comes in already
unpacked, and the entry id derives from the event id, so a redelivered event maps to the same
entry. Fields are read by name, so a producer adding fields changes nothing here."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1.contacts_pb2 import TimelineEntry
from crm_contacts.events import SALES, SUPPORT

# Fixed forever: changing it would give a redelivered event a new entry id.
ENTRY_NAMESPACE = uuid.UUID("5f0c2a4e-8a57-4a3b-9c55-6b1d2f3e7a10")
MAX_SUMMARY = 500


def field(message: Any, name: str) -> Any:
    """A field of a message, or "" when the message (or its schema) has no such field."""
    if message is None:
        return ""
    try:
        return getattr(message, name)
    except AttributeError:
        return ""


def text(message: Any, name: str) -> str:
    value = field(message, name)
    return value if isinstance(value, str) else str(value or "")


def _money(message: Any) -> str:
    amount, currency = text(message, "amount"), text(message, "currency_code")
    return f"{currency} {amount}".strip() if amount else ""


def _quote(zh: str, en: str) -> Callable[[Any, Any], str]:
    return lambda _p, q: f"报价 {text(q, 'number')} {zh} / quote {text(q, 'number')} {en}"


# Channels named on the timeline, so a customer's WeChat and email conversations read apart.
_CHANNELS = {"wechat": ("微信", "WeChat"), "wecom": ("企业微信", "WeCom")}


def _ticket(zh: str, en: str, *, with_subject: bool = False) -> Callable[[Any, Any], str]:
    def summary(_p: Any, t: Any) -> str:
        number, subject = text(t, "number"), text(t, "subject")
        via_zh, via_en = _CHANNELS.get(text(t, "channel"), ("", ""))
        zh_done = f"{zh}（{via_zh}）" if via_zh else zh
        en_done = f"{en} via {via_en}" if via_en else en
        if with_subject and subject:
            return f"工单 {number} {zh_done}：{subject} / ticket {number} {en_done}: {subject}"
        return f"工单 {number} {zh_done} / ticket {number} {en_done}"
    return summary


def _won(_p: Any, o: Any) -> str:
    amount = _money(field(o, "amount"))
    extra = f"（{amount}）" if amount else ""
    return f"商机「{text(o, 'name')}」赢单{extra} / opportunity {text(o, 'name')} won" + (f" ({amount})" if amount else "")


def _lost(_p: Any, o: Any) -> str:
    reason = text(o, "loss_reason")
    zh = f"，原因：{reason}" if reason else ""
    en = f" ({reason})" if reason else ""
    return f"商机「{text(o, 'name')}」输单{zh} / opportunity {text(o, 'name')} lost{en}"


def _contract_status(_p: Any, c: Any) -> str:
    number, status = text(c, "number"), text(c, "status")
    return f"合同 {number} 状态变为 {status} / contract {number} is now {status}"


def _csat(p: Any, _s: Any) -> str:
    rating, number = text(p, "rating"), text(p, "ticket_number")
    comment = text(p, "comment")
    tail = f"：{comment}" if comment else ""
    return f"满意度评分 {rating}（工单 {number}）{tail} / satisfaction rating {rating} for ticket {number}"


@dataclass(frozen=True)
class Rule:
    kind: str
    subject: str  # the payload field holding the business object; "" = the payload itself
    summary: Callable[[Any, Any], str]  # (payload, subject) -> summary


RULES: dict[str, Rule] = {
    SALES.QUOTE_SENT: Rule("quote_sent", "quote", _quote("已发送", "sent")),
    SALES.QUOTE_ACCEPTED: Rule("quote_accepted", "quote", _quote("已被接受", "accepted")),
    SALES.QUOTE_DECLINED: Rule("quote_declined", "quote", _quote("被拒绝", "declined")),
    SALES.OPPORTUNITY_CREATED: Rule(
        "opportunity_created", "opportunity",
        lambda _p, o: f"新商机「{text(o, 'name')}」 / new opportunity {text(o, 'name')}"),
    SALES.OPPORTUNITY_WON: Rule("opportunity_won", "opportunity", _won),
    SALES.OPPORTUNITY_LOST: Rule("opportunity_lost", "opportunity", _lost),
    SALES.LEAD_CONVERTED: Rule(
        "lead_converted", "opportunity",
        lambda _p, o: f"线索已转化为商机「{text(o, 'name')}」 / lead converted into opportunity {text(o, 'name')}"),
    SALES.CONTRACT_CREATED: Rule(
        "contract_created", "contract",
        lambda _p, c: f"合同 {text(c, 'number')} 已创建 / contract {text(c, 'number')} created"),
    SALES.CONTRACT_STATUS_CHANGED: Rule("contract_status_changed", "contract", _contract_status),
    SALES.TASK_COMPLETED: Rule(
        "task_completed", "task",
        lambda _p, t: f"任务已完成：{text(t, 'title')} / task done: {text(t, 'title')}"),
    SUPPORT.TICKET_CREATED: Rule("ticket_opened", "ticket", _ticket("已创建", "opened", with_subject=True)),
    SUPPORT.TICKET_SOLVED: Rule("ticket_solved", "ticket", _ticket("已解决", "solved")),
    SUPPORT.TICKET_CLOSED: Rule("ticket_closed", "ticket", _ticket("已关闭", "closed")),
    SUPPORT.TICKET_REOPENED: Rule("ticket_reopened", "ticket", _ticket("已重新打开", "reopened")),
    SUPPORT.CSAT_ANSWERED: Rule("csat_answered", "", _csat),
}


def wanted(event_type: str) -> bool:
    return event_type in RULES


def entry_id(event_id: str, contact_id: str) -> str:
    return str(uuid.uuid5(ENTRY_NAMESPACE, f"{event_id}/{contact_id}"))


def timeline_entry(env: EventEnvelope, payload: Any) -> TimelineEntry | None:
    """The entry an event puts on its contact's timeline; None when the event concerns no
    contact (e.g. a quote for an account only) or is not one the timeline shows."""
    rule = RULES.get(env.event_type)
    if rule is None:
        return None
    subject = field(payload, rule.subject) if rule.subject else payload
    contact_id = text(payload, "contact_id") or text(subject, "contact_id")
    if not contact_id:
        return None
    entry = TimelineEntry(
        id=entry_id(env.event_id, contact_id),
        contact_id=contact_id,
        kind=rule.kind,
        author_id=env.actor.user_id,
        summary=rule.summary(payload, subject)[:MAX_SUMMARY],
        source_service=env.producer or env.event_type.split(".")[1],
        reference_id=text(subject, "id") or text(payload, "ticket_id") or env.aggregate_id,
    )
    entry.occurred_at.CopyFrom(env.occurred_at)
    return entry


def owner_changed_entry(env: EventEnvelope, contact_id: str, from_user: str, to_user: str) -> TimelineEntry:
    entry = TimelineEntry(
        id=entry_id(env.event_id, contact_id),
        contact_id=contact_id,
        kind="owner_changed",
        author_id=env.actor.user_id,
        summary=f"负责人由 {from_user} 转给 {to_user} / owner changed from {from_user} to {to_user}",
        source_service=env.producer or "sales",
        reference_id=env.aggregate_id,
    )
    entry.occurred_at.CopyFrom(env.occurred_at)
    return entry
