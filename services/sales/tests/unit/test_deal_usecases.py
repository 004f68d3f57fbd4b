"""Opportunity, quote, task and ownership use cases against the real schema, in milliseconds:
stage gates, a quote through its approvals, a task's reminder fired by the scheduler once, the
transfer of a leaving rep's work, and the fields each update accepts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import (
    Lead,
    ListTasksRequest,
    Opportunity,
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
    QuoteLine,
    SalesSettings,
    Task,
)
from crm_sales import jobs
from crm_sales.usecases import (
    approvals,
    catalogue,
    contracts,
    leads,
    opportunities,
    ownership,
    quotes,
    settings,
    tasks,
)
from crmkit.auth import Principal
from crmkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crmkit.events import parse_envelope, unpack_payload
from crmkit.runtime_tables import outbox_row

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("admin", ("admin",), "hq", "")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")
REP2 = Principal("rep.north.2", ("rep",), "north-sales", "north")
LEGAL = Principal("legal.1", ("legal",), "hq", "")
FINANCE = Principal("finance.1", ("finance",), "hq", "")


def new_opp(sales: Any, **fields: Any) -> Opportunity:
    opp = Opportunity(name="唐山钢铁 MES", amount=Money(currency_code="CNY", amount="100000"), **fields)
    return sales.write(lambda uow: opportunities.create(uow, principal=REP1, now=NOW, opp=opp))


def stage(sales: Any, opp: Opportunity, key: str, at: datetime = NOW, loss_reason: str = "") -> Opportunity:
    return sales.write(lambda uow: opportunities.change_stage(uow, principal=REP1, now=at, opp_id=opp.id,
                                                              stage_key=key, expected=0, loss_reason=loss_reason))


def test_a_stage_change_is_refused_naming_every_unmet_criterion_and_changes_nothing(sales: Any) -> None:
    opp = new_opp(sales)
    with pytest.raises(FailedPrecondition) as err:
        stage(sales, opp, "needs_confirmed")
    assert err.value.field == "contact_id"
    assert sales.read(lambda s: opportunities.get(s, principal=REP1, now=NOW, opp_id=opp.id)).version == 1
    opp = new_opp(sales, contact_id="c-1")
    moved = stage(sales, opp, "needs_confirmed", NOW + timedelta(days=2))
    assert (moved.stage, moved.probability, moved.stage_history[0].seconds) == ("needs_confirmed", 20, 2 * 86400)
    with pytest.raises(FailedPrecondition, match="budget"):
        stage(sales, moved, "solution_demo")
    lost = stage(sales, moved, "closed_lost", loss_reason="价格")
    assert (lost.status, lost.forecast_category) == ("lost", "omitted")
    assert "crm.sales.opportunity.lost" in sales.events()


def catalogue_with_one_product(sales: Any) -> tuple[Product, PriceBook]:
    product = sales.write(lambda uow: catalogue.create_product(uow, principal=MANAGER, product=Product(
        sku="crm-ent", name="CRM 企业版")))
    book = sales.write(lambda uow: catalogue.save_price_book(uow, principal=MANAGER, book=PriceBook(
        name="标准价", currency_code="CNY",
        entries=[PriceBookEntry(product_id=product.id, unit_price=Money(currency_code="CNY", amount="19999.99"))])))
    return product, book


def test_a_new_price_book_without_active_is_active_and_a_save_without_it_keeps_its_state(sales: Any) -> None:
    product, book = catalogue_with_one_product(sales)  # entries, and no `active` given
    assert book.active
    entry = PriceBookEntry(product_id=product.id, unit_price=Money(currency_code="CNY", amount="18000"))

    def save(**fields: Any) -> PriceBook:
        return sales.write(lambda uow: catalogue.save_price_book(uow, principal=MANAGER, book=PriceBook(
            name="标准价", currency_code="CNY", entries=[entry], **fields)))

    off = save(id=book.id, active=False)  # switched off on purpose
    assert not off.active
    repriced = save(id=off.id)  # a replace that does not mention `active` leaves it off
    assert not repriced.active and repriced.entries[0].unit_price.amount == "18000.00"
    listed = sales.read(lambda s: catalogue.list_price_books(s, currency_code="CNY", tier=""))[0]
    assert [(b.id, b.active, b.HasField("active")) for b in listed] == [(book.id, False, True)]
    assert save(id=book.id, active=True).active
    assert save(id=book.id).active
    assert save(active=False).active is False  # a new book may start off, when the admin says so


def test_a_quote_goes_through_its_approvals_and_then_opens_the_quote_stage(sales: Any) -> None:
    product, book = catalogue_with_one_product(sales)
    opp = stage(sales, new_opp(sales, contact_id="c-1", budget=Money(currency_code="CNY", amount="1")),
                "needs_confirmed")
    opp = stage(sales, opp, "solution_demo")
    quote = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW, quote=Quote(
        opportunity_id=opp.id, price_book_id=book.id, tax_rate="0.13", special_terms="分三期付款",
        lines=[QuoteLine(product_id=product.id, quantity="3", discount_percent="20")])))
    assert (quote.number, quote.total.amount, quote.status) == ("Q-2026-000001", "54239.98", "draft")
    with pytest.raises(FailedPrecondition, match="approved"):
        stage(sales, opp, "quote_submitted")
    quote = sales.write(lambda uow: quotes.submit_quote(uow, principal=REP1, now=NOW, quote_id=quote.id))
    assert quote.status == "pending_approval"

    def decide(who: Principal, comment: str = "ok") -> Any:
        return sales.write(lambda uow: approvals.decide(uow, principal=who, now=NOW, approval_id=quote.approval_id,
                                                        approve=True, comment=comment))

    with pytest.raises(PermissionDenied):
        decide(LEGAL)   # the manager decides first
    with pytest.raises(NotFound):  # another region's manager does not see the quote nor its approval
        decide(Principal("manager.south", ("manager",), "south-sales", "south"))
    pending, more = sales.read(lambda s: approvals.list_approvals(s, principal=MANAGER, now=NOW, quote_id="",
                                                                  pending_for_me=True))
    assert [a.id for a in pending] == [quote.approval_id] and more == ""
    decide(MANAGER)
    decide(LEGAL)
    assert decide(FINANCE).status == "approved"
    approved = sales.read(lambda s: quotes.get_quote(s, principal=REP1, now=NOW, quote_id=quote.id))
    assert approved.status == "approved"
    assert stage(sales, opp, "quote_submitted").stage == "quote_submitted"
    emitted = sales.events()
    assert emitted.count("crm.sales.approval.decided") == 3 and "crm.sales.quote.approved" in emitted


def test_an_accepted_quote_makes_one_live_contract(sales: Any) -> None:
    opp = new_opp(sales)
    quote = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW, quote=Quote(
        opportunity_id=opp.id, currency_code="CNY",
        lines=[QuoteLine(name="咨询服务", quantity="1", unit_price=Money(currency_code="CNY", amount="5000"))])))
    quote = sales.write(lambda uow: quotes.submit_quote(uow, principal=REP1, now=NOW, quote_id=quote.id))
    for step in sales.read(lambda s: approvals.list_approvals(s, principal=ADMIN, now=NOW, quote_id=quote.id,
                                                              pending_for_me=False))[0][0].steps:
        who = {"manager": MANAGER, "legal": LEGAL, "finance": FINANCE}[step.approver_role]
        sales.write(lambda uow, w=who: approvals.decide(uow, principal=w, now=NOW, approval_id=quote.approval_id,
                                                        approve=True, comment="ok"))
    with pytest.raises(InvalidArgument) as mistyped:  # it was recorded as the recipient, and the quote sent
        sales.write(lambda uow: quotes.send_quote(uow, principal=REP1, now=NOW, quote_id=quote.id,
                                                  recipient="zhao at tjzg"))
    assert mistyped.value.field == "recipient_email"
    sent = sales.write(lambda uow: quotes.send_quote(uow, principal=REP1, now=NOW, quote_id=quote.id,
                                                     recipient=" Zhao@TJZG.example "))
    assert sent.status == "sent"
    with pytest.raises(InvalidArgument) as why:  # "declined with a reason": it was declined without one
        sales.write(lambda uow: quotes.accept_quote(uow, principal=REP1, now=NOW, quote_id=quote.id, declined=True,
                                                    reason=" "))
    assert why.value.field == "reason"
    sales.write(lambda uow: quotes.accept_quote(uow, principal=REP1, now=NOW, quote_id=quote.id, declined=False,
                                                reason=""))

    def contract() -> Any:
        return sales.write(lambda uow: contracts.create_contract(uow, principal=REP1, now=NOW, quote_id=quote.id,
                                                                 start="", end=""))

    first = contract()
    with pytest.raises(AlreadyExists) as twice:  # a double click does not count the sale twice
        contract()
    assert twice.value.field == "quote_id" and first.number in twice.value.message
    sales.write(lambda uow: contracts.update_contract_status(uow, principal=REP1, now=NOW, contract_id=first.id,
                                                             status="terminated", expected=0))
    assert contract().number != first.number  # a terminated contract may be replaced


def test_a_revision_supersedes_the_quote_under_the_same_number(sales: Any) -> None:
    opp = new_opp(sales)
    first = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW, quote=Quote(
        opportunity_id=opp.id, currency_code="CNY",
        lines=[QuoteLine(name="咨询服务", quantity="2", unit_price=Money(currency_code="CNY", amount="5000"))])))
    revised = sales.write(lambda uow: quotes.revise_quote(uow, principal=REP1, now=NOW, quote_id=first.id,
                                                          changes=Quote(discount_percent="10"),
                                                          mask=["discount_percent"]))
    assert (revised.number, revised.version, revised.total.amount) == (first.number, 2, "9000.00")
    old = sales.read(lambda s: quotes.get_quote(s, principal=REP1, now=NOW, quote_id=first.id))
    assert old.status == "superseded"
    assert "crm.sales.quote.superseded" in sales.events() and "crm.sales.quote.revised" in sales.events()
    with pytest.raises(InvalidArgument) as err:
        sales.write(lambda uow: quotes.revise_quote(uow, principal=REP1, now=NOW, quote_id=revised.id,
                                                    changes=Quote(total=Money(amount="1")), mask=["total"]))
    assert err.value.field == "update_mask" and "revisable: customer_name, price_book_id, lines" in err.value.message


def test_the_approval_of_a_quote_revised_while_pending_is_withdrawn_and_decides_nothing(sales: Any) -> None:
    """It stayed decidable: the manager and finance approved the withdrawn request, which turned the
    superseded revision back to approved; it was then sent beside its successor, and revising it
    again was a 500 (the number's next version existed)."""
    opp = new_opp(sales)
    first = sales.write(lambda uow: quotes.create_quote(uow, principal=REP1, now=NOW, quote=Quote(
        opportunity_id=opp.id, currency_code="CNY", discount_percent="20",
        lines=[QuoteLine(name="咨询服务", quantity="2", unit_price=Money(currency_code="CNY", amount="5000"))])))
    first = sales.write(lambda uow: quotes.submit_quote(uow, principal=REP1, now=NOW, quote_id=first.id))
    sales.write(lambda uow: quotes.revise_quote(uow, principal=REP1, now=NOW, quote_id=first.id,
                                                changes=Quote(discount_percent="50"), mask=["discount_percent"]))
    with pytest.raises(FailedPrecondition) as refused:
        sales.write(lambda uow: approvals.decide(uow, principal=MANAGER, now=NOW, approval_id=first.approval_id,
                                                 approve=True, comment="ok"))
    assert refused.value.field == "id" and "withdrawn" in refused.value.message
    old = sales.read(lambda s: quotes.get_quote(s, principal=REP1, now=NOW, quote_id=first.id))
    assert old.status == "superseded"
    trail, _ = sales.read(lambda s: approvals.list_approvals(s, principal=REP1, now=NOW, quote_id=first.id,
                                                             pending_for_me=False))
    assert trail[0].status == "withdrawn" and {step.status for step in trail[0].steps} == {"skipped"}


def test_a_task_reminder_fires_once_and_a_completed_task_reminds_no_more(sales: Any) -> None:
    def task(title: str) -> Task:
        item = Task(title=title)
        item.remind_at.FromDatetime(NOW + timedelta(hours=2))
        return sales.write(lambda uow: tasks.create_task(uow, principal=REP1, now=NOW, task=item))

    call, done = task("给赵总回电话"), task("发资料")
    sales.write(lambda uow: tasks.complete_task(uow, principal=REP1, now=NOW, task_id=done.id, cancel=False))
    assert jobs.run_due(sales.db, NOW + timedelta(hours=1)) == 0
    assert jobs.run_due(sales.db, NOW + timedelta(hours=2)) == 1
    assert jobs.run_due(sales.db, NOW + timedelta(hours=3)) == 0
    [reminder] = sales.read(lambda s: tasks.list_reminders(s, principal=REP1, user_id=""))
    assert (reminder.task_id, reminder.message) == (call.id, "提醒 / reminder: 给赵总回电话")
    with pytest.raises(PermissionDenied):
        sales.read(lambda s: tasks.list_reminders(s, principal=REP2, user_id="rep.north.1"))


def test_a_transfer_moves_the_open_work_of_a_leaving_rep(sales: Any) -> None:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="离职交接")))
    opp = new_opp(sales, account_id="acc-1", contact_id="con-1")
    open_task = sales.write(lambda uow: tasks.create_task(uow, principal=REP1, now=NOW, task=Task(title="回访")))
    closed = sales.write(lambda uow: tasks.create_task(uow, principal=REP1, now=NOW, task=Task(title="已完成")))
    sales.write(lambda uow: tasks.complete_task(uow, principal=REP1, now=NOW, task_id=closed.id, cancel=False))
    with pytest.raises(PermissionDenied):
        sales.write(lambda uow: ownership.transfer(uow, principal=REP1, now=NOW, from_user="rep.north.1",
                                                   to_user="rep.north.2", reason=""))
    result = sales.write(lambda uow: ownership.transfer(uow, principal=MANAGER, now=NOW, from_user="rep.north.1",
                                                        to_user="rep.north.2", reason="离职"))
    assert (result.leads, result.opportunities, result.tasks, result.quotes) == (1, 1, 1, 0)
    assert (list(result.account_ids), list(result.contact_ids)) == (["acc-1"], ["con-1"])
    assert sales.read(lambda s: leads.get_lead(s, principal=REP2, now=NOW, lead_id=lead.id)).owner_id == "rep.north.2"
    assert sales.read(lambda s: opportunities.get(s, principal=REP2, now=NOW, opp_id=opp.id)).version == 2
    mine, _ = sales.read(lambda s: tasks.list_tasks(s, principal=REP2, now=NOW, request=ListTasksRequest()))
    assert [t.id for t in mine] == [open_task.id]
    assert sales.events()[-1] == "crm.sales.ownership.transferred"


def test_a_transfer_tells_every_read_model_each_moved_lead_and_deal_under_its_new_owner(sales: Any) -> None:
    # Reporting keeps owner / team / region per record from the records' own events: without one per
    # moved record, the leaver kept the deals in every report and drill-down.
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="交接线索")))
    opp = new_opp(sales)
    sales.write(lambda uow: ownership.transfer(uow, principal=MANAGER, now=NOW, from_user="rep.north.1",
                                               to_user="rep.north.2", reason="离职"))
    rows = sales.read(lambda s: s.execute(select(outbox_row.c.subject, outbox_row.c.payload)
                                          .order_by(outbox_row.c.id)).all())
    moved = {}
    for subject, data in rows:
        env = parse_envelope(data)
        if subject in ("crm.sales.lead.assigned", "crm.sales.opportunity.updated"):
            payload = unpack_payload(env)
            record = payload.lead if subject.endswith("assigned") else payload.opportunity
            moved[(subject, record.id)] = (record.owner_id, record.version, env.aggregate_version)
    assert moved[("crm.sales.opportunity.updated", opp.id)] == ("rep.north.2", 2, 2)
    lead_now = sales.read(lambda s: leads.get_lead(s, principal=REP2, now=NOW, lead_id=lead.id))
    assert moved[("crm.sales.lead.assigned", lead.id)] == ("rep.north.2", lead_now.version, lead_now.version)


def test_updates_accept_exactly_the_fields_the_contract_leaves_patchable() -> None:
    # The gateway reads the same sets (crmkit.fields.patchable): changing one is a contract change.
    lead = {"name", "company", "title", "phone", "email", "industry", "province", "city", "region", "notes",
            "company_size", "budget", "currency_code", "campaign_id", "source"}
    opportunity = {"name", "account_id", "contact_id", "amount", "budget", "expected_close_date", "competitors",
                   "decision_maker", "next_step", "description", "owner_id", "forecast_category", "account_name"}
    quote = {"lines", "discount_percent", "tax_rate", "special_terms", "valid_until", "notes", "price_book_id",
             "customer_name"}
    sections = {"scoring_rules", "assignment_rules", "pipelines", "approval_policies", "follow_up_rules", "pool_rules"}
    assert lead == leads.EDITABLE
    assert opportunity == opportunities.EDITABLE
    assert quote == quotes.REVISABLE
    assert sections == settings.SECTIONS == set(settings.VALIDATORS)


def test_a_lead_update_outside_the_patchable_fields_is_refused(sales: Any) -> None:
    lead = sales.write(lambda uow: leads.create_lead(uow, principal=REP1, now=NOW, lead=Lead(name="王五")))
    with pytest.raises(InvalidArgument) as err:
        sales.write(lambda uow: leads.update_lead(uow, principal=REP1, now=NOW, patch=Lead(id=lead.id, score=99),
                                                  mask=["score"], expected=0))
    assert err.value.field == "update_mask" and "editable: name, company" in err.value.message
    with pytest.raises(InvalidArgument, match="unknown section 'version'"):
        sales.write(lambda uow: settings.update_settings(uow, now=NOW, principal=ADMIN, patch=SalesSettings(version=9),
                                                         mask=["version"], expected=0))
