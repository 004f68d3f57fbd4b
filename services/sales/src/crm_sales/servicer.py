"""gRPC servicer: translation only. Each RPC copies what the use case may change, calls one use
case through `read`, `write` or `write_after` (crmkit.servicer), and wraps the answer."""
from __future__ import annotations

from collections.abc import Callable

from crm.common.v1.types_pb2 import PageResponse
from crm.sales.v1 import sales_pb2 as pb
from crm.sales.v1.sales_pb2_grpc import SalesServiceServicer
from crm_sales.ports import ContactsPort
from crm_sales.usecases import (
    analytics,
    approvals,
    catalogue,
    contracts,
    conversion,
    leads,
    opportunities,
    ownership,
    pool,
    quotes,
    reps,
    settings,
    subject,
    tasks,
)
from crm_sales.usecases.access import check_customer, deal_customer
from crmkit.audit import Personal
from crmkit.db import Database
from crmkit.privacy import SuppressionList
from crmkit.records import dt
from crmkit.servicer import Call, Clock, Ctx, ServicerBase, copy, system_clock


def _page(token: str) -> PageResponse:
    return PageResponse(next_page_token=token)


class SalesServicer(ServicerBase, SalesServiceServicer):
    personal_data = (Personal(pb.Lead),)  # reads of these leave audit entries (crmkit.audit)

    def __init__(self, db: Database, contacts: ContactsPort, clock: Clock = system_clock, *,
                 suppression: SuppressionList | None = None) -> None:
        super().__init__(db, clock)
        self.contacts = contacts
        # erased people's emails and phones, refused on create, capture and import (crmkit.privacy)
        self.refuse: Callable[[pb.Lead], None] = lambda lead: subject.refuse_suppressed(suppression, lead)

    # -- leads
    def CreateLead(self, request: pb.CreateLeadRequest, context: Ctx) -> pb.Lead:
        return self.write(request, pb.Lead, lambda uow, c: leads.create_lead(
            uow, principal=c.principal, now=c.now, lead=copy(request.lead), refuse=self.refuse))

    def CaptureLead(self, request: pb.CaptureLeadRequest, context: Ctx) -> pb.Lead:
        lead = copy(request.lead)
        if request.form_id and not lead.attribution.form_id:  # the form is part of the lead's attribution
            lead.attribution.form_id = request.form_id
        return self.write(request, pb.Lead, lambda uow, c: leads.create_lead(
            uow, principal=c.principal, now=c.now, lead=copy(lead), channel="web_form", refuse=self.refuse))

    def ImportLeads(self, request: pb.ImportLeadsRequest, context: Ctx) -> pb.ImportLeadsResponse:
        return self.write(request, pb.ImportLeadsResponse, lambda uow, c: leads.import_leads(
            uow, principal=c.principal, now=c.now, text=request.csv, default_source=request.default_source,
            refuse=self.refuse))

    def GetLead(self, request: pb.GetLeadRequest, context: Ctx) -> pb.Lead:
        return self.read(lambda s, c: leads.get_lead(s, principal=c.principal, now=c.now, lead_id=request.id))

    def ListLeads(self, request: pb.ListLeadsRequest, context: Ctx) -> pb.ListLeadsResponse:
        items, token = self.read(lambda s, c: leads.list_leads(
            s, principal=c.principal, now=c.now, flt=request.filter, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListLeadsResponse(leads=items, page=_page(token))

    def UpdateLead(self, request: pb.UpdateLeadRequest, context: Ctx) -> pb.Lead:
        return self.write(request, pb.Lead, lambda uow, c: leads.update_lead(
            uow, principal=c.principal, now=c.now, patch=copy(request.lead), mask=list(request.update_mask.paths),
            expected=request.expected_version))

    def ChangeLeadStatus(self, request: pb.ChangeLeadStatusRequest, context: Ctx) -> pb.Lead:
        return self.write(request, pb.Lead, lambda uow, c: leads.change_status(
            uow, principal=c.principal, now=c.now, lead_id=request.id, status=request.status, reason=request.reason,
            expected=request.expected_version))

    def RecordLeadActivity(self, request: pb.RecordLeadActivityRequest, context: Ctx) -> pb.Lead:
        at = dt(request.occurred_at) if request.HasField("occurred_at") else None
        return self.write(request, pb.Lead, lambda uow, c: leads.record_activity(
            uow, principal=c.principal, now=c.now, lead_id=request.id, kind=request.kind, count=request.count,
            occurred_at=at))

    def AssignLead(self, request: pb.AssignLeadRequest, context: Ctx) -> pb.Lead:
        return self.write(request, pb.Lead, lambda uow, c: leads.assign_lead(
            uow, principal=c.principal, now=c.now, lead_id=request.id, owner_id=request.owner_id))

    def ConvertLead(self, request: pb.ConvertLeadRequest, context: Ctx) -> pb.ConvertLeadResponse:
        def prepare(c: Call) -> conversion.Customer | None:
            with self.db.read() as session:
                return conversion.prepare(session, self.contacts, principal=c.principal, now=c.now,
                                          authorization=c.authorization, request=request)

        return self.write_after(request, pb.ConvertLeadResponse, prepare, lambda uow, c, customer: conversion.convert(
            uow, principal=c.principal, now=c.now, request=request, customer=customer))

    # -- the public pool (公海)
    def ListPool(self, request: pb.ListPoolRequest, context: Ctx) -> pb.ListLeadsResponse:
        items, token = self.read(lambda s, c: pool.list_pool(
            s, principal=c.principal, team=request.team, query=request.query, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListLeadsResponse(leads=items, page=_page(token))

    def ClaimLead(self, request: pb.ClaimLeadRequest, context: Ctx) -> pb.Lead:
        return self.write(request, pb.Lead, lambda uow, c: pool.claim(
            uow, principal=c.principal, now=c.now, lead_id=request.id))

    def ReleaseLead(self, request: pb.ReleaseLeadRequest, context: Ctx) -> pb.Lead:
        return self.write(request, pb.Lead, lambda uow, c: pool.release(
            uow, principal=c.principal, now=c.now, lead_id=request.id, reason=request.reason))

    def AssignFromPool(self, request: pb.AssignFromPoolRequest, context: Ctx) -> pb.Lead:
        return self.write(request, pb.Lead, lambda uow, c: pool.assign(
            uow, principal=c.principal, now=c.now, lead_id=request.id, owner_id=request.owner_id))

    def ListPoolMoves(self, request: pb.ListPoolMovesRequest, context: Ctx) -> pb.ListPoolMovesResponse:
        return pb.ListPoolMovesResponse(moves=self.read(lambda s, c: pool.pool_history(
            s, principal=c.principal, now=c.now, lead_id=request.lead_id)))

    # -- reps and settings
    def UpsertRep(self, request: pb.UpsertRepRequest, context: Ctx) -> pb.SalesRep:
        return self.write(request, pb.SalesRep, lambda uow, c: reps.upsert_rep(
            uow, principal=c.principal, rep=copy(request.rep)))

    def ListReps(self, request: pb.ListRepsRequest, context: Ctx) -> pb.ListRepsResponse:
        return pb.ListRepsResponse(reps=self.read(lambda s, c: reps.list_reps(s, team=request.team)))

    def GetSalesSettings(self, request: pb.GetSalesSettingsRequest, context: Ctx) -> pb.SalesSettings:
        return self.read(lambda s, c: settings.current(s))

    def UpdateSalesSettings(self, request: pb.UpdateSalesSettingsRequest, context: Ctx) -> pb.SalesSettings:
        return self.write(request, pb.SalesSettings, lambda uow, c: settings.update_settings(
            uow, principal=c.principal, patch=request.settings, mask=list(request.update_mask.paths),
            expected=request.expected_version, now=c.now))

    # -- opportunities
    def _customer_check(self, account_id: str, contact_id: str, prefix: str = "") -> Callable[[Call], None]:
        def prepare(c: Call) -> None:
            check_customer(self.contacts, principal=c.principal, authorization=c.authorization,
                           account_id=account_id, contact_id=contact_id, prefix=prefix)
        return prepare

    def _deal_customer(self, account_id: str, contact_id: str, account_name: str) -> Callable[[Call], str]:
        """Checks the deal's customer and answers the account name the deal keeps."""
        def prepare(c: Call) -> str:
            return deal_customer(self.contacts, principal=c.principal, authorization=c.authorization,
                                 account_id=account_id, contact_id=contact_id, given_name=account_name)
        return prepare

    def CreateOpportunity(self, request: pb.CreateOpportunityRequest, context: Ctx) -> pb.Opportunity:
        o = request.opportunity
        return self.write_after(request, pb.Opportunity, self._deal_customer(o.account_id, o.contact_id,
                                                                              o.account_name),
                                lambda uow, c, name: opportunities.create(uow, principal=c.principal, now=c.now,
                                                                          opp=copy(request.opportunity),
                                                                          account_name=name))

    def GetOpportunity(self, request: pb.GetOpportunityRequest, context: Ctx) -> pb.Opportunity:
        return self.read(lambda s, c: opportunities.get(s, principal=c.principal, now=c.now, opp_id=request.id))

    def ListOpportunities(self, request: pb.ListOpportunitiesRequest, context: Ctx) -> pb.ListOpportunitiesResponse:
        items, token = self.read(lambda s, c: opportunities.list_opportunities(
            s, principal=c.principal, now=c.now, flt=request.filter, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListOpportunitiesResponse(opportunities=items, page=_page(token))

    def UpdateOpportunity(self, request: pb.UpdateOpportunityRequest, context: Ctx) -> pb.Opportunity:
        paths, o = set(request.update_mask.paths), request.opportunity
        check = self._deal_customer(o.account_id if "account_id" in paths else "",
                                    o.contact_id if "contact_id" in paths else "",
                                    o.account_name if "account_name" in paths else "")
        return self.write_after(request, pb.Opportunity, check, lambda uow, c, name: opportunities.update(
            uow, principal=c.principal, now=c.now, patch=copy(request.opportunity),
            mask=list(request.update_mask.paths), expected=request.expected_version, account_name=name))

    def ChangeStage(self, request: pb.ChangeStageRequest, context: Ctx) -> pb.Opportunity:
        return self.write(request, pb.Opportunity, lambda uow, c: opportunities.change_stage(
            uow, principal=c.principal, now=c.now, opp_id=request.id, stage_key=request.stage,
            expected=request.expected_version, loss_reason=request.loss_reason))

    # -- products, price books, quotes, contracts
    def CreateProduct(self, request: pb.CreateProductRequest, context: Ctx) -> pb.Product:
        return self.write(request, pb.Product, lambda uow, c: catalogue.create_product(
            uow, principal=c.principal, product=copy(request.product)))

    def ListProducts(self, request: pb.ListProductsRequest, context: Ctx) -> pb.ListProductsResponse:
        return pb.ListProductsResponse(products=self.read(lambda s, c: catalogue.list_products(
            s, include_inactive=request.include_inactive)))

    def SavePriceBook(self, request: pb.SavePriceBookRequest, context: Ctx) -> pb.PriceBook:
        return self.write(request, pb.PriceBook, lambda uow, c: catalogue.save_price_book(
            uow, principal=c.principal, book=copy(request.price_book)))

    def ListPriceBooks(self, request: pb.ListPriceBooksRequest, context: Ctx) -> pb.ListPriceBooksResponse:
        items, token = self.read(lambda s, c: catalogue.list_price_books(
            s, currency_code=request.currency_code, tier=request.tier, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListPriceBooksResponse(price_books=items, page=_page(token))

    def CreateQuote(self, request: pb.CreateQuoteRequest, context: Ctx) -> pb.Quote:
        check = self._customer_check("", request.quote.contact_id)  # the deal's account is checked with it
        return self.write_after(request, pb.Quote, check, lambda uow, c, _: quotes.create_quote(
            uow, principal=c.principal, now=c.now, quote=copy(request.quote)))

    def GetQuote(self, request: pb.GetQuoteRequest, context: Ctx) -> pb.Quote:
        return self.read(lambda s, c: quotes.get_quote(s, principal=c.principal, now=c.now, quote_id=request.id))

    def ListQuotes(self, request: pb.ListQuotesRequest, context: Ctx) -> pb.ListQuotesResponse:
        items, token = self.read(lambda s, c: quotes.list_quotes(
            s, principal=c.principal, now=c.now, opportunity_id=request.opportunity_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListQuotesResponse(quotes=items, page=_page(token))

    def ReviseQuote(self, request: pb.ReviseQuoteRequest, context: Ctx) -> pb.Quote:
        return self.write(request, pb.Quote, lambda uow, c: quotes.revise_quote(
            uow, principal=c.principal, now=c.now, quote_id=request.id, changes=copy(request.changes),
            mask=list(request.update_mask.paths)))

    def SubmitQuote(self, request: pb.SubmitQuoteRequest, context: Ctx) -> pb.Quote:
        return self.write(request, pb.Quote, lambda uow, c: quotes.submit_quote(
            uow, principal=c.principal, now=c.now, quote_id=request.id))

    def SendQuote(self, request: pb.SendQuoteRequest, context: Ctx) -> pb.Quote:
        return self.write(request, pb.Quote, lambda uow, c: quotes.send_quote(
            uow, principal=c.principal, now=c.now, quote_id=request.id, recipient=request.recipient_email))

    def AcceptQuote(self, request: pb.AcceptQuoteRequest, context: Ctx) -> pb.Quote:
        return self.write(request, pb.Quote, lambda uow, c: quotes.accept_quote(
            uow, principal=c.principal, now=c.now, quote_id=request.id, declined=request.declined,
            reason=request.reason))

    def RenderQuotePdf(self, request: pb.RenderQuotePdfRequest, context: Ctx) -> pb.QuotePdf:
        return self.read(lambda s, c: quotes.render_pdf(s, principal=c.principal, now=c.now, quote_id=request.id))

    def CreateContract(self, request: pb.CreateContractRequest, context: Ctx) -> pb.Contract:
        return self.write(request, pb.Contract, lambda uow, c: contracts.create_contract(
            uow, principal=c.principal, now=c.now, quote_id=request.quote_id, start=request.start_date,
            end=request.end_date))

    def UpdateContractStatus(self, request: pb.UpdateContractStatusRequest, context: Ctx) -> pb.Contract:
        return self.write(request, pb.Contract, lambda uow, c: contracts.update_contract_status(
            uow, principal=c.principal, now=c.now, contract_id=request.id, status=request.status,
            expected=request.expected_version))

    def GetContract(self, request: pb.GetContractRequest, context: Ctx) -> pb.Contract:
        return self.read(lambda s, c: contracts.get_contract(s, principal=c.principal, now=c.now,
                                                             contract_id=request.id))

    def ListContracts(self, request: pb.ListContractsRequest, context: Ctx) -> pb.ListContractsResponse:
        items, token = self.read(lambda s, c: contracts.list_contracts(
            s, principal=c.principal, now=c.now, opportunity_id=request.opportunity_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListContractsResponse(contracts=items, page=_page(token))

    # -- approvals
    def DecideApproval(self, request: pb.DecideApprovalRequest, context: Ctx) -> pb.ApprovalRequest:
        return self.write(request, pb.ApprovalRequest, lambda uow, c: approvals.decide(
            uow, principal=c.principal, now=c.now, approval_id=request.id, approve=request.approve,
            comment=request.comment))

    def ListApprovals(self, request: pb.ListApprovalsRequest, context: Ctx) -> pb.ListApprovalsResponse:
        items, token = self.read(lambda s, c: approvals.list_approvals(
            s, principal=c.principal, now=c.now, quote_id=request.quote_id, pending_for_me=request.pending_for_me,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListApprovalsResponse(approvals=items, page=_page(token))

    # -- tasks and reminders
    def CreateTask(self, request: pb.CreateTaskRequest, context: Ctx) -> pb.Task:
        check = self._customer_check(request.task.account_id, request.task.contact_id)
        return self.write_after(request, pb.Task, check, lambda uow, c, _: tasks.create_task(
            uow, principal=c.principal, now=c.now, task=copy(request.task)))

    def CompleteTask(self, request: pb.CompleteTaskRequest, context: Ctx) -> pb.Task:
        return self.write(request, pb.Task, lambda uow, c: tasks.complete_task(
            uow, principal=c.principal, now=c.now, task_id=request.id, cancel=request.cancel))

    def ListTasks(self, request: pb.ListTasksRequest, context: Ctx) -> pb.ListTasksResponse:
        items, token = self.read(lambda s, c: tasks.list_tasks(s, principal=c.principal, now=c.now, request=request))
        return pb.ListTasksResponse(tasks=items, page=_page(token))

    def ListReminders(self, request: pb.ListRemindersRequest, context: Ctx) -> pb.ListRemindersResponse:
        return pb.ListRemindersResponse(reminders=self.read(lambda s, c: tasks.list_reminders(
            s, principal=c.principal, user_id=request.user_id)))

    # -- forecasting and funnel
    def GetForecast(self, request: pb.ForecastRequest, context: Ctx) -> pb.ForecastResponse:
        return self.read(lambda s, c: analytics.forecast(s, principal=c.principal, now=c.now, request=request))

    def GetFunnel(self, request: pb.FunnelRequest, context: Ctx) -> pb.FunnelResponse:
        return self.read(lambda s, c: analytics.funnel(s, principal=c.principal, now=c.now, request=request))

    # -- ownership
    def TransferOwnership(self, request: pb.TransferOwnershipRequest, context: Ctx) -> pb.TransferOwnershipResponse:
        return self.write(request, pb.TransferOwnershipResponse, lambda uow, c: ownership.transfer(
            uow, principal=c.principal, now=c.now, from_user=request.from_user_id, to_user=request.to_user_id,
            reason=request.reason))

    def DelegateWork(self, request: pb.DelegateWorkRequest, context: Ctx) -> pb.Delegation:
        return self.write(request, pb.Delegation, lambda uow, c: ownership.delegate(
            uow, principal=c.principal, now=c.now, delegation=copy(request.delegation)))

    def EndDelegation(self, request: pb.EndDelegationRequest, context: Ctx) -> pb.Delegation:
        return self.write(request, pb.Delegation, lambda uow, c: ownership.end_delegation(
            uow, principal=c.principal, now=c.now, delegation_id=request.id, reason=request.reason))

    def ListDelegations(self, request: pb.ListDelegationsRequest, context: Ctx) -> pb.ListDelegationsResponse:
        items, token = self.read(lambda s, c: ownership.list_delegations(
            s, principal=c.principal, now=c.now, user_id=request.user_id, active_only=request.active_only,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListDelegationsResponse(delegations=items, page=_page(token))
