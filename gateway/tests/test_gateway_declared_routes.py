"""The route table drives behaviour: declared actions and resources are checked against the
contract when the app is built, the fields a body may carry are the proto's declaration, and
what reaches a backend (any backend, here a recorder built from its contract) is what the
declaration says."""
from __future__ import annotations

import re
from typing import Any

import jwt
import pytest

from crm.sales.v1 import sales_pb2 as spb
from crm.support.v1 import support_pb2 as pb
from crm_gateway.actions import JSON, Action
from crm_gateway.crud import Resource
from crm_gateway.routes_contacts import ROUTES as contacts_routes
from crm_gateway.routes_sales import ROUTES as sales_routes
from crm_gateway.routes_support import ROUTES as support_routes
from crm_gateway.routing import QueryParam
from crm_gateway.schemas import REGISTRY
from crm_gateway.schemas import support as support_shapes
from crmkit.config import AuthSettings
from crmkit.fields import output_only, patchable

SECRET = "gateway-test-secret-0123456789abcdef"  # the conftest's
# What each service's update accepts today (support tickets.UPDATABLE, sales leads.EDITABLE).
TICKET_PATCHABLE = {"subject", "description", "type", "priority", "assignee_id", "group", "tags",
                    "notice_channel", "notice_phone"}  # how the customer hears of updates (SMS)
LEAD_EDITABLE = {"name", "company", "title", "phone", "email", "industry", "province", "city", "region", "notes",
                 "company_size", "budget", "currency_code", "campaign_id", "source"}


@pytest.fixture
def support(recorder: Any) -> Any:
    return recorder(pb)


@pytest.fixture
def sales(recorder: Any) -> Any:
    return recorder(spb)


@pytest.fixture
def gw(make_client: Any, settings: Any, support: Any, sales: Any) -> Any:
    return make_client(settings, optional_addrs={"support": support.address, "sales": sales.address})


# -- declarations are checked against the contract ----------------------------------------------

def _convert(**changes: Any) -> Action:
    fields: dict[str, Any] = {"rpc": "ConvertLead", "request": spb.ConvertLeadRequest, **changes}
    return Action("POST", "/api/v1/leads/<id>/convert", "convertLead", "Convert", "sales",
                  response=None, reply=JSON, **fields)


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"request": spb.CreateLeadRequest}, "ConvertLead takes ConvertLeadRequest"),
    ({"rpc": "ConvertLeads"}, "no RPC ConvertLeads"),
    ({"query": (QueryParam("colour"),)}, "query parameter colour fills no field"),
    ({"query": (QueryParam("opportunity_name", "date-time"),)}, "cannot take a date-time value"),
    ({"path": {"lead": "id"}}, r"path \['lead'\] not in"),
    ({"body_field": "amount"}, "need a body schema"),
])
def test_a_declaration_that_disagrees_with_the_contract_fails_when_built(changes: dict[str, Any],
                                                                         complaint: str) -> None:
    assert _convert().route().if_match is False
    with pytest.raises(ValueError, match=complaint):
        _convert(**changes).route()


def test_a_resource_builds_the_crud_routes_of_any_backend_from_the_naming_convention() -> None:
    tickets = Resource(pb, "Ticket", "/api/v1/tickets", "tickets",
                       {"create": "c", "list": "l", "get": "g", "update": "u", "delete": "d"},
                       support_shapes.TICKET, support_shapes.TICKET_INPUT, page=support_shapes.TICKET_PAGE)
    with pytest.raises(ValueError, match="DeleteTicketRequest"):  # support has no DeleteTicket
        tickets.actions()
    routes = [a.route() for a in Resource(pb, "Ticket", "/api/v1/tickets", "tickets",
                                          {"create": "c", "list": "l", "get": "g", "update": "u"},
                                          support_shapes.TICKET, support_shapes.TICKET_INPUT).actions()]
    assert [(r.method, r.rule, r.operation_id, r.status) for r in routes] == [
        ("POST", "/api/v1/tickets", "createTicket", 201), ("GET", "/api/v1/tickets", "listTickets", 200),
        ("GET", "/api/v1/tickets/<id>", "getTicket", 200), ("PATCH", "/api/v1/tickets/<id>", "updateTicket", 200)]
    assert [r.if_match for r in routes] == [False, False, False, True]  # UpdateTicketRequest.expected_version
    assert routes[0].location and routes[0].etag and not routes[1].etag


# -- which fields a body may carry is declared once, in the proto -------------------------------

def test_update_bodies_take_exactly_what_the_services_update_accepts() -> None:
    assert patchable(pb.Ticket) == TICKET_PATCHABLE
    assert patchable(spb.Lead) == LEAD_EDITABLE
    for name, message in (("TicketPatch", pb.Ticket), ("LeadUpdate", spb.Lead),
                          ("OpportunityUpdate", spb.Opportunity), ("QuoteRevision", spb.Quote)):
        assert set(REGISTRY.schemas[name]["properties"]) == patchable(message), name


def test_output_only_fields_are_read_only_in_answers_and_left_out_of_bodies() -> None:
    for message, body in ((pb.Ticket, "TicketInput"), (spb.Lead, "LeadInput"), (spb.Quote, "QuoteInput"),
                          (spb.QuoteLine, "QuoteLineInput"), (pb.Comment, "CommentInput")):
        shown = REGISTRY.schemas[message.DESCRIPTOR.name]["properties"]
        assert {k for k, v in shown.items() if v.get("readOnly")} == output_only(message)
        assert output_only(message) and not output_only(message) & set(REGISTRY.schemas[body]["properties"])
        assert output_only(message) <= REGISTRY.read_only[body]


def test_no_documented_request_body_invites_a_read_only_field(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]

    def read_only_in(schema: dict[str, Any], seen: set[str]) -> list[str]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            return [] if name in seen else read_only_in(schemas[name], seen | {name})
        found = [k for k, v in schema.get("properties", {}).items() if v.get("readOnly")]
        nested = [*schema.get("properties", {}).values(), schema.get("items"), schema.get("additionalProperties")]
        for v in nested:
            if isinstance(v, dict):
                found += read_only_in(v, seen)
        return found

    bodies = [(p, m, op["requestBody"]["content"]["application/json"]["schema"])
              for p, item in doc["paths"].items() for m, op in item.items()
              if "application/json" in op.get("requestBody", {}).get("content", {})]
    assert len(bodies) > 40
    assert [(p, m) for p, m, body in bodies if read_only_in(body, set())] == []


# -- what reaches the backend --------------------------------------------------------------------

def test_a_ticket_patch_names_its_mask_and_version_and_a_status_is_refused_before_support(
        gw: Any, auth: dict[str, str], support: Any) -> None:
    refused = gw.patch("/api/v1/tickets/t-1", headers=auth, json={"priority": "high", "status": "closed"})
    assert refused.status_code == 400
    assert refused.get_json()["errors"] == [{"field": "status", "message": "is read-only; the server sets it"}]
    assert support.calls == []
    support.answers["UpdateTicket"] = pb.Ticket(id="t-1", version=5, priority="high")
    changed = gw.patch("/api/v1/tickets/t-1", headers={**auth, "If-Match": '"4"'}, json={"priority": "high"})
    assert changed.status_code == 200 and changed.headers["ETag"] == '"5"'
    sent = support.last("UpdateTicket").request
    assert (sent.ticket.id, sent.ticket.priority, list(sent.update_mask.paths), sent.expected_version) == (
        "t-1", "high", ["priority"], 4)


def test_the_web_form_reaches_support_as_the_public_principal_with_the_visitor_address(
        gw: Any, support: Any) -> None:
    form = {"email": "zhou@example.cn", "subject": "退款", "description": "上周申请的"}
    assert gw.post("/api/v1/public/tickets", json={**form, "client_ip": "6.6.6.6"}).status_code == 400
    support.answers["SubmitWebForm"] = pb.SubmitWebFormResponse(ticket_number="T-000001")
    resp = gw.post("/api/v1/public/tickets", json=form)
    assert resp.status_code == 201 and resp.get_json() == {"ticket_number": "T-000001"}
    call = support.last("SubmitWebForm")
    assert call.request.client_ip == "127.0.0.1" and call.request.subject == "退款"
    claims = jwt.decode(call.metadata["authorization"].removeprefix("Bearer "), SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["roles"]) == ("public-web", ["public"])


def test_public_endpoints_are_503_without_a_service_credential(make_client: Any, settings: Any,
                                                               support: Any) -> None:
    jwks_only = AuthSettings(jwt_secret=None, jwks_url="http://127.0.0.1:9/jwks", issuer=None, audience=None)
    gw = make_client(settings, auth=jwks_only, optional_addrs={"support": support.address})
    resp = gw.get("/api/v1/public/kb/search", query_string={"q": "退款"})
    assert resp.status_code == 503 and "service credential" in resp.get_json()["detail"]
    assert support.calls == []


def test_a_public_reader_learns_only_the_feedback_counts(gw: Any, support: Any) -> None:
    support.answers["RateKbArticle"] = pb.KbArticle(id="a-1", title="如何退款", author_id="agent.1", version=2,
                                                    helpful_count=7, not_helpful_count=1)
    resp = gw.post("/api/v1/public/kb/articles/a-1/feedback", json={"helpful": True})
    assert resp.get_json() == {"id": "a-1", "helpful_count": 7, "not_helpful_count": 1}
    assert support.last("RateKbArticle").request.id == "a-1"


def test_a_chat_that_threads_into_its_ticket_is_200_and_a_new_one_201(gw: Any, auth: dict[str, str],
                                                                     support: Any) -> None:
    chat = {"conversation_id": "conv-1", "messages": [{"text": "你好"}]}
    assert gw.post("/api/v1/inbound/chat", headers=auth, json=chat).status_code == 201
    support.answers["InboundChat"] = pb.InboundChatResponse(threaded=True)
    assert gw.post("/api/v1/inbound/chat", headers=auth, json=chat).status_code == 200


def test_an_empty_settings_put_replaces_that_routes_sections_only(gw: Any, auth: dict[str, str],
                                                                  support: Any) -> None:
    assert gw.put("/api/v1/support/sla-policies", headers=auth, json={}).status_code == 200
    assert list(support.last("UpdateSupportSettings").request.update_mask.paths) == ["sla_policies",
                                                                                      "business_hours"]
    assert gw.put("/api/v1/support/macros", headers=auth, json={"routing_rules": []}).status_code == 400


def test_list_query_values_fill_the_filter_and_the_page(gw: Any, auth: dict[str, str], sales: Any) -> None:
    sales.answers["ListLeads"] = spb.ListLeadsResponse(leads=[spb.Lead(id="l-1", version=1)],
                                                       page={"next_page_token": "p2"})
    resp = gw.get("/api/v1/leads", headers=auth,
                  query_string={"q": "重工", "min_score": "10", "unassigned": "true", "page_size": "5"})
    assert resp.get_json()["next_page_token"] == "p2" and resp.get_json()["items"][0]["id"] == "l-1"
    sent = sales.last("ListLeads").request
    assert (sent.filter.query, sent.filter.min_score, sent.filter.unassigned, sent.page.page_size) == (
        "重工", 10, True, 5)


def test_a_lead_update_refuses_what_sales_would_not_change_and_a_delegation_defaults_to_the_caller(
        gw: Any, auth: dict[str, str], sales: Any) -> None:
    resp = gw.patch("/api/v1/leads/l-1", headers=auth, json={"score": 99})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["field"] == "score"
    assert gw.patch("/api/v1/leads/l-1", headers=auth, json={}).get_json()["errors"][0]["field"] == "body"
    assert sales.calls == []
    made = gw.post("/api/v1/sales/delegations", headers=auth,
                   json={"to_user_id": "rep.north.2", "ends_at": "2026-01-31T00:00:00Z"})
    assert made.status_code == 201
    assert sales.last("DelegateWork").request.delegation.from_user_id == "rep.north.1"


def test_an_article_answered_with_its_version_documents_the_etag_it_sends(gw: Any, support: Any) -> None:
    doc = gw.get("/api/v1/openapi.json").get_json()
    get = doc["paths"]["/api/v1/public/kb/articles/{id}"]["get"]
    assert "ETag" in get["responses"]["200"]["headers"] and "304" in get["responses"]
    assert "If-None-Match" in {p["name"] for p in get["parameters"]}
    support.answers["GetKbArticle"] = pb.KbArticle(id="a-1", version=2, status="published")
    assert gw.get("/api/v1/public/kb/articles/a-1").headers["ETag"] == '"2"'
    assert gw.get("/api/v1/public/kb/articles/a-1", headers={"If-None-Match": '"2"'}).status_code == 304



def test_no_body_field_is_also_given_by_the_url_or_if_match() -> None:
    checked = 0
    for action in (r for r in (*contacts_routes, *sales_routes, *support_routes) if isinstance(r, Action)):
        if action.body is None:
            continue
        body = set(REGISTRY.schemas[action.body["$ref"].rsplit("/", 1)[1]]["properties"])
        taken = {action.path.get(v, v) for v in re.findall(r"<([^<>]+)>", action.rule)}
        if "expected_version" in action.request.DESCRIPTOR.fields_by_name:
            taken.add("expected_version")
        holder = action.body_field
        inside = {t.removeprefix(f"{holder}.") for t in taken if not holder or t.startswith(f"{holder}.")}
        assert not inside & body, (action.operation_id, inside & body)
        checked += bool(inside)
    assert checked > 15
