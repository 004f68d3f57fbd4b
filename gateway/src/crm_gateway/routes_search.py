"""Customer search: /api/v1/search/customers → ContactsService.SearchCustomers.

Hand-written because the answer is reshaped ({"items", "total"} from the RPC's hits). The
contacts service applies the caller's visibility (a rep finds only their own customers), so the
gateway only checks the input and forwards the caller's token."""
from __future__ import annotations

from flask import Response

from crm.contacts.v1 import contacts_pb2 as pb
from crm_gateway.problems import invalid_field
from crm_gateway.routing import API, Call, Route, json_response, metadata, state
from crm_gateway.schemas.contacts import MAX_Q, SEARCH_PARAMS, SEARCH_RESULTS
from crm_gateway.serialize import to_json


def search_customers(c: Call) -> Response:
    q = c.query.get("q", "")
    if not q.strip():
        raise invalid_field("q", "required: what to search for")
    if len(q) > MAX_Q:
        raise invalid_field("q", f"at most {MAX_Q} characters")
    request = pb.SearchCustomersRequest(query=q, kind=c.query.get("kind", ""), limit=c.query.get("limit", 0),
                                        offset=c.query.get("offset", 0), highlight=c.query.get("highlight"))
    # A search is a read: safe to retry on UNAVAILABLE.
    answer = state().backends.contacts.call("SearchCustomers", request, metadata=metadata(), idempotent=True)
    return json_response({"items": [to_json(hit) for hit in answer.hits], "total": answer.total})


ROUTES: list[Route] = [
    Route("GET", f"{API}/search/customers", search_customers, "searchCustomers",
          "Search the contacts and accounts the caller may see, best match first", "search",
          response=SEARCH_RESULTS, query=SEARCH_PARAMS),
]
