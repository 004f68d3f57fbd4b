"""The mail support sends on its own, pure: the CSAT survey to the requester, SLA warnings and
escalations to the supervisor, in Chinese (zh-CN, the default) or English. Each has the ticket
number in its subject ("[T-000123]", which threads a reply back into the ticket) and a link to
the public gateway (PUBLIC_BASE_URL)."""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from crm.support.v1.support_pb2 import StaffMember, SupportSettings, Ticket

CSAT_SURVEY, SLA_WARNING, ESCALATION = "csat_survey", "sla_warning", "escalation"
PURPOSES = (CSAT_SURVEY, SLA_WARNING, ESCALATION)
LANGUAGES = ("zh-CN", "en")
_METRICS = {"first_response": ("首次响应", "first response"), "resolution": ("解决", "resolution")}


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str
    html: str


def mail_language(language: str) -> str:
    """zh-CN unless the person is known to read English (a ticket's "en", a staff "en-US" ...)."""
    return "en" if language.lower().startswith("en") else "zh-CN"


def staff_member(cfg: SupportSettings, user_id: str) -> StaffMember | None:
    return next((m for m in cfg.staff if m.user_id == user_id), None)


def survey_link(base_url: str, token: str) -> str:
    return f"{base_url}/api/v1/public/csat/{token}"


def ticket_link(base_url: str, ticket: Ticket) -> str:
    return f"{base_url}/api/v1/tickets/{ticket.number}"


def _page(paragraphs: list[str], link: str, label: str) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f'<!doctype html><html><body>{body}<p><a href="{html.escape(link, quote=True)}">'
            f"{html.escape(label)}</a></p></body></html>")


def csat_survey(ticket: Ticket, *, link: str, language: str) -> Notice:
    name = ticket.requester_name.strip()
    if mail_language(language) == "en":
        lines = [f"Hello{' ' + name if name else ''},",
                 f"your request {ticket.number} \u201c{ticket.subject}\u201d has been solved.",
                 "How did we do? Rating it takes one click and helps us improve."]
        return Notice(f"[{ticket.number}] How did we do? {ticket.subject}",
                      "\n".join([*lines, "", f"Rate it: {link}", ""]), _page(lines, link, "Rate our support"))
    lines = [f"{name or '您'}好：", f"您的工单 {ticket.number}「{ticket.subject}」已解决。",
             "请花一分钟评价我们的服务，您的反馈帮助我们改进。"]
    return Notice(f"[{ticket.number}] 请评价本次服务：{ticket.subject}",
                  "\n".join([*lines, "", f"立即评价：{link}", ""]), _page(lines, link, "立即评价"))


def _when(value: datetime, tz: str) -> str:
    try:
        zone = ZoneInfo(tz or "Asia/Shanghai")
    except (KeyError, ValueError):
        zone = ZoneInfo("Asia/Shanghai")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def sla_warning(ticket: Ticket, *, metric: str, due_at: datetime, timezone: str, link: str,
                language: str) -> Notice:
    zh, en = _METRICS.get(metric, (metric, metric))
    due = _when(due_at, timezone)
    if mail_language(language) == "en":
        lines = [f"Ticket {ticket.number} \u201c{ticket.subject}\u201d ({ticket.priority}) will miss its {en} "
                 f"target at {due}.", f"Assignee: {ticket.assignee_id or 'nobody'}."]
        return Notice(f"[{ticket.number}] SLA warning: {en} due {due}",
                      "\n".join([*lines, "", link, ""]), _page(lines, link, "Open the ticket"))
    lines = [f"工单 {ticket.number}「{ticket.subject}」（优先级 {ticket.priority}）的{zh}时限将于 {due} 到期。",
             f"处理人：{ticket.assignee_id or '未分配'}。"]
    return Notice(f"[{ticket.number}] SLA 预警：{zh}将于 {due} 到期",
                  "\n".join([*lines, "", link, ""]), _page(lines, link, "查看工单"))


def escalation(ticket: Ticket, *, metric: str, link: str, language: str) -> Notice:
    zh, en = _METRICS.get(metric, (metric, metric))
    if mail_language(language) == "en":
        lines = [f"Ticket {ticket.number} \u201c{ticket.subject}\u201d ({ticket.priority}) breached its {en} "
                 "target and is escalated to you.", f"Assignee: {ticket.assignee_id or 'nobody'}."]
        return Notice(f"[{ticket.number}] Escalated to you: {ticket.subject}",
                      "\n".join([*lines, "", link, ""]), _page(lines, link, "Open the ticket"))
    lines = [f"工单 {ticket.number}「{ticket.subject}」（优先级 {ticket.priority}）已超出{zh}时限，已升级给您。",
             f"处理人：{ticket.assignee_id or '未分配'}。"]
    return Notice(f"[{ticket.number}] 工单已升级给您：{ticket.subject}",
                  "\n".join([*lines, "", link, ""]), _page(lines, link, "查看工单"))
