"""gRPC servicer: translation only. Reads run on a read session (`self.read`); writes go through
the one transaction owner (`self.write`, or `self.write_after` when contacts must be asked
first): the idempotency key's stored answer is looked up before anything else, the preparation
runs outside the transaction, then one unit of work. Requests are never changed (their bytes
key idempotency): use cases get copies."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from crm.common.v1.ownership_pb2 import ReassignRequest, ReassignResponse
from crm.common.v1.types_pb2 import PageResponse
from crm.support.v1 import support_pb2 as pb
from crm.support.v1.support_pb2_grpc import SupportServiceServicer
from crm_support.ports import ContactsPort
from crm_support.rules.channels import ChannelAccount
from crm_support.search import KbIndex
from crm_support.usecases import channels, csat, intake, kb, ownership, settings, sms_notices, tickets
from crmkit.audit import Personal
from crmkit.db import Database, UnitOfWork
from crmkit.records import dt
from crmkit.servicer import Call, Clock, Ctx, ServicerBase, copy

P = TypeVar("P")


class SupportServicer(ServicerBase, SupportServiceServicer):
    # Reads of these leave audit entries (crmkit.audit): a ticket and its thread are about a person.
    personal_data = (Personal(pb.Ticket), Personal(pb.Comment, "ticket", "ticket_id"))

    def __init__(self, db: Database, clock: Clock, contacts: ContactsPort | None, kb_index: KbIndex,
                 channel_accounts: dict[str, ChannelAccount] | None = None,
                 on_channel_message: Callable[[], None] = lambda: None) -> None:
        super().__init__(db, clock)
        self.contacts = contacts
        self.kb_index = kb_index
        self.channel_accounts = channel_accounts or {}
        self.on_channel_message = on_channel_message  # wakes the channel worker

    def _reading(self, fn: Callable[[Session, Call], P]) -> Callable[[Call], P]:
        """A preparation that reads our own tables (to decide whether contacts is needed)."""
        def prepare(call: Call) -> P:
            with self.db.read() as session:
                return fn(session, call)
        return prepare

    # -- tickets
    def CreateTicket(self, request: pb.CreateTicketRequest, context: Ctx) -> pb.Ticket:
        return self.write_after(
            request, pb.Ticket,
            lambda call: intake.prepare_ticket(self.contacts, principal=call.principal,
                                               authorization=call.authorization, ticket=request.ticket),
            lambda uow, call, customer: intake.create_ticket(uow, principal=call.principal, now=call.now,
                                                             ticket=copy(request.ticket), customer=customer))

    def GetTicket(self, request: pb.GetTicketRequest, context: Ctx) -> pb.Ticket:
        return self.read(lambda s, call: tickets.get(s, principal=call.principal, key=request.id))

    def ListTickets(self, request: pb.ListTicketsRequest, context: Ctx) -> pb.ListTicketsResponse:
        items, token = self.read(lambda s, call: tickets.list_tickets(
            s, principal=call.principal, flt=request.filter, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListTicketsResponse(tickets=items, page=PageResponse(next_page_token=token))

    def ListMyEscalations(self, request: pb.ListMyEscalationsRequest, context: Ctx) -> pb.ListMyEscalationsResponse:
        items, token = self.read(lambda s, call: tickets.list_escalated_to_me(
            s, principal=call.principal, open_only=request.open_only, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListMyEscalationsResponse(tickets=items, page=PageResponse(next_page_token=token))

    def Reassign(self, request: ReassignRequest, context: Ctx) -> ReassignResponse:
        return self.write(request, ReassignResponse, lambda uow, call: ownership.reassign(
            uow, principal=call.principal, now=call.now, request=request))

    def UpdateTicket(self, request: pb.UpdateTicketRequest, context: Ctx) -> pb.Ticket:
        return self.write(request, pb.Ticket, lambda uow, call: tickets.update_ticket(
            uow, principal=call.principal, now=call.now, patch=copy(request.ticket),
            paths=list(request.update_mask.paths), expected_version=request.expected_version))

    def ChangeTicketStatus(self, request: pb.ChangeTicketStatusRequest,
                           context: Ctx) -> pb.ChangeTicketStatusResponse:
        def change(uow: UnitOfWork, call: Call) -> pb.ChangeTicketStatusResponse:
            ticket, token = tickets.change_status(
                uow, principal=call.principal, now=call.now, key=request.id,
                status=request.status, reason=request.reason, resolution_note=request.resolution_note,
                expected_version=request.expected_version)
            return pb.ChangeTicketStatusResponse(ticket=ticket, csat_token=token)
        return self.write(request, pb.ChangeTicketStatusResponse, change)

    def AddComment(self, request: pb.AddCommentRequest, context: Ctx) -> pb.AddCommentResponse:
        def add(uow: UnitOfWork, call: Call) -> pb.AddCommentResponse:
            ticket, comment = tickets.add_comment(
                uow, principal=call.principal, now=call.now, key=request.ticket_id,
                comment=copy(request.comment), set_status=request.set_status)
            return pb.AddCommentResponse(ticket=ticket, comment=comment)
        return self.write(request, pb.AddCommentResponse, add)

    def ListComments(self, request: pb.ListCommentsRequest, context: Ctx) -> pb.ListCommentsResponse:
        return pb.ListCommentsResponse(comments=self.read(lambda s, call: tickets.list_comments(
            s, principal=call.principal, key=request.ticket_id, public_only=request.public_only)))

    def ApplyMacro(self, request: pb.ApplyMacroRequest, context: Ctx) -> pb.AddCommentResponse:
        def apply(uow: UnitOfWork, call: Call) -> pb.AddCommentResponse:
            ticket, comment = tickets.apply_macro(uow, principal=call.principal, now=call.now,
                                                  key=request.ticket_id, macro_id=request.macro_id)
            return pb.AddCommentResponse(ticket=ticket, comment=comment)
        return self.write(request, pb.AddCommentResponse, apply)

    # -- intake: each asks contacts (when it must) before its one unit of work
    def InboundEmail(self, request: pb.InboundEmailRequest, context: Ctx) -> pb.InboundEmailResponse:
        return self.write_after(
            request, pb.InboundEmailResponse,
            self._reading(lambda s, call: intake.prepare_email(s, self.contacts, principal=call.principal,
                                                               raw=request.raw)),
            lambda uow, call, email: intake.receive_email(uow, principal=call.principal, now=call.now, email=email))

    def InboundChat(self, request: pb.InboundChatRequest, context: Ctx) -> pb.InboundChatResponse:
        return self.write_after(
            request, pb.InboundChatResponse,
            self._reading(lambda s, call: intake.prepare_chat(s, self.contacts, principal=call.principal,
                                                              authorization=call.authorization, request=request)),
            lambda uow, call, customer: intake.receive_chat(uow, principal=call.principal, now=call.now,
                                                            request=request, customer=customer))

    def LogCall(self, request: pb.LogCallRequest, context: Ctx) -> pb.LogCallResponse:
        return self.write_after(
            request, pb.LogCallResponse,
            lambda call: intake.prepare_call(self.contacts, principal=call.principal,
                                             authorization=call.authorization, request=request),
            lambda uow, call, customer: intake.log_call(uow, principal=call.principal, now=call.now,
                                                        request=request, customer=customer))

    def ReportSmsReceipts(self, request: pb.ReportSmsReceiptsRequest,
                          context: Ctx) -> pb.ReportSmsReceiptsResponse:
        receipts = [copy(r) for r in request.receipts]
        return self.write(request, pb.ReportSmsReceiptsResponse, lambda uow, call: sms_notices.record_receipts(
            uow, principal=call.principal, now=call.now, receipts=receipts))

    def ReceiveChannelCallback(self, request: pb.ChannelCallbackRequest,
                               context: Ctx) -> pb.ChannelCallbackResponse:
        """Public: the signature is the credential. Stored once by MsgId, answered at once."""
        if request.method == "GET":  # the URL check writes nothing
            return self.read(lambda s, call: channels.verified(channels.open_callback(
                self.channel_accounts, request, now=call.now)))
        answer = self.write_after(
            request, pb.ChannelCallbackResponse,
            lambda call: channels.open_callback(self.channel_accounts, request, now=call.now),
            lambda uow, call, opened: channels.take(uow, opened=opened, now=call.now))
        if request.method == "POST" and not answer.duplicate:
            self.on_channel_message()
        return answer

    def SubmitWebForm(self, request: pb.SubmitWebFormRequest, context: Ctx) -> pb.SubmitWebFormResponse:
        return self.write_after(
            request, pb.SubmitWebFormResponse,
            self._reading(lambda s, call: intake.prepare_web_form(s, self.contacts, now=call.now, request=request)),
            lambda uow, call, form: intake.submit_web_form(uow, principal=call.principal, now=call.now,
                                                           request=request, form=form))

    # -- settings
    def GetSupportSettings(self, request: pb.GetSupportSettingsRequest, context: Ctx) -> pb.SupportSettings:
        return self.read(lambda s, call: settings.get_settings(s, principal=call.principal))

    def UpdateSupportSettings(self, request: pb.UpdateSupportSettingsRequest, context: Ctx) -> pb.SupportSettings:
        return self.write(request, pb.SupportSettings, lambda uow, call: settings.update_settings(
            uow, principal=call.principal, patch=request.settings, paths=list(request.update_mask.paths),
            expected_version=request.expected_version))

    # -- knowledge base: the index follows each committed change
    def CreateKbCategory(self, request: pb.CreateKbCategoryRequest, context: Ctx) -> pb.KbCategory:
        return self.write(request, pb.KbCategory, lambda uow, call: kb.create_category(
            uow, principal=call.principal, category=copy(request.category)))

    def ListKbCategories(self, request: pb.ListKbCategoriesRequest, context: Ctx) -> pb.ListKbCategoriesResponse:
        return pb.ListKbCategoriesResponse(categories=self.read(lambda s, call: kb.list_categories(s)))

    def CreateKbArticle(self, request: pb.CreateKbArticleRequest, context: Ctx) -> pb.KbArticle:
        article = self.write(request, pb.KbArticle, lambda uow, call: kb.create_article(
            uow, principal=call.principal, now=call.now, article=copy(request.article)))
        self.kb_index.reindex(article)
        return article

    def GetKbArticle(self, request: pb.GetKbArticleRequest, context: Ctx) -> pb.KbArticle:
        return self.read(lambda s, call: kb.get_article(s, principal=call.principal, article_id=request.id))

    def UpdateKbArticle(self, request: pb.UpdateKbArticleRequest, context: Ctx) -> pb.KbArticle:
        article = self.write(request, pb.KbArticle, lambda uow, call: kb.update_article(
            uow, principal=call.principal, now=call.now, patch=copy(request.article),
            paths=list(request.update_mask.paths), expected_version=request.expected_version))
        self.kb_index.reindex(article)
        return article

    def ListKbArticles(self, request: pb.ListKbArticlesRequest, context: Ctx) -> pb.ListKbArticlesResponse:
        items, token = self.read(lambda s, call: kb.list_articles(
            s, principal=call.principal, category_id=request.category_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListKbArticlesResponse(articles=items, page=PageResponse(next_page_token=token))

    def _search(self, request: pb.SearchKbRequest, *, public: bool, limit: int) -> pb.SearchKbResponse:
        return kb.search(self.kb_index, principal=self.call().principal, text=request.query, public=public,
                         limit=limit, category_id=request.category_id, language=request.language,
                         requested_limit=request.limit)

    def SearchKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=False, limit=50)

    def SuggestKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=False, limit=5)

    def SearchPublicKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=True, limit=20)

    def SuggestPublicKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=True, limit=5)

    def RateKbArticle(self, request: pb.RateKbArticleRequest, context: Ctx) -> pb.KbArticle:
        return self.write(request, pb.KbArticle, lambda uow, call: kb.rate(
            uow, principal=call.principal, now=call.now, article_id=request.id, helpful=request.helpful,
            comment=request.comment))

    # -- CSAT and analytics
    def AnswerCsat(self, request: pb.AnswerCsatRequest, context: Ctx) -> pb.AnswerCsatResponse:
        return self.write(request, pb.AnswerCsatResponse, lambda uow, call: csat.answer(
            uow, principal=call.principal, now=call.now, token=request.token, rating=request.rating,
            comment=request.comment))

    def GetTopIssues(self, request: pb.GetTopIssuesRequest, context: Ctx) -> pb.GetTopIssuesResponse:
        since = dt(request.since) if request.HasField("since") else None
        return self.read(lambda s, call: csat.top_issues(s, principal=call.principal, now=call.now, since=since,
                                                         limit=request.limit))
