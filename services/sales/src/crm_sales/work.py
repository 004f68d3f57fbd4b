"""Tasks, reminders and the automatic follow-ups the scheduler runs (stalled stage, call after a
quote, task reminders). A reminder to someone who is away also goes to their delegate."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import FollowUpRule, ListTasksRequest, Opportunity, Quote, Reminder, SalesSettings, Task
from crm_sales import jobs, store
from crm_sales.common import SYSTEM, bump, delegators, emit, new_id, stamp_new, visible
from crm_sales.tables import tasks
from crm_sales.visibility import check_assignable, visible_clause
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied

TASK_KINDS = ("call", "email", "meeting", "follow_up", "response", "other")
RELATED = ("", "lead", "opportunity", "quote", "contract")
TRIGGERS = ("stage_duration", "quote_sent")


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


def remind(uow: UnitOfWork, user_id: str, message: str, related_type: str, related_id: str, now: datetime,
           task_id: str = "") -> list[Reminder]:
    """A reminder that is due now, to the user and to whoever covers for them."""
    recipients = [user_id]
    delegate = store.active_delegate(uow.session, user_id, now) if user_id else ""
    if delegate:
        recipients.append(delegate)
    sent = []
    for recipient in recipients:
        if not recipient:
            continue
        reminder = Reminder(id=new_id(), user_id=recipient, task_id=task_id, message=message,
                            related_type=related_type, related_id=related_id)
        reminder.remind_at.FromDatetime(now)
        reminder.fired_at.FromDatetime(now)
        store.insert_reminder(uow.session, reminder)
        emit(uow, SYSTEM, "reminder", "due", reminder.id, 1, ev.ReminderDue(reminder=reminder), now)
        sent.append(reminder)
    return sent


def _check(task: Task) -> None:
    task.title = task.title.strip()
    if not task.title:
        raise InvalidArgument("a task needs a title", field="title")
    if task.kind and task.kind not in TASK_KINDS:
        raise InvalidArgument(f"must be one of {', '.join(TASK_KINDS)}", field="kind")
    if task.related_type not in RELATED:
        raise InvalidArgument(f"must be one of {', '.join(r for r in RELATED if r)}", field="related_type")
    if task.related_type and not task.related_id:
        raise InvalidArgument("related_id is required with related_type", field="related_id")


def _insert(uow: UnitOfWork, principal: Principal, task: Task, now: datetime) -> Task:
    stamp_new(task, now)
    task.status = "open"
    task.kind = task.kind or "follow_up"
    task.created_by = principal.user_id
    store.insert_record(uow.session, task)
    if task.HasField("remind_at"):
        jobs.schedule(uow.session, "task_reminder", f"task_reminder:{task.id}:{task.remind_at.ToJsonString()}",
                      store.dt(task.remind_at), task.id)
    emit(uow, principal, "task", "created", task.id, task.version, ev.TaskChanged(task=task), now)
    return task


def create_task(uow: UnitOfWork, principal: Principal, task: Task, now: datetime) -> Task:
    _check(task)
    task.owner_id = task.owner_id or principal.user_id
    check_assignable(principal, task.owner_id)
    rep = store.all_reps(uow.session).get(task.owner_id)
    task.team = rep.team if rep else principal.team
    task.region = rep.region if rep else principal.region
    for server_owned in ("rule_id", "completed_at", "created_at"):
        task.ClearField(server_owned)
    return _insert(uow, principal, task, now)


def auto_task(uow: UnitOfWork, *, owner_id: str, team: str, region: str, title: str, kind: str,
              related_type: str, related_id: str, rule_id: str, account_id: str, contact_id: str,
              now: datetime) -> Task:
    """A task created by a rule, with an immediate reminder to its owner."""
    task = Task(title=title, kind=kind or "follow_up", owner_id=owner_id, team=team, region=region,
                related_type=related_type, related_id=related_id, rule_id=rule_id, account_id=account_id,
                contact_id=contact_id)
    task.due_at.FromDatetime(now + timedelta(days=1))
    _insert(uow, SYSTEM, task, now)
    remind(uow, owner_id, title, related_type, related_id, now, task_id=task.id)
    return task


def complete_task(uow: UnitOfWork, principal: Principal, task_id: str, cancel: bool, now: datetime) -> Task:
    task = visible(uow.session, principal, Task, task_id, now, write=True)
    if task.status != "open":
        raise FailedPrecondition(f"the task is already {task.status}", field="id")
    task.status = "cancelled" if cancel else "done"
    task.completed_at.FromDatetime(now)
    bump(task, now)
    store.update_record(uow.session, task)
    jobs.cancel(uow.session, "task_reminder", task.id)
    emit(uow, principal, "task", task.status if cancel else "completed", task.id, task.version,
         ev.TaskChanged(task=task), now)
    return task


def list_tasks(session: Session, principal: Principal, r: ListTasksRequest, now: datetime) -> tuple[list[Task], str]:
    stmt = select(tasks.c.data).where(visible_clause(principal, tasks, delegators(session, principal, now)))
    if r.owner_id:
        stmt = stmt.where(tasks.c.owner_id == r.owner_id)
    if r.overdue_only:
        stmt = stmt.where(tasks.c.status == "open", tasks.c.due_at < now)
    elif r.status:
        stmt = stmt.where(tasks.c.status == r.status)
    if r.HasField("due_from"):
        stmt = stmt.where(tasks.c.due_at >= store.dt(r.due_from))
    if r.HasField("due_to"):
        stmt = stmt.where(tasks.c.due_at < store.dt(r.due_to))
    if r.related_id:
        stmt = stmt.where(tasks.c.related_id == r.related_id)
    return store.page(session, Task, stmt, r.page.page_size, r.page.page_token)


def list_reminders(session: Session, principal: Principal, user_id: str) -> list[Reminder]:
    user = user_id or principal.user_id
    if user != principal.user_id and not (principal.is_admin or principal.is_manager):
        raise PermissionDenied("you can only read your own reminders", field="user_id")
    return store.reminders_for(session, user)


# -- follow-up scheduling (called by the opportunity and quote use cases)

def schedule_stage_follow_ups(uow: UnitOfWork, opp: Opportunity, cfg: SalesSettings, now: datetime) -> None:
    visit = len(opp.stage_history)
    for rule in cfg.follow_up_rules:
        if rule.trigger == "stage_duration" and rule.stage == opp.stage:
            jobs.schedule(uow.session, "stage_stall", f"stage_stall:{opp.id}:{rule.id}:{visit}",
                          now + timedelta(days=rule.days), opp.id,
                          {"rule_id": rule.id, "stage": opp.stage, "visit": visit, "title": rule.task_title,
                           "kind": rule.task_kind})


def schedule_quote_follow_ups(uow: UnitOfWork, quote: Quote, cfg: SalesSettings, now: datetime) -> None:
    for rule in cfg.follow_up_rules:
        if rule.trigger == "quote_sent":
            jobs.schedule(uow.session, "quote_follow_up", f"quote_follow_up:{quote.id}:{rule.id}",
                          now + timedelta(days=rule.days), quote.id,
                          {"rule_id": rule.id, "title": rule.task_title, "kind": rule.task_kind})


def on_stage_stall(uow: UnitOfWork, job: jobs.Job, now: datetime) -> None:
    opp = store.load(uow.session, Opportunity, job.ref_id)
    if opp is None or opp.stage != job.payload["stage"] or len(opp.stage_history) != job.payload["visit"]:
        return  # moved on (or came back later: that visit has its own job)
    auto_task(uow, owner_id=opp.owner_id, team=opp.team, region=opp.region,
              title=f"{job.payload['title']}: {opp.name}", kind=job.payload.get("kind", ""),
              related_type="opportunity", related_id=opp.id, rule_id=job.payload["rule_id"],
              account_id=opp.account_id, contact_id=opp.contact_id, now=now)


def on_quote_follow_up(uow: UnitOfWork, job: jobs.Job, now: datetime) -> None:
    quote = store.load(uow.session, Quote, job.ref_id)
    if quote is None or quote.status != "sent":
        return  # the customer already answered, or the quote was revised
    auto_task(uow, owner_id=quote.owner_id, team=quote.team, region=quote.region,
              title=f"{job.payload['title']}: {quote.number} {quote.customer_name}", kind=job.payload.get("kind", ""),
              related_type="quote", related_id=quote.id, rule_id=job.payload["rule_id"],
              account_id=quote.account_id, contact_id=quote.contact_id, now=now)


def on_task_reminder(uow: UnitOfWork, job: jobs.Job, now: datetime) -> None:
    task = store.load(uow.session, Task, job.ref_id)
    if task is None or task.status != "open":
        return
    remind(uow, task.owner_id, f"提醒 / reminder: {task.title}", task.related_type, task.related_id, now,
           task_id=task.id)
