"""gRPC servicer: translation only. Reads use a read session; writes go through run_write (one
unit of work, idempotency key honoured). The clock is injected so tests control time."""
from __future__ import annotations

from typing import Any

from crm.common.v1.types_pb2 import PageResponse
from crm.sales.v1 import sales_pb2 as pb
from crm.sales.v1.sales_pb2_grpc import SalesServiceServicer
from crm_sales import (
    admin,
    analytics,
    conversion,
    deals,
    leads,
    ownership,
    pdf,
    quotes,
    store,
    work,
)
from crm_sales.common import Clock, settings, visible
from crm_sales.contacts_port import ContactsPort
from crmkit.auth import current_principal
from crmkit.db import Database
from crmkit.idempotency import run_write

Ctx = Any


def _copy(message: Any) -> Any:
    """Use cases change records in place; never mutate the request (its hash keys idempotency)."""
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


def _page(token: str) -> PageResponse:
    return PageResponse(next_page_token=token)


class SalesServicer(SalesServiceServicer):
    def __init__(self, db: Database, clock: Clock, contacts: ContactsPort | None) -> None:
        self.db = db
        self.clock = clock
        self.contacts = contacts

    def _write(self, request: Any, response_type: type, fn: Any) -> Any:
        now = self.clock()
        principal = current_principal()
        return run_write(self.db, request, response_type, lambda uow: fn(uow, principal, now))

    def _read(self, fn: Any) -> Any:
        with self.db.read() as session:
            return fn(session, current_principal(), self.clock())

    # -- leads
    def CreateLead(self, request: pb.CreateLeadRequest, context: Ctx) -> pb.Lead:
        return self._write(request, pb.Lead, lambda uow, p, now: leads.create_lead(uow, p, _copy(request.lead), now))

    def CaptureLead(self, request: pb.CaptureLeadRequest, context: Ctx) -> pb.Lead:
        return self._write(request, pb.Lead, lambda uow, p, now: leads.create_lead(
            uow, p, _copy(request.lead), now, channel="web_form"))

    def ImportLeads(self, request: pb.ImportLeadsRequest, context: Ctx) -> pb.ImportLeadsResponse:
        return self._write(request, pb.ImportLeadsResponse, lambda uow, p, now: leads.import_leads(
            uow, p, request.csv, request.default_source, now))

    def GetLead(self, request: pb.GetLeadRequest, context: Ctx) -> pb.Lead:
        return self._read(lambda s, p, now: visible(s, p, pb.Lead, request.id, now))

    def ListLeads(self, request: pb.ListLeadsRequest, context: Ctx) -> pb.ListLeadsResponse:
        items, token = self._read(lambda s, p, now: leads.list_leads(
            s, p, request.filter, request.page.page_size, request.page.page_token, now))
        return pb.ListLeadsResponse(leads=items, page=_page(token))

    def UpdateLead(self, request: pb.UpdateLeadRequest, context: Ctx) -> pb.Lead:
        return self._write(request, pb.Lead, lambda uow, p, now: leads.update_lead(
            uow, p, _copy(request.lead), list(request.update_mask.paths), request.expected_version, now))

    def ChangeLeadStatus(self, request: pb.ChangeLeadStatusRequest, context: Ctx) -> pb.Lead:
        return self._write(request, pb.Lead, lambda uow, p, now: leads.change_status(
            uow, p, request.id, request.status, request.reason, request.expected_version, now))

    def RecordLeadActivity(self, request: pb.RecordLeadActivityRequest, context: Ctx) -> pb.Lead:
        at = store.dt(request.occurred_at) if request.HasField("occurred_at") else None
        return self._write(request, pb.Lead, lambda uow, p, now: leads.record_activity(
            uow, p, request.id, request.kind, request.count, at, now))

    def AssignLead(self, request: pb.AssignLeadRequest, context: Ctx) -> pb.Lead:
        return self._write(request, pb.Lead, lambda uow, p, now: leads.assign_lead(
            uow, p, request.id, request.owner_id, now))

    def ConvertLead(self, request: pb.ConvertLeadRequest, context: Ctx) -> pb.ConvertLeadResponse:
        # Not run_write: the contacts calls must not sit inside a local write transaction; the
        # conversion is idempotent by itself (remote keys + "already converted" check).
        authorization = dict(context.invocation_metadata()).get("authorization", "")
        return conversion.convert(self.db, self.contacts, current_principal(), authorization, request, self.clock())

    # -- reps and settings
    def UpsertRep(self, request: pb.UpsertRepRequest, context: Ctx) -> pb.SalesRep:
        return self._write(request, pb.SalesRep, lambda uow, p, now: admin.upsert_rep(uow, p, _copy(request.rep)))

    def ListReps(self, request: pb.ListRepsRequest, context: Ctx) -> pb.ListRepsResponse:
        return pb.ListRepsResponse(reps=self._read(lambda s, p, now: admin.list_reps(s, request.team)))

    def GetSalesSettings(self, request: pb.GetSalesSettingsRequest, context: Ctx) -> pb.SalesSettings:
        return self._read(lambda s, p, now: settings(s))

    def UpdateSalesSettings(self, request: pb.UpdateSalesSettingsRequest, context: Ctx) -> pb.SalesSettings:
        return self._write(request, pb.SalesSettings, lambda uow, p, now: admin.update_settings(
            uow, p, request.settings, list(request.update_mask.paths), request.expected_version))

    # -- opportunities
    def CreateOpportunity(self, request: pb.CreateOpportunityRequest, context: Ctx) -> pb.Opportunity:
        return self._write(request, pb.Opportunity, lambda uow, p, now: deals.create(
            uow, p, _copy(request.opportunity), now))

    def GetOpportunity(self, request: pb.GetOpportunityRequest, context: Ctx) -> pb.Opportunity:
        return self._read(lambda s, p, now: deals.get(s, p, request.id, now))

    def ListOpportunities(self, request: pb.ListOpportunitiesRequest, context: Ctx) -> pb.ListOpportunitiesResponse:
        items, token = self._read(lambda s, p, now: deals.list_opportunities(
            s, p, request.filter, request.page.page_size, request.page.page_token, now))
        return pb.ListOpportunitiesResponse(opportunities=items, page=_page(token))

    def UpdateOpportunity(self, request: pb.UpdateOpportunityRequest, context: Ctx) -> pb.Opportunity:
        return self._write(request, pb.Opportunity, lambda uow, p, now: deals.update(
            uow, p, _copy(request.opportunity), list(request.update_mask.paths), request.expected_version, now))

    def ChangeStage(self, request: pb.ChangeStageRequest, context: Ctx) -> pb.Opportunity:
        return self._write(request, pb.Opportunity, lambda uow, p, now: deals.change_stage(
            uow, p, request.id, request.stage, request.expected_version, request.loss_reason, now))

    # -- products, price books, quotes, contracts
    def CreateProduct(self, request: pb.CreateProductRequest, context: Ctx) -> pb.Product:
        return self._write(request, pb.Product, lambda uow, p, now: quotes.create_product(uow, p, _copy(request.product)))

    def ListProducts(self, request: pb.ListProductsRequest, context: Ctx) -> pb.ListProductsResponse:
        return pb.ListProductsResponse(products=self._read(
            lambda s, p, now: store.all_products(s, request.include_inactive)))

    def SavePriceBook(self, request: pb.SavePriceBookRequest, context: Ctx) -> pb.PriceBook:
        return self._write(request, pb.PriceBook, lambda uow, p, now: quotes.save_price_book(
            uow, p, _copy(request.price_book)))

    def ListPriceBooks(self, request: pb.ListPriceBooksRequest, context: Ctx) -> pb.ListPriceBooksResponse:
        return pb.ListPriceBooksResponse(price_books=self._read(
            lambda s, p, now: store.find_price_books(s, request.currency_code, request.tier)))

    def CreateQuote(self, request: pb.CreateQuoteRequest, context: Ctx) -> pb.Quote:
        return self._write(request, pb.Quote, lambda uow, p, now: quotes.create_quote(uow, p, _copy(request.quote), now))

    def GetQuote(self, request: pb.GetQuoteRequest, context: Ctx) -> pb.Quote:
        return self._read(lambda s, p, now: quotes.get_quote(s, p, request.id, now))

    def ListQuotes(self, request: pb.ListQuotesRequest, context: Ctx) -> pb.ListQuotesResponse:
        items, token = self._read(lambda s, p, now: quotes.list_quotes(s, p, request, now))
        return pb.ListQuotesResponse(quotes=items, page=_page(token))

    def ReviseQuote(self, request: pb.ReviseQuoteRequest, context: Ctx) -> pb.Quote:
        return self._write(request, pb.Quote, lambda uow, p, now: quotes.revise_quote(
            uow, p, request.id, _copy(request.changes), list(request.update_mask.paths), now))

    def SubmitQuote(self, request: pb.SubmitQuoteRequest, context: Ctx) -> pb.Quote:
        return self._write(request, pb.Quote, lambda uow, p, now: quotes.submit_quote(uow, p, request.id, now))

    def SendQuote(self, request: pb.SendQuoteRequest, context: Ctx) -> pb.Quote:
        return self._write(request, pb.Quote, lambda uow, p, now: quotes.send_quote(
            uow, p, request.id, request.recipient_email, now))

    def AcceptQuote(self, request: pb.AcceptQuoteRequest, context: Ctx) -> pb.Quote:
        return self._write(request, pb.Quote, lambda uow, p, now: quotes.accept_quote(
            uow, p, request.id, request.declined, request.reason, now))

    def RenderQuotePdf(self, request: pb.RenderQuotePdfRequest, context: Ctx) -> pb.QuotePdf:
        quote = self._read(lambda s, p, now: quotes.get_quote(s, p, request.id, now))
        return pb.QuotePdf(filename=f"{quote.number}-v{quote.version}.pdf", content=pdf.render(quote))

    def CreateContract(self, request: pb.CreateContractRequest, context: Ctx) -> pb.Contract:
        return self._write(request, pb.Contract, lambda uow, p, now: quotes.create_contract(
            uow, p, request.quote_id, request.start_date, request.end_date, now))

    def UpdateContractStatus(self, request: pb.UpdateContractStatusRequest, context: Ctx) -> pb.Contract:
        return self._write(request, pb.Contract, lambda uow, p, now: quotes.update_contract_status(
            uow, p, request.id, request.status, request.expected_version, now))

    def ListContracts(self, request: pb.ListContractsRequest, context: Ctx) -> pb.ListContractsResponse:
        return pb.ListContractsResponse(contracts=self._read(lambda s, p, now: quotes.list_contracts(
            s, p, request.opportunity_id, request.status, now)))

    # -- approvals
    def DecideApproval(self, request: pb.DecideApprovalRequest, context: Ctx) -> pb.ApprovalRequest:
        return self._write(request, pb.ApprovalRequest, lambda uow, p, now: quotes.decide(
            uow, p, request.id, request.approve, request.comment, now))

    def ListApprovals(self, request: pb.ListApprovalsRequest, context: Ctx) -> pb.ListApprovalsResponse:
        return pb.ListApprovalsResponse(approvals=self._read(lambda s, p, now: quotes.list_approvals(
            s, p, request.quote_id, request.pending_for_me, now)))

    # -- tasks and reminders
    def CreateTask(self, request: pb.CreateTaskRequest, context: Ctx) -> pb.Task:
        return self._write(request, pb.Task, lambda uow, p, now: work.create_task(uow, p, _copy(request.task), now))

    def CompleteTask(self, request: pb.CompleteTaskRequest, context: Ctx) -> pb.Task:
        return self._write(request, pb.Task, lambda uow, p, now: work.complete_task(
            uow, p, request.id, request.cancel, now))

    def ListTasks(self, request: pb.ListTasksRequest, context: Ctx) -> pb.ListTasksResponse:
        items, token = self._read(lambda s, p, now: work.list_tasks(s, p, request, now))
        return pb.ListTasksResponse(tasks=items, page=_page(token))

    def ListReminders(self, request: pb.ListRemindersRequest, context: Ctx) -> pb.ListRemindersResponse:
        return pb.ListRemindersResponse(reminders=self._read(
            lambda s, p, now: work.list_reminders(s, p, request.user_id)))

    # -- forecasting and funnel
    def GetForecast(self, request: pb.ForecastRequest, context: Ctx) -> pb.ForecastResponse:
        return self._read(lambda s, p, now: analytics.forecast(s, p, request, now))

    def GetFunnel(self, request: pb.FunnelRequest, context: Ctx) -> pb.FunnelResponse:
        return self._read(lambda s, p, now: analytics.funnel(s, p, request, now))

    # -- ownership
    def TransferOwnership(self, request: pb.TransferOwnershipRequest, context: Ctx) -> pb.TransferOwnershipResponse:
        return self._write(request, pb.TransferOwnershipResponse, lambda uow, p, now: ownership.transfer(
            uow, p, request.from_user_id, request.to_user_id, request.reason, now))

    def DelegateWork(self, request: pb.DelegateWorkRequest, context: Ctx) -> pb.Delegation:
        return self._write(request, pb.Delegation, lambda uow, p, now: ownership.delegate(
            uow, p, _copy(request.delegation), now))

    def ListDelegations(self, request: pb.ListDelegationsRequest, context: Ctx) -> pb.ListDelegationsResponse:
        return pb.ListDelegationsResponse(delegations=self._read(lambda s, p, now: store.list_delegations(
            s, request.user_id, now if request.active_only else None)))
