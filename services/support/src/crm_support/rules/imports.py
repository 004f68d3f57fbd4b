"""Ticket imports, the pure part: one row → a ticket plus every problem the row has (each field on
its own). A `number` column (this CRM's export writes one) names a ticket that exists already. An unknown type, priority or channel is mapped (`ColumnMapping.values`), kept as the tag
"<field>:<value>" (keep_unknown_values), or the row is refused naming the value. No I/O, no clock."""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from crm.common.v1.imports_pb2 import ColumnMapping
from crm.support.v1.support_pb2 import Ticket
from crm_support.rules import tickets as rules
from crmkit.errors import InvalidArgument
from crmkit.imports.jobs import EntityRules
from crmkit.imports.mapping import Cells, Problem, picklist_value

TARGETS = ("subject", "description", "type", "priority", "channel", "requester_email", "requester_name", "tags",
           "language", "group", "external_ref", "number")
PICKLISTS = {"type": rules.TYPES, "priority": rules.PRIORITIES, "channel": rules.CHANNELS}
ENTITIES = {"ticket": EntityRules("tickets", TARGETS, ("support", "manager"), PICKLISTS)}
_TEXT_MAX = {"subject": rules.MAX_SUBJECT, "description": rules.MAX_BODY, "requester_name": 300,
             "group": 100, "external_ref": 200}
# the values as a Chinese (or English) helpdesk's export writes them → the keys
_LABELS = {
    "type": {"咨询": "question", "提问": "question", "故障": "incident", "事件": "incident", "问题": "problem",
             "任务": "task"},
    "priority": {"低": "low", "普通": "normal", "一般": "normal", "中": "normal", "medium": "normal", "高": "high",
                 "紧急": "urgent"},
    "channel": {"网页": "web", "网站": "web", "邮件": "email", "电子邮件": "email", "e-mail": "email",
                "在线聊天": "chat", "在线客服": "chat", "聊天": "chat", "电话": "phone", "社交媒体": "social",
                "微信": "wechat", "企业微信": "wecom"},
}


def _labelled(name: str, text: str) -> str:
    return _LABELS[name].get(text.strip().casefold(), "")


_LANGUAGES = {"中文": "zh", "汉语": "zh", "英文": "en", "英语": "en", "chinese": "zh", "english": "en"}
_SPLIT = str.maketrans({";": ",", "|": ",", "，": ",", "、": ","})
_NUMBER = re.compile(r"^T-\d{6,}$")  # rules.format_number's


def build_ticket(header: Sequence[str], targets: Sequence[str], values: Sequence[str],
                 mapping: ColumnMapping) -> tuple[Ticket, Cells]:
    ticket, cells = Ticket(), Cells()
    for i, target in enumerate(targets):
        raw = values[i].strip() if i < len(values) else ""
        if not target or not raw:
            continue
        column = header[i]
        if target in PICKLISTS:
            value = picklist_value(target, raw, PICKLISTS[target], mapping, cells, column,
                                   named=functools.partial(_labelled, target))
            if value is not None:
                setattr(ticket, target, value)
        elif target == "tags":
            ticket.tags.extend(p.strip() for p in raw.translate(_SPLIT).split(",") if p.strip())
        elif target == "language":
            language = _LANGUAGES.get(raw.casefold(), raw.casefold().split("-")[0])  # "zh-CN", "中文"
            if language not in ("zh", "en"):
                cells.problems.append(Problem("language", column, "must be zh or en", raw))
            else:
                ticket.language = language
        elif target == "number":  # this CRM's own ticket (its export's column): matched, never opened again
            number = raw.upper()
            if not _NUMBER.match(number):
                cells.problems.append(Problem("number", column, "not a ticket number of this CRM (T-000123)", raw))
            ticket.number = number
        elif target == "requester_email":
            if "@" not in raw or len(raw) > 320:
                cells.problems.append(Problem("requester_email", column, "not an email address", raw))
            ticket.requester_email = raw.lower()
        else:
            if len(raw) > _TEXT_MAX[target]:
                cells.problems.append(Problem(target, column, f"at most {_TEXT_MAX[target]} characters", raw))
            setattr(ticket, target, raw)
    ticket.tags.extend(cells.kept_tags)
    if not ticket.subject:
        cells.problems.append(Problem("subject", "", "a ticket needs a subject"))
    try:
        rules.check_tags(ticket.tags)
    except InvalidArgument as exc:
        cells.problems.append(Problem(exc.field or "tags", "", exc.message))
    return ticket, cells
