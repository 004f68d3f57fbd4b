"""Ticket imports, the pure part: one row → a ticket plus every problem the row has (each field on
its own). An unknown type, priority or channel is mapped (`ColumnMapping.values`), kept as the tag
"<field>:<value>" (keep_unknown_values), or the row is refused naming the value. No I/O, no clock."""
from __future__ import annotations

from collections.abc import Sequence

from crm.common.v1.imports_pb2 import ColumnMapping
from crm.support.v1.support_pb2 import Ticket
from crm_support.rules import tickets as rules
from crmkit.errors import InvalidArgument
from crmkit.imports.jobs import EntityRules
from crmkit.imports.mapping import Cells, Problem, picklist_value

TARGETS = ("subject", "description", "type", "priority", "channel", "requester_email", "requester_name", "tags",
           "language", "group", "external_ref")
PICKLISTS = {"type": rules.TYPES, "priority": rules.PRIORITIES, "channel": rules.CHANNELS}
ENTITIES = {"ticket": EntityRules("tickets", TARGETS, ("support", "manager"), PICKLISTS)}
_TEXT_MAX = {"subject": rules.MAX_SUBJECT, "description": rules.MAX_BODY, "requester_name": 300,
             "group": 100, "external_ref": 200}
_SPLIT = str.maketrans({";": ",", "|": ",", "，": ",", "、": ","})


def build_ticket(header: Sequence[str], targets: Sequence[str], values: Sequence[str],
                 mapping: ColumnMapping) -> tuple[Ticket, Cells]:
    ticket, cells = Ticket(), Cells()
    for i, target in enumerate(targets):
        raw = values[i].strip() if i < len(values) else ""
        if not target or not raw:
            continue
        column = header[i]
        if target in PICKLISTS:
            value = picklist_value(target, raw, PICKLISTS[target], mapping, cells, column)
            if value is not None:
                setattr(ticket, target, value)
        elif target == "tags":
            ticket.tags.extend(p.strip() for p in raw.translate(_SPLIT).split(",") if p.strip())
        elif target == "language":
            if raw.lower() not in ("zh", "en"):
                cells.problems.append(Problem("language", column, "must be zh or en", raw))
            else:
                ticket.language = raw.lower()
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
