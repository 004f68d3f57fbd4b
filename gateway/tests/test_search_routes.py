"""GET /api/v1/search/customers against a fake ContactsService.SearchCustomers on a real gRPC
server: what reaches the backend, the JSON that comes back, and input refused before it does."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1 import contacts_pb2_grpc
from crmkit.auth import TokenVerifier, current_principal
from crmkit.errors import InvalidArgument
from crmkit.grpc_server import GrpcServer
from crmkit.limits import MAX_QUERY

URL = "/api/v1/search/customers"


class FakeSearch(contacts_pb2_grpc.ContactsServiceServicer):
    def __init__(self) -> None:
        self.calls: list[tuple[pb.SearchCustomersRequest, str, dict[str, str]]] = []

    def SearchCustomers(self, request: Any, context: Any) -> Any:
        self.calls.append((request, current_principal().user_id, dict(context.invocation_metadata())))
        if request.query == "boom":
            raise InvalidArgument("offset must be at least 0", field="offset")
        if request.query == "down":
            context.abort(grpc.StatusCode.UNAVAILABLE, "search unavailable")
        lit = request.highlight if request.HasField("highlight") else True  # as the service reads it
        hit = pb.CustomerHit(
            id="c1", kind="contact", name="张伟", company="华为技术有限公司", score=3.25, owner_id="rep.north.1",
            highlights=[pb.SearchHighlight(field="company", fragments=["<em>华为</em>技术有限公司"])] if lit else [],
        )
        return pb.SearchCustomersResponse(hits=[hit], total=41)


@pytest.fixture
def search_backend(settings: Any) -> Iterator[tuple[FakeSearch, str]]:
    fake = FakeSearch()
    server = GrpcServer(
        service="contacts", port=0, host="127.0.0.1", verifier=TokenVerifier(settings.auth),
        registrations=[lambda s: contacts_pb2_grpc.add_ContactsServiceServicer_to_server(fake, s)],
        service_names=["crm.contacts.v1.ContactsService"], max_workers=4,
    ).start()
    yield fake, f"127.0.0.1:{server.port}"
    server.server.stop(0)


@pytest.fixture
def search_client(make_client: Any, settings: Any, search_backend: tuple[FakeSearch, str]) -> Any:
    return make_client(settings, contacts_addr=search_backend[1])


def test_a_search_forwards_query_kind_and_paging_as_the_caller(search_client, search_backend, auth) -> None:
    fake, _ = search_backend
    r = search_client.get(URL, query_string={"q": "华为", "kind": "contact", "limit": "5", "offset": "10"},
                          headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json == {"items": [{
        "id": "c1", "kind": "contact", "name": "张伟", "company": "华为技术有限公司",
        "highlights": [{"field": "company", "fragments": ["<em>华为</em>技术有限公司"]}],
        "score": 3.25, "title": "", "owner_id": "rep.north.1", "region": "", "level": "", "city": "",
    }], "total": 41}
    [(request, user, md)] = fake.calls
    assert (request.query, request.kind, request.limit, request.offset) == ("华为", "contact", 5, 10)
    assert user == "rep.north.1" and md["authorization"] == auth["Authorization"]


def test_defaults_leave_kind_limit_and_offset_to_the_service(search_client, search_backend, auth) -> None:
    r = search_client.get(URL, query_string={"q": "13800138000"}, headers=auth)
    assert r.status_code == 200
    request = search_backend[0].calls[-1][0]
    assert (request.query, request.kind, request.limit, request.offset) == ("13800138000", "", 0, 0)
    assert not request.HasField("highlight"), "absent: the service highlights, as before"


@pytest.mark.parametrize(("value", "highlight"), [("false", False), ("0", False), ("true", True), ("1", True)])
def test_highlight_is_forwarded_and_false_brings_hits_without_highlights(
        search_client, search_backend, auth, value, highlight) -> None:
    r = search_client.get(URL, query_string={"q": "华为", "highlight": value}, headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    request = search_backend[0].calls[-1][0]
    assert request.HasField("highlight") and request.highlight is highlight
    [item] = r.json["items"]
    assert item["id"] == "c1" and bool(item["highlights"]) is highlight


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * (MAX_QUERY + 1)}, "q"),
    ({"q": "华为", "kind": "lead"}, "kind"),
    ({"q": "华为", "limit": "0"}, "limit"),
    ({"q": "华为", "limit": "101"}, "limit"),
    ({"q": "华为", "offset": "-1"}, "offset"),
    ({"q": "华为", "page": "2"}, "page"),
    ({"q": "华为", "highlight": "no"}, "highlight"),
])
def test_bad_input_is_a_400_naming_the_parameter_and_never_reaches_the_service(
        search_client, search_backend, auth, params, field) -> None:
    r = search_client.get(URL, query_string=params, headers=auth)
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert [e["field"] for e in r.json["errors"]] == [field]
    assert search_backend[0].calls == []


def test_max_query_characters_are_accepted(search_client, auth) -> None:
    assert search_client.get(URL, query_string={"q": "华" * MAX_QUERY}, headers=auth).status_code == 200


def test_the_services_refusals_and_outages_map_to_problems(search_client, auth) -> None:
    refused = search_client.get(URL, query_string={"q": "boom"}, headers=auth)
    assert refused.status_code == 400 and refused.json["errors"][0]["field"] == "offset"
    down = search_client.get(URL, query_string={"q": "down"}, headers=auth)
    assert down.status_code == 503


def test_a_search_needs_a_bearer_token(search_client, search_backend) -> None:
    assert search_client.get(URL, query_string={"q": "华为"}).status_code == 401
    assert search_backend[0].calls == []


def test_the_route_is_documented_with_its_parameters(search_client) -> None:
    doc = search_client.get("/api/v1/openapi.json").json
    op = doc["paths"]["/api/v1/search/customers"]["get"]
    params = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert set(params) == {"q", "kind", "limit", "offset", "highlight"}
    highlight = params["highlight"]
    assert highlight["schema"] == {"type": "boolean"} and "without highlights" in highlight["description"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CustomerSearchResults"}
    assert "CustomerHit" in doc["components"]["schemas"]
