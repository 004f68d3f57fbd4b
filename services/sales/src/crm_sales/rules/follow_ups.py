"""Tasks and the follow-up rules that create them: what a task must carry, which rules are valid,
and the rules every installation starts with."""
from __future__ import annotations

from collections.abc import Sequence

from crm.sales.v1.sales_pb2 import FollowUpRule, Task
from crmkit import limits
from crmkit.errors import InvalidArgument

TASK_KINDS = ("call", "email", "meeting", "follow_up", "response", "other")
RELATED = ("", "lead", "opportunity", "quote", "contract")
TRIGGERS = ("stage_duration", "quote_sent")

DEFAULT_FOLLOW_UPS: tuple[FollowUpRule, ...] = (
    FollowUpRule(id="stalled_needs", trigger="stage_duration", stage="needs_confirmed", days=5,
                 task_title="需求确认已超过5天，请跟进 / in needs confirmed for more than 5 days: follow up",
                 task_kind="follow_up"),
    FollowUpRule(id="call_after_quote", trigger="quote_sent", days=3,
                 task_title="报价已发送3天，请致电客户 / quote sent 3 days ago: call the customer",
                 task_kind="call"),
)


def validate_follow_ups(rules: Sequence[FollowUpRule]) -> None:
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = f"follow_up_rules[{i}]"
        if not rule.id or rule.id in seen:
            raise InvalidArgument("each rule needs a unique id", field=f"{where}.id")
        seen.add(rule.id)
        if rule.trigger not in TRIGGERS:
            raise InvalidArgument(f"must be one of {', '.join(TRIGGERS)}", field=f"{where}.trigger")
        if rule.trigger == "stage_duration" and not rule.stage:
            raise InvalidArgument("name the stage", field=f"{where}.stage")
        if rule.days <= 0:
            raise InvalidArgument("days must be positive", field=f"{where}.days")
        if not rule.task_title.strip():
            raise InvalidArgument("a follow-up needs a task title", field=f"{where}.task_title")
        if rule.task_kind and rule.task_kind not in TASK_KINDS:
            raise InvalidArgument(f"must be one of {', '.join(TASK_KINDS)}", field=f"{where}.task_kind")


def check_task(task: Task) -> None:
    limits.check_texts(task, {"description": limits.MAX_NOTES})
    task.title = task.title.strip()
    if not task.title:
        raise InvalidArgument("a task needs a title", field="title")
    if task.kind and task.kind not in TASK_KINDS:
        raise InvalidArgument(f"must be one of {', '.join(TASK_KINDS)}", field="kind")
    if task.related_type not in RELATED:
        raise InvalidArgument(f"must be one of {', '.join(r for r in RELATED if r)}", field="related_type")
    if task.related_type and not task.related_id:
        raise InvalidArgument("related_id is required with related_type", field="related_id")
