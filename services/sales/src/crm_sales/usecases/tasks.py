"""Tasks, reminders, and the follow-ups the scheduler creates from the rules (too long in a
stage, a call after a quote was sent, a task's own reminder). A reminder to someone who is away
also goes to whoever covers for them."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Lead, ListTasksRequest, Opportunity, Quote, Reminder, SalesSettings, Task
from crm_sales.events import SALES, emit
from crm_sales.rules import pool as pool_rules
from crm_sales.rules.follow_ups import check_task
from crm_sales.store import jobs, people, records
from crm_sales.usecases.access import check_manages, delegators, visible
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from crmkit.records import bump, dt, new_id, stamp_new
from crmkit.visibility import check_assignable


def remind(uow: UnitOfWork, *, user_id: str, message: str, related_type: str, related_id: str, now: datetime,
           task_id: str = "") -> list[Reminder]:
    """A reminder that is due now, to the user and to whoever covers for them."""
    recipients = [user_id]
    delegate = people.active_delegate(uow.session, user_id, now) if user_id else ""
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
        people.insert_reminder(uow.session, reminder)
        emit(uow, SYSTEM, SALES.REMINDER_DUE, reminder.id, 1, ev.ReminderDue(reminder=reminder), now)
        sent.append(reminder)
    return sent


def _insert(uow: UnitOfWork, principal: Principal, task: Task, now: datetime) -> Task:
    task.id = ""  # the service names its records
    stamp_new(task, now)
    task.status = "open"
    task.kind = task.kind or "follow_up"
    task.created_by = principal.user_id
    records.insert_record(uow.session, task)
    if task.HasField("remind_at"):
        jobs.schedule(uow.session, jobs.TASK_REMINDER, f"task_reminder:{task.id}:{task.remind_at.ToJsonString()}",
                      dt(task.remind_at), task.id)
    emit(uow, principal, SALES.TASK_CREATED, task.id, task.version, ev.TaskChanged(task=task), now)
    return task


def create_task(uow: UnitOfWork, *, principal: Principal, now: datetime, task: Task) -> Task:
    check_task(task)
    related = {"lead": Lead, "opportunity": Opportunity, "quote": Quote}.get(task.related_type)
    if related is not None and task.related_id:  # a task on a deal the caller cannot see: as if missing
        visible(uow.session, related, task.related_id, principal=principal, now=now, field="related_id")
    task.owner_id = task.owner_id or principal.user_id
    check_assignable(principal, task.owner_id)
    rep = people.all_reps(uow.session).get(task.owner_id)
    task.team = rep.team if rep else principal.team
    task.region = rep.region if rep else principal.region
    for server_owned in ("rule_id", "completed_at", "created_at"):
        task.ClearField(server_owned)
    _followed_up(uow, task, now)
    return _insert(uow, principal, task, now)


def _followed_up(uow: UnitOfWork, task: Task, now: datetime) -> None:
    """A rep's task on a lead (planned or done) is a follow-up: the pool's clock restarts."""
    if task.related_type != "lead" or not task.related_id:
        return
    lead = records.load(uow.session, Lead, task.related_id, for_update=True)
    if lead is not None and not lead.in_pool:
        pool_rules.touch(lead, now)
        records.update_record(uow.session, lead)  # a clock, not a change: no new version


def auto_task(uow: UnitOfWork, *, owner_id: str, team: str, region: str, title: str, kind: str,
              related_type: str, related_id: str, rule_id: str, account_id: str, contact_id: str,
              now: datetime) -> Task:
    """A task created by a rule, with an immediate reminder to its owner."""
    task = Task(title=title, kind=kind or "follow_up", owner_id=owner_id, team=team, region=region,
                related_type=related_type, related_id=related_id, rule_id=rule_id, account_id=account_id,
                contact_id=contact_id)
    task.due_at.FromDatetime(now + timedelta(days=1))
    _insert(uow, SYSTEM, task, now)
    remind(uow, user_id=owner_id, message=title, related_type=related_type, related_id=related_id, now=now,
           task_id=task.id)
    return task


def complete_task(uow: UnitOfWork, *, principal: Principal, now: datetime, task_id: str, cancel: bool) -> Task:
    task = visible(uow.session, Task, task_id, principal=principal, now=now, write=True)
    if task.status != "open":
        raise FailedPrecondition(f"the task is already {task.status}", field="id")
    task.status = "cancelled" if cancel else "done"
    task.completed_at.FromDatetime(now)
    if not cancel:
        _followed_up(uow, task, now)
    bump(task, now)
    records.update_record(uow.session, task)
    jobs.cancel(uow.session, jobs.TASK_REMINDER, task.id)
    emit(uow, principal, SALES.TASK_CANCELLED if cancel else SALES.TASK_COMPLETED, task.id, task.version,
         ev.TaskChanged(task=task), now)
    return task


def list_tasks(session: Session, *, principal: Principal, now: datetime,
               request: ListTasksRequest) -> tuple[list[Task], str]:
    if request.HasField("due_from") and request.HasField("due_to") and dt(request.due_to) < dt(request.due_from):
        raise InvalidArgument("the window ends before it starts", field="due_to")  # else an empty calendar
    return records.list_tasks(session, request, principal=principal,
                              delegators=delegators(session, principal, now), now=now)


def list_reminders(session: Session, *, principal: Principal, user_id: str) -> list[Reminder]:
    user = user_id or principal.user_id
    if user != principal.user_id:
        if not (principal.is_admin or principal.is_manager):
            raise PermissionDenied("you can only read your own reminders", field="user_id")
        check_manages(session, principal, user, field="user_id")
    return people.reminders_for(session, user)


# -- follow-ups: scheduled by the opportunity and quote use cases, run by the scheduler

def schedule_stage_follow_ups(uow: UnitOfWork, *, opp: Opportunity, settings: SalesSettings, now: datetime) -> None:
    visit = len(opp.stage_history)
    for rule in settings.follow_up_rules:
        if rule.trigger == "stage_duration" and rule.stage == opp.stage:
            jobs.schedule(uow.session, jobs.STAGE_STALL, f"stage_stall:{opp.id}:{rule.id}:{visit}",
                          now + timedelta(days=rule.days), opp.id,
                          {"rule_id": rule.id, "stage": opp.stage, "visit": visit, "title": rule.task_title,
                           "kind": rule.task_kind})


def schedule_quote_follow_ups(uow: UnitOfWork, *, quote: Quote, settings: SalesSettings, now: datetime) -> None:
    for rule in settings.follow_up_rules:
        if rule.trigger == "quote_sent":
            jobs.schedule(uow.session, jobs.QUOTE_FOLLOW_UP, f"quote_follow_up:{quote.id}:{rule.id}",
                          now + timedelta(days=rule.days), quote.id,
                          {"rule_id": rule.id, "title": rule.task_title, "kind": rule.task_kind})


def stage_stalled(uow: UnitOfWork, *, now: datetime, opportunity_id: str, stage: str, visit: int, rule_id: str,
                  title: str, kind: str) -> None:
    opp = records.load(uow.session, Opportunity, opportunity_id)
    if opp is None or opp.stage != stage or len(opp.stage_history) != visit:
        return  # moved on (or came back later: that visit has its own job)
    auto_task(uow, owner_id=opp.owner_id, team=opp.team, region=opp.region, title=f"{title}: {opp.name}",
              kind=kind, related_type="opportunity", related_id=opp.id, rule_id=rule_id,
              account_id=opp.account_id, contact_id=opp.contact_id, now=now)


def quote_unanswered(uow: UnitOfWork, *, now: datetime, quote_id: str, rule_id: str, title: str, kind: str) -> None:
    quote = records.load(uow.session, Quote, quote_id)
    if quote is None or quote.status != "sent":
        return  # the customer already answered, or the quote was revised
    auto_task(uow, owner_id=quote.owner_id, team=quote.team, region=quote.region,
              title=f"{title}: {quote.number} {quote.customer_name}", kind=kind, related_type="quote",
              related_id=quote.id, rule_id=rule_id, account_id=quote.account_id, contact_id=quote.contact_id,
              now=now)


def task_reminder_due(uow: UnitOfWork, *, now: datetime, task_id: str) -> None:
    task = records.load(uow.session, Task, task_id)
    if task is None or task.status != "open":
        return
    remind(uow, user_id=task.owner_id, message=f"提醒 / reminder: {task.title}", related_type=task.related_type,
           related_id=task.related_id, now=now, task_id=task.id)
