"""gRPC servicer: translation only. Reads use a read session; writes go through run_write (one
unit of work, idempotency key honoured). The clock is injected so tests control time."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm.common.v1.types_pb2 import PageResponse
from crm.support.v1 import support_pb2 as pb
from crm.support.v1.support_pb2_grpc import SupportServiceServicer
from crm_support import csat, intake, kb, store, tickets
from crm_support.common import Clock, is_public, require_staff, settings
from crm_support.contacts_port import ContactsPort
from crmkit.auth import current_principal
from crmkit.db import Database
from crmkit.idempotency import run_write
from crmkit.search import SearchIndex

Ctx = Any


def _copy(message: Any) -> Any:
    """Use cases change records in place; never mutate the request (its hash keys idempotency)."""
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


def _auth(context: Ctx) -> str:
    return str(dict(context.invocation_metadata()).get("authorization", ""))


class SupportServicer(SupportServiceServicer):
    def __init__(self, db: Database, clock: Clock, contacts: ContactsPort | None,
                 index: Callable[[], SearchIndex | None]) -> None:
        self.db = db
        self.clock = clock
        self.contacts = contacts
        self.index = index

    def _write(self, request: Any, response_type: type, fn: Any) -> Any:
        now = self.clock()
        principal = current_principal()
        return run_write(self.db, request, response_type, lambda uow: fn(uow, principal, now))

    def _read(self, fn: Any) -> Any:
        with self.db.read() as session:
            return fn(session, current_principal(), self.clock())

    # -- tickets
    def CreateTicket(self, request: pb.CreateTicketRequest, context: Ctx) -> pb.Ticket:
        principal = current_principal()
        require_staff(principal)
        return intake.create_ticket(self.db, self.contacts, principal, _auth(context), _copy(request.ticket),
                                    self.clock())

    def GetTicket(self, request: pb.GetTicketRequest, context: Ctx) -> pb.Ticket:
        return self._read(lambda s, p, now: tickets.get(s, p, request.id))

    def ListTickets(self, request: pb.ListTicketsRequest, context: Ctx) -> pb.ListTicketsResponse:
        items, token = self._read(lambda s, p, now: tickets.list_tickets(
            s, p, request.filter, request.page.page_size, request.page.page_token))
        return pb.ListTicketsResponse(tickets=items, page=PageResponse(next_page_token=token))

    def UpdateTicket(self, request: pb.UpdateTicketRequest, context: Ctx) -> pb.Ticket:
        return self._write(request, pb.Ticket, lambda uow, p, now: tickets.update_ticket(
            uow, p, _copy(request.ticket), list(request.update_mask.paths), request.expected_version, now))

    def ChangeTicketStatus(self, request: pb.ChangeTicketStatusRequest, context: Ctx) -> pb.ChangeTicketStatusResponse:
        def change(uow: Any, p: Any, now: Any) -> pb.ChangeTicketStatusResponse:
            ticket, token = tickets.change_status(uow, p, request.id, request.status, request.reason,
                                                  request.resolution_note, request.expected_version, now)
            return pb.ChangeTicketStatusResponse(ticket=ticket, csat_token=token)
        return self._write(request, pb.ChangeTicketStatusResponse, change)

    def AddComment(self, request: pb.AddCommentRequest, context: Ctx) -> pb.AddCommentResponse:
        def add(uow: Any, p: Any, now: Any) -> pb.AddCommentResponse:
            ticket, comment = tickets.add_comment(uow, p, request.ticket_id, _copy(request.comment),
                                                  request.set_status, now)
            return pb.AddCommentResponse(ticket=ticket, comment=comment)
        return self._write(request, pb.AddCommentResponse, add)

    def ListComments(self, request: pb.ListCommentsRequest, context: Ctx) -> pb.ListCommentsResponse:
        return pb.ListCommentsResponse(comments=self._read(lambda s, p, now: tickets.list_comments(
            s, p, request.ticket_id, request.public_only)))

    def ApplyMacro(self, request: pb.ApplyMacroRequest, context: Ctx) -> pb.AddCommentResponse:
        def apply(uow: Any, p: Any, now: Any) -> pb.AddCommentResponse:
            ticket, comment = tickets.apply_macro(uow, p, request.ticket_id, request.macro_id, now)
            return pb.AddCommentResponse(ticket=ticket, comment=comment)
        return self._write(request, pb.AddCommentResponse, apply)

    # -- intake
    def InboundEmail(self, request: pb.InboundEmailRequest, context: Ctx) -> pb.InboundEmailResponse:
        return intake.receive_email(self.db, self.contacts, current_principal(), request.raw, self.clock())

    def InboundChat(self, request: pb.InboundChatRequest, context: Ctx) -> pb.InboundChatResponse:
        return intake.receive_chat(self.db, self.contacts, current_principal(), _auth(context), request, self.clock())

    def LogCall(self, request: pb.LogCallRequest, context: Ctx) -> pb.LogCallResponse:
        return intake.log_call(self.db, self.contacts, current_principal(), _auth(context), request, self.clock())

    def SubmitWebForm(self, request: pb.SubmitWebFormRequest, context: Ctx) -> pb.SubmitWebFormResponse:
        return intake.submit_web_form(self.db, self.contacts, current_principal(), request, request.client_ip,
                                      self.clock())

    # -- settings
    def GetSupportSettings(self, request: pb.GetSupportSettingsRequest, context: Ctx) -> pb.SupportSettings:
        def read(s: Any, p: Any, now: Any) -> pb.SupportSettings:
            require_staff(p)
            return settings(s)
        return self._read(read)

    def UpdateSupportSettings(self, request: pb.UpdateSupportSettingsRequest, context: Ctx) -> pb.SupportSettings:
        return self._write(request, pb.SupportSettings, lambda uow, p, now: tickets.update_settings(
            uow, p, request.settings, list(request.update_mask.paths), request.expected_version))

    # -- knowledge base
    def CreateKbCategory(self, request: pb.CreateKbCategoryRequest, context: Ctx) -> pb.KbCategory:
        return self._write(request, pb.KbCategory, lambda uow, p, now: kb.create_category(
            uow, p, _copy(request.category)))

    def ListKbCategories(self, request: pb.ListKbCategoriesRequest, context: Ctx) -> pb.ListKbCategoriesResponse:
        return pb.ListKbCategoriesResponse(categories=self._read(lambda s, p, now: store.categories(s)))

    def CreateKbArticle(self, request: pb.CreateKbArticleRequest, context: Ctx) -> pb.KbArticle:
        article = self._write(request, pb.KbArticle, lambda uow, p, now: kb.create_article(
            uow, p, _copy(request.article), now))
        kb.reindex(self.index(), article)
        return article  # type: ignore[no-any-return]

    def GetKbArticle(self, request: pb.GetKbArticleRequest, context: Ctx) -> pb.KbArticle:
        return self._read(lambda s, p, now: kb.get_article(s, p, request.id))

    def UpdateKbArticle(self, request: pb.UpdateKbArticleRequest, context: Ctx) -> pb.KbArticle:
        article = self._write(request, pb.KbArticle, lambda uow, p, now: kb.update_article(
            uow, p, _copy(request.article), list(request.update_mask.paths), request.expected_version, now))
        kb.reindex(self.index(), article)
        return article  # type: ignore[no-any-return]

    def ListKbArticles(self, request: pb.ListKbArticlesRequest, context: Ctx) -> pb.ListKbArticlesResponse:
        items, token = self._read(lambda s, p, now: kb.list_articles(
            s, p, request.category_id, request.status, request.page.page_size, request.page.page_token))
        return pb.ListKbArticlesResponse(articles=items, page=PageResponse(next_page_token=token))

    def _search(self, request: pb.SearchKbRequest, *, public: bool, limit: int) -> pb.SearchKbResponse:
        principal = current_principal()
        if not public:
            require_staff(principal)
        return kb.search(self.index(), request.query, published_only=public or is_public(principal),
                         category_id=request.category_id, language=request.language,
                         limit=min(request.limit or limit, limit))

    def SearchKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=False, limit=50)

    def SuggestKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=False, limit=5)

    def SearchPublicKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=True, limit=20)

    def SuggestPublicKb(self, request: pb.SearchKbRequest, context: Ctx) -> pb.SearchKbResponse:
        return self._search(request, public=True, limit=5)

    def RateKbArticle(self, request: pb.RateKbArticleRequest, context: Ctx) -> pb.KbArticle:
        return self._write(request, pb.KbArticle, lambda uow, p, now: kb.rate(
            uow, p, request.id, request.helpful, request.comment, now))

    # -- CSAT and analytics
    def AnswerCsat(self, request: pb.AnswerCsatRequest, context: Ctx) -> pb.AnswerCsatResponse:
        return self._write(request, pb.AnswerCsatResponse, lambda uow, p, now: csat.answer(
            uow, p, request.token, request.rating, request.comment, now))

    def GetTopIssues(self, request: pb.GetTopIssuesRequest, context: Ctx) -> pb.GetTopIssuesResponse:
        since = store.dt(request.since) if request.HasField("since") else None
        return self._read(lambda s, p, now: csat.top_issues(s, p, since, request.limit, now))
