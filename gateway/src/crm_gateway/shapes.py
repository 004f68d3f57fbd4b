"""The named shapes of the API: JSON schemas derived from the proto messages, the query
parameters of the list endpoints, and their translation into ListFilter / PageRequest."""
from __future__ import annotations

from typing import Any

from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2 as pb
from crm.reporting.v1 import reporting_pb2
from crm_gateway.routing import QueryParam, copy_timestamp
from crm_gateway.schema import SERVER_OWNED, SchemaRegistry

REGISTRY = SchemaRegistry()
_r = REGISTRY

CONTACT = _r.message(pb.Contact.DESCRIPTOR)
CONTACT_INPUT = _r.message(pb.Contact.DESCRIPTOR, name="ContactInput", exclude=SERVER_OWNED)
ACCOUNT = _r.message(pb.Account.DESCRIPTOR)
ACCOUNT_INPUT = _r.message(pb.Account.DESCRIPTOR, name="AccountInput", exclude=SERVER_OWNED)
INTERACTION = _r.message(pb.Interaction.DESCRIPTOR)
# contact_id comes from the URL; id is the server's.
INTERACTION_INPUT = _r.message(
    pb.Interaction.DESCRIPTOR, name="InteractionInput", exclude={"id", "contact_id"}
)
TIMELINE_ENTRY = _r.message(pb.TimelineEntry.DESCRIPTOR)
CUSTOM_FIELD = _r.message(pb.CustomFieldDefinition.DESCRIPTOR)
MERGE_INPUT = _r.message(pb.MergeContactsRequest.DESCRIPTOR, name="MergeInput", exclude={"survivor_id"})
_r.schemas["MergeInput"]["required"] = ["merged_ids"]
_r.schemas["MergeInput"]["properties"]["merged_ids"]["minItems"] = 1
TAGS_INPUT = _r.message(pb.TagContactRequest.DESCRIPTOR, name="TagsInput", exclude={"id"})
CUSTOMER_COUNTS = _r.message(reporting_pb2.CustomerCounts.DESCRIPTOR)

CONTACT_PAGE = _r.page(CONTACT, "ContactPage")
ACCOUNT_PAGE = _r.page(ACCOUNT, "AccountPage")
TIMELINE_PAGE = _r.page(TIMELINE_ENTRY, "TimelinePage")
CONTACT_MATCHES = _r.page(CONTACT, "ContactMatches", paged=False)
CUSTOM_FIELD_LIST = _r.page(CUSTOM_FIELD, "CustomFieldList", paged=False)
PROBLEM = _r.add("Problem", {
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

PAGE_PARAMS = (
    QueryParam("page_size", "integer", "items per page (service default when omitted)", 1, 200),
    QueryParam("page_token", description="next_page_token from the previous page"),
)
_FILTERS = (
    QueryParam("owner_id"),
    QueryParam("region"),
    QueryParam("tag"),
    QueryParam("level", description="vip | regular | prospect"),
    QueryParam("source"),
    QueryParam("created_after", "date-time"),
    QueryParam("created_before", "date-time"),
    QueryParam("updated_since", "date-time"),
    QueryParam("q", description="case-insensitive substring of the name or company"),
)
ACCOUNT_LIST_PARAMS = (*_FILTERS, *PAGE_PARAMS)
CONTACT_LIST_PARAMS = (*_FILTERS, QueryParam("account_id"), *PAGE_PARAMS)
ALLOW_DUPLICATE = QueryParam(
    "allow_duplicate", "boolean", "create even when a likely duplicate exists"
)


def list_filter(query: dict[str, Any]) -> pb.ListFilter:
    flt = pb.ListFilter(
        owner_id=query.get("owner_id", ""),
        region=query.get("region", ""),
        tag=query.get("tag", ""),
        level=query.get("level", ""),
        source=query.get("source", ""),
        account_id=query.get("account_id", ""),
        query=query.get("q", ""),
    )
    copy_timestamp(flt.created_after, query.get("created_after"))
    copy_timestamp(flt.created_before, query.get("created_before"))
    copy_timestamp(flt.updated_since, query.get("updated_since"))
    return flt


def page_request(query: dict[str, Any]) -> types_pb2.PageRequest:
    return types_pb2.PageRequest(
        page_size=query.get("page_size", 0), page_token=query.get("page_token", "")
    )
