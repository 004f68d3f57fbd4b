"""Customer search: /api/v1/search/customers → ContactsService.SearchCustomers.

The contacts service applies the caller's visibility (a rep finds only their own customers), so
the gateway only checks the input and forwards the caller's token."""
from __future__ import annotations

from flask import Response

from crm.contacts.v1 import contacts_pb2 as pb
from crm_gateway.problems import invalid_field
from crm_gateway.routing import API, Call, QueryParam, Route, json_response, metadata, state
from crm_gateway.serialize import to_json
from crm_gateway.shapes import REGISTRY

MAX_Q = 256
CUSTOMER_HIT = REGISTRY.message(pb.CustomerHit.DESCRIPTOR)
SEARCH_RESULTS = REGISTRY.add("CustomerSearchResults", {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": CUSTOMER_HIT},
        "total": {"type": "integer", "description": "every match the caller may see, not only this page"},
    },
    "required": ["items", "total"],
    "additionalProperties": False,
})
SEARCH_PARAMS = (
    QueryParam("q", description=f"required, 1 to {MAX_Q} characters: a name, a company, a phone number "
                                "in any format, an email, a tag or a place; a prefix matches as you type"),
    QueryParam("kind", description="contact | account; both when omitted", choices=("contact", "account")),
    QueryParam("limit", "integer", "hits per page (20 when omitted)", 1, 100),
    QueryParam("offset", "integer", "hits to skip, for the next page (offset + limit ≤ 10000)", 0, 9999),
)


def search_customers(c: Call) -> Response:
    q = c.query.get("q", "")
    if not q.strip():
        raise invalid_field("q", "required: what to search for")
    if len(q) > MAX_Q:
        raise invalid_field("q", f"at most {MAX_Q} characters")
    request = pb.SearchCustomersRequest(query=q, kind=c.query.get("kind", ""), limit=c.query.get("limit", 0),
                                        offset=c.query.get("offset", 0))
    # A search is a read: safe to retry on UNAVAILABLE.
    answer = state().backends.contacts.call("SearchCustomers", request, metadata=metadata(), idempotent=True)
    return json_response({"items": [to_json(hit) for hit in answer.hits], "total": answer.total})


ROUTES: list[Route] = [
    Route("GET", f"{API}/search/customers", search_customers, "searchCustomers",
          "Search the contacts and accounts the caller may see, best match first", "search",
          response=SEARCH_RESULTS, query=SEARCH_PARAMS),
]
