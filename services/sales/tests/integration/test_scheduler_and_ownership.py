"""Follow-ups the scheduler creates (once, also across restarts), response deadlines that hand a
lead on, forecasts and the funnel, transfer and delegation of a rep's work."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1.types_pb2 import Money
from crm.sales.v1 import sales_pb2 as pb

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def customers(sales: Any) -> None:
    """The accounts and contacts these deals name, rep.north.1's in the fake contacts service
    (sales refuses a deal naming a customer its author cannot see)."""
    from crm.contacts.v1 import contacts_pb2 as cpb
    for contact_id in ("c", "c-1", "c-2", "con-1"):
        sales.contacts.add_contact(cpb.Contact(id=contact_id, name=contact_id, owner_id="rep.north.1",
                                               team="north-sales", region="north"))
    sales.contacts.add_account(cpb.Account(id="acc-1", name="acc-1", owner_id="rep.north.1", team="north-sales",
                                           region="north"))


def new_opp(rep: Any, name: str, amount: str = "100000", close: str = "2026-04-15", **extra: Any) -> pb.Opportunity:
    return rep.CreateOpportunity(pb.CreateOpportunityRequest(opportunity=pb.Opportunity(
        name=name, amount=Money(currency_code="CNY", amount=amount), expected_close_date=close, **extra)))


def follow_ups(rep: Any, opp_id: str) -> list[pb.Task]:
    return list(rep.ListTasks(pb.ListTasksRequest(related_id=opp_id)).tasks)


def test_a_stalled_stage_reminds_the_owner_once_even_after_a_restart(sales: Any, api: Any) -> None:
    opp = new_opp(api.rep1, "唐山钢铁 MES", contact_id="c-1")
    api.rep1.ChangeStage(pb.ChangeStageRequest(id=opp.id, stage="needs_confirmed"))
    sales.clock.advance(days=4)
    sales.tick()
    assert follow_ups(api.rep1, opp.id) == []        # 4 days is not yet "more than 5"
    sales.clock.advance(days=2)
    sales.tick()
    sales.tick()
    tasks = follow_ups(api.rep1, opp.id)
    assert len(tasks) == 1 and "需求确认" in tasks[0].title and tasks[0].owner_id == "rep.north.1"
    reminders = api.rep1.ListReminders(pb.ListRemindersRequest()).reminders
    assert len(reminders) == 1 and reminders[0].task_id == tasks[0].id

    sales.restart()
    rep = sales.as_user("rep.north.1")
    sales.clock.advance(days=1)
    sales.tick()
    assert len(follow_ups(rep, opp.id)) == 1
    assert len(rep.ListReminders(pb.ListRemindersRequest()).reminders) == 1
    # the task is due a day after it was created: now it is overdue
    sales.clock.advance(days=1)
    overdue = rep.ListTasks(pb.ListTasksRequest(overdue_only=True)).tasks
    assert [t.id for t in overdue] == [tasks[0].id]


def test_moving_on_in_time_cancels_the_stall_reminder(sales: Any, api: Any) -> None:
    opp = new_opp(api.rep1, "邯郸水泥", contact_id="c-2", budget=Money(currency_code="CNY", amount="1"))
    api.rep1.ChangeStage(pb.ChangeStageRequest(id=opp.id, stage="needs_confirmed"))
    sales.clock.advance(days=3)
    api.rep1.ChangeStage(pb.ChangeStageRequest(id=opp.id, stage="solution_demo"))
    sales.clock.advance(days=10)
    sales.tick()
    assert follow_ups(api.rep1, opp.id) == []


def test_a_lapsed_response_deadline_reminds_and_reassigns(sales: Any, api: Any) -> None:
    for user in ("rep.north.1", "rep.north.2"):
        api.admin.UpsertRep(pb.UpsertRepRequest(rep=pb.SalesRep(user_id=user, team="north-sales", active=True)))
    api.admin.UpdateSalesSettings(pb.UpdateSalesSettingsRequest(
        settings=pb.SalesSettings(assignment_rules=[pb.AssignmentRule(
            id="north", strategy="round_robin", members=["rep.north.1", "rep.north.2"], response_hours=4)]),
        update_mask=FieldMask(paths=["assignment_rules"])))
    answered = api.manager.CreateLead(pb.CreateLeadRequest(lead=pb.Lead(name="快回复", company="廊坊")))
    ignored = api.manager.CreateLead(pb.CreateLeadRequest(lead=pb.Lead(name="没人理", company="承德")))
    assert (answered.owner_id, ignored.owner_id) == ("rep.north.1", "rep.north.2")
    api.rep1.RecordLeadActivity(pb.RecordLeadActivityRequest(id=answered.id, kind="call"))
    sales.clock.advance(hours=5)
    sales.tick()
    moved = api.manager.GetLead(pb.GetLeadRequest(id=ignored.id))
    assert moved.owner_id == "rep.north.1" and moved.response_due_at.ToDatetime() > sales.clock().replace(tzinfo=None)
    assert api.manager.GetLead(pb.GetLeadRequest(id=answered.id)).owner_id == "rep.north.1"
    lapsed = api.rep2.ListReminders(pb.ListRemindersRequest()).reminders
    assert len(lapsed) == 1 and "响应超时" in lapsed[0].message
    sales.tick()
    assert len(api.rep2.ListReminders(pb.ListRemindersRequest()).reminders) == 1


def test_a_sent_quote_schedules_a_call_three_days_later(sales: Any, api: Any) -> None:
    opp = new_opp(api.rep1, "秦皇岛港口")
    quote = api.rep1.CreateQuote(pb.CreateQuoteRequest(quote=pb.Quote(opportunity_id=opp.id, currency_code="CNY",
        lines=[pb.QuoteLine(name="咨询服务", quantity="2", unit_price=Money(currency_code="CNY", amount="5000"))])))
    assert api.rep1.SubmitQuote(pb.SubmitQuoteRequest(id=quote.id)).status == "approved"  # nothing to approve
    api.rep1.SendQuote(pb.SendQuoteRequest(id=quote.id))
    sales.clock.advance(days=3, seconds=1)
    sales.tick()
    tasks = api.rep1.ListTasks(pb.ListTasksRequest(related_id=quote.id)).tasks
    assert len(tasks) == 1 and tasks[0].kind == "call" and quote.number in tasks[0].title


def test_forecast_weights_open_deals_by_stage_probability(sales: Any, api: Any) -> None:
    a = new_opp(api.rep1, "A", amount="100000.10", close="2026-04-10")
    new_opp(api.rep1, "B", amount="33333.33", close="2026-04-20", contact_id="c", stage="needs_confirmed")
    new_opp(api.rep2, "C", amount="50000", close="2026-05-05")
    new_opp(api.rep1, "outside the period", amount="999999", close="2026-07-01")
    api.rep1.ChangeStage(pb.ChangeStageRequest(id=a.id, stage="closed_lost", loss_reason="价格"))
    by_owner = api.admin.GetForecast(pb.ForecastRequest(period_start="2026-04-01", period_end="2026-06-30",
                                                        group_by="owner")).rows
    rows = {r.key: r for r in by_owner}
    assert set(rows) == {"rep.north.1", "rep.north.2"}            # the lost deal is omitted
    assert rows["rep.north.1"].weighted.amount == "6666.67"       # 33333.33 × 20 %
    assert rows["rep.north.1"].pipeline.amount == "33333.33" and rows["rep.north.1"].open_count == 1
    assert rows["rep.north.2"].weighted.amount == "5000.00"
    months = {r.key for r in api.admin.GetForecast(pb.ForecastRequest(group_by="month")).rows}
    assert months == {"2026-04", "2026-05", "2026-07"}
    # a rep's forecast covers their own deals only
    assert {r.key for r in api.rep2.GetForecast(pb.ForecastRequest(group_by="owner")).rows} == {"rep.north.2"}


def test_funnel_conversion_win_rate_and_cycle(sales: Any, api: Any) -> None:
    opps = [new_opp(api.rep1, f"D{i}", contact_id="c") for i in range(4)]
    for opp in opps[:2]:
        api.rep1.ChangeStage(pb.ChangeStageRequest(id=opp.id, stage="needs_confirmed"))
    sales.clock.advance(days=10)
    api.rep1.ChangeStage(pb.ChangeStageRequest(id=opps[0].id, stage="closed_lost", loss_reason="竞品"))
    funnel = api.admin.GetFunnel(pb.FunnelRequest())
    stages = {s.stage: s for s in funnel.stages}
    assert stages["first_contact"].reached == 4 and stages["needs_confirmed"].reached == 2
    assert stages["first_contact"].conversion_to_next == "50.00"
    assert stages["needs_confirmed"].average_days_in_stage == 10.0
    assert (funnel.won, funnel.lost, funnel.win_rate) == (0, 1, "0.00")


def test_transfer_moves_all_open_work_in_one_audited_step(sales: Any, api: Any) -> None:
    lead = api.rep1.CreateLead(pb.CreateLeadRequest(lead=pb.Lead(name="离职交接", company="张家口")))
    opp = new_opp(api.rep1, "张家口风电", account_id="acc-1", contact_id="con-1")
    task = api.rep1.CreateTask(pb.CreateTaskRequest(task=pb.Task(title="回访", related_type="opportunity",
                                                                 related_id=opp.id)))
    done = api.rep1.CreateTask(pb.CreateTaskRequest(task=pb.Task(title="已完成")))
    api.rep1.CompleteTask(pb.CompleteTaskRequest(id=done.id))
    result = api.manager.TransferOwnership(pb.TransferOwnershipRequest(
        from_user_id="rep.north.1", to_user_id="rep.north.2", reason="离职"))
    assert (result.leads, result.opportunities, result.tasks) == (1, 1, 1)
    assert list(result.account_ids) == ["acc-1"] and list(result.contact_ids) == ["con-1"]
    assert api.rep2.GetOpportunity(pb.GetOpportunityRequest(id=opp.id)).owner_id == "rep.north.2"
    assert api.rep2.GetLead(pb.GetLeadRequest(id=lead.id)).owner_id == "rep.north.2"
    assert [t.id for t in api.rep2.ListTasks(pb.ListTasksRequest()).tasks] == [task.id]
    assert api.rep1.ListOpportunities(pb.ListOpportunitiesRequest()).opportunities == []
    err = None
    try:
        api.rep2.TransferOwnership(pb.TransferOwnershipRequest(from_user_id="rep.north.2", to_user_id="rep.north.1"))
    except grpc.RpcError as exc:
        err = exc
    assert err is not None and err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_delegate_covers_until_the_end_date(sales: Any, api: Any) -> None:
    opp = new_opp(api.rep1, "休假期间", contact_id="c")
    delegation = pb.Delegation(from_user_id="rep.north.1", to_user_id="rep.north.2", reason="年假")
    delegation.ends_at.FromDatetime(sales.clock() + timedelta(days=7))
    api.rep1.DelegateWork(pb.DelegateWorkRequest(delegation=delegation))
    assert api.rep2.GetOpportunity(pb.GetOpportunityRequest(id=opp.id)).name == "休假期间"
    api.rep2.ChangeStage(pb.ChangeStageRequest(id=opp.id, stage="needs_confirmed"))
    sales.clock.advance(days=6)
    sales.tick()
    # the stall reminder reaches the owner and the delegate
    assert len(api.rep2.ListReminders(pb.ListRemindersRequest()).reminders) == 1
    assert len(api.rep1.ListReminders(pb.ListRemindersRequest()).reminders) == 1
    sales.clock.advance(days=2)
    try:
        api.rep2.GetOpportunity(pb.GetOpportunityRequest(id=opp.id))
        raise AssertionError("the delegation ended, the record must be hidden again")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
