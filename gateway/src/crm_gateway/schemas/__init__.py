"""The named shapes of the API, one module per service domain (contacts, sales, support,
reports): JSON schemas derived from the proto messages, registered in the one REGISTRY that both
the validator and the OpenAPI document read, and the query parameters of each route.

Which fields a body may carry is the proto's word (`crmkit.fields`): `REGISTRY.input(...)` leaves
out the output-only fields and `REGISTRY.patch(...)` keeps only the patchable ones. What a module
here still excludes by hand is what the route itself supplies: an id from the URL, the expected
version from If-Match."""
from __future__ import annotations

from crm_gateway.routing import QueryParam
from crm_gateway.schema import SchemaRegistry

REGISTRY = SchemaRegistry()

PROBLEM = REGISTRY.add("Problem", {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object",
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            "required": ["field", "message"],
        }},
        "existing_id": {"type": "string", "description": "on a duplicate: the record that exists"},
        "existing_url": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
})

# A page token is what crmkit.paging issues: "s<sequence>" in unpadded URL-safe base64 (up to 16
# digits). Spelled out so that the document admits exactly the tokens a service accepts; "" is the
# first page, as when it is absent.
# Each base64 character pair below spells one ASCII digit's bits and no other byte's.
_FIRST, _LAST, _PAIR = "[AEIMQUYcgk]", "[w-z0-5]", "([MN][DTjz]|O[DT])"
PAGE_TOKEN_PATTERN = (f"^(cz{_FIRST}({_LAST}({_PAIR}{_FIRST}{_LAST}){{0,4}}"
                      f"([MN][AQgw]|O[AQ]|{_PAIR}{_FIRST})?)?)?$")
PAGE_TOKEN = QueryParam("page_token", description="next_page_token from the previous page",
                        pattern=PAGE_TOKEN_PATTERN)
PAGE_PARAMS = (
    QueryParam("page_size", "integer", "items per page (service default when omitted)", 1, 200),
    PAGE_TOKEN,
)
# A cursor over text keys (crmkit.paging.encode_key: a list ordered by name or id, not by sequence).
KEY_PAGE_PARAMS = (
    QueryParam("page_size", "integer", "items per page (200 when omitted)", 1, 200),
    QueryParam("page_token", description="next_page_token from the previous page", pattern="^[A-Za-z0-9_-]*$",
               max_length=1200),
)
# A cursor over (time, sequence): the timeline's; opaque, refused by the service when not its own.
TIME_PAGE_PARAMS = (
    QueryParam("page_size", "integer", "items per page (service default when omitted)", 1, 200),
    QueryParam("page_token", description="next_page_token from the previous page", pattern="^[A-Za-z0-9_-]*$",
               max_length=200),
)
