"""Knowledge base through the search port (two-character Chinese queries, drafts kept out of
the public search, feedback), the public web form with its abuse limits, routing and macros,
chat and phone intake."""
from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.support.v1 import support_pb2 as pb

pytestmark = pytest.mark.integration


def test_knowledge_base_search_suggest_and_feedback(support: Any, api: Any, rpc_error: Any) -> None:
    category = api.agent.CreateKbCategory(pb.CreateKbCategoryRequest(category=pb.KbCategory(name="打印与扫描")))
    published = api.agent.CreateKbArticle(pb.CreateKbArticleRequest(article=pb.KbArticle(
        title="打印机无法连接网络怎么办", body="先检查网线，再重新安装驱动程序。", category_id=category.id,
        status="published", tags=["打印机"])))
    draft = api.agent.CreateKbArticle(pb.CreateKbArticleRequest(article=pb.KbArticle(
        title="打印机卡纸处理（草稿）", body="打开后盖取出纸张。")))
    english = api.agent.CreateKbArticle(pb.CreateKbArticleRequest(article=pb.KbArticle(
        title="Resetting your password", body="Use the forgot password link on the login page.",
        status="published")))
    assert published.language == "zh" and english.language == "en" and draft.status == "draft"

    found = api.public.SearchPublicKb(pb.SearchKbRequest(query="打印"))  # two characters
    assert [h.id for h in found.hits] == [published.id]
    agents_see = {h.id for h in api.agent.SearchKb(pb.SearchKbRequest(query="打印")).hits}
    assert agents_see == {published.id, draft.id}
    assert [h.id for h in api.public.SuggestPublicKb(pb.SearchKbRequest(query="passw")).hits] == [english.id]
    assert rpc_error(api.public.GetKbArticle, pb.GetKbArticleRequest(id=draft.id)).code() == grpc.StatusCode.NOT_FOUND

    # publishing the draft makes it public at once
    api.agent.UpdateKbArticle(pb.UpdateKbArticleRequest(article=pb.KbArticle(id=draft.id, status="published"),
                                                        update_mask=FieldMask(paths=["status"]), expected_version=1))
    assert draft.id in {h.id for h in api.public.SearchPublicKb(pb.SearchKbRequest(query="卡纸")).hits}

    api.public.RateKbArticle(pb.RateKbArticleRequest(id=published.id, helpful=True))
    rated = api.public.RateKbArticle(pb.RateKbArticleRequest(id=published.id, helpful=False, comment="没用"))
    assert (rated.helpful_count, rated.not_helpful_count) == (1, 1)

    support.restart()  # the index is rebuilt from the table
    assert [h.id for h in support.as_user("public").SearchPublicKb(pb.SearchKbRequest(query="网络")).hits] == [
        published.id]


def test_web_form_routing_macros_chat_and_phone(support: Any, api: Any, rpc_error: Any) -> None:
    api.manager.UpdateSupportSettings(pb.UpdateSupportSettingsRequest(settings=pb.SupportSettings(
        routing_rules=[pb.RoutingRule(id="billing", keywords=["发票"], group="billing",
                                      agents=["agent.1", "agent.2"], strategy="round_robin")],
        macros=[pb.Macro(id="ask-tax-id", body="您好 {{requester_name}}，请提供税号（工单 {{number}}）。",
                         public=True, set_status="pending", add_tags=["billing"])]),
        update_mask=FieldMask(paths=["routing_rules", "macros"])))

    def form(email: str, subject: str = "发票开错了", **extra: Any) -> pb.SubmitWebFormRequest:
        return pb.SubmitWebFormRequest(name="赵敏", email=email, subject=subject, description="抬头写错了",
                                       client_ip="203.0.113.7", **extra)

    first = api.public.SubmitWebForm(form("zhao.min@example.cn"))
    second = api.public.SubmitWebForm(form("zhao.min@example.cn"))
    one = api.agent.GetTicket(pb.GetTicketRequest(id=first.ticket_number))
    two = api.agent.GetTicket(pb.GetTicketRequest(id=second.ticket_number))
    assert (one.channel, one.group, one.assignee_id, two.assignee_id) == ("web", "billing", "agent.1", "agent.2")
    assert one.contact_id  # the visitor became a contact

    assert rpc_error(api.public.SubmitWebForm, form("bot@example.cn", website="http://spam")).code() == (
        grpc.StatusCode.INVALID_ARGUMENT)
    api.public.SubmitWebForm(form("zhao.min@example.cn"))
    limited = rpc_error(api.public.SubmitWebForm, form("zhao.min@example.cn"))
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    api.public.SubmitWebForm(form("other@example.cn"))
    api.public.SubmitWebForm(form("third@example.cn"))  # the address's fifth this hour
    assert rpc_error(api.public.SubmitWebForm, form("fourth@example.cn")).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    support.clock.advance(hours=1, minutes=1)
    api.public.SubmitWebForm(form("fourth@example.cn"))

    applied = api.agent.ApplyMacro(pb.ApplyMacroRequest(ticket_id=one.id, macro_id="ask-tax-id"))
    assert applied.comment.body == f"您好 赵敏，请提供税号（工单 {one.number}）。"
    assert applied.ticket.status == "pending" and list(applied.ticket.tags) == ["billing"]

    chat = api.relay.InboundChat(pb.InboundChatRequest(conversation_id="conv-1", customer_email="chat@example.cn",
                                                       messages=[pb.ChatMessage(author="customer", text="登录不了")]))
    more = api.relay.InboundChat(pb.InboundChatRequest(conversation_id="conv-1", messages=[
        pb.ChatMessage(author="customer", text="提示密码错误")]))
    assert not chat.threaded and more.threaded and more.ticket.id == chat.ticket.id

    call = api.agent.LogCall(pb.LogCallRequest(ticket_id=one.id, direction="inbound", duration_seconds=300,
                                               summary="客户电话确认税号"))
    assert call.comment.channel == "phone" and not call.comment.public
    phone = api.agent.LogCall(pb.LogCallRequest(summary="VPN 连不上", contact_id=one.contact_id, priority="high"))
    assert phone.ticket.channel == "phone" and phone.ticket.contact_id == one.contact_id

    mine = api.agent2.ListTickets(pb.ListTicketsRequest(filter=pb.TicketFilter(assignee_id="agent.2"))).tickets
    assert two.id in [t.id for t in mine]
    assert api.rep.ListTickets(pb.ListTicketsRequest()).tickets == []  # a rep sees only their own
