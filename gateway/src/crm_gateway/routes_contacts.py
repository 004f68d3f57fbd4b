"""Contacts (people): /api/v1/contacts, plus merge, tags, interactions, timeline and the
duplicate check."""
from __future__ import annotations

from typing import Any

from flask import Response

from crm.contacts.v1 import contacts_pb2 as pb
from crm_gateway.crud import Resource, crud_routes
from crm_gateway.routing import (
    Call,
    Route,
    metadata,
    page_response,
    resource_response,
    state,
)
from crm_gateway.schema import to_message
from crm_gateway.shapes import (
    CONTACT,
    CONTACT_INPUT,
    CONTACT_LIST_PARAMS,
    CONTACT_MATCHES,
    CONTACT_PAGE,
    INTERACTION,
    INTERACTION_INPUT,
    MERGE_INPUT,
    PAGE_PARAMS,
    TAGS_INPUT,
    TIMELINE_PAGE,
    page_request,
)

CONTACTS = Resource("Contact", "contacts", CONTACT, CONTACT_INPUT, CONTACT_PAGE, CONTACT_LIST_PARAMS)
ITEM = f"{CONTACTS.collection}/<id>"


def _call(method: str, request: Any) -> Any:
    return state().backends.contacts.call(method, request, metadata=metadata())


def merge(c: Call, id: str) -> Response:
    request = pb.MergeContactsRequest(survivor_id=id, merged_ids=c.body["merged_ids"])
    return resource_response(_call("MergeContacts", request).survivor)


def tag(c: Call, id: str) -> Response:
    request = pb.TagContactRequest(id=id, add=c.body.get("add", []), remove=c.body.get("remove", []))
    return resource_response(_call("TagContact", request))


def log_interaction(c: Call, id: str) -> Response:
    interaction = to_message(c.body, pb.Interaction())
    interaction.contact_id = id
    logged = _call("LogInteraction", pb.LogInteractionRequest(interaction=interaction))
    return resource_response(logged, status=201)


def timeline(c: Call, id: str) -> Response:
    answer = _call("ListTimeline", pb.ListTimelineRequest(contact_id=id, page=page_request(c.query)))
    return page_response(answer.entries, answer.page.next_page_token)


def find_duplicates(c: Call) -> Response:
    candidate = to_message(c.body, pb.Contact())
    answer = _call("FindDuplicates", pb.FindDuplicatesRequest(candidate=candidate))
    return page_response(answer.matches)


ROUTES: list[Route] = [
    *crud_routes(CONTACTS),
    Route("POST", f"{ITEM}/merge", merge, "mergeContacts",
          "Merge the listed contacts into this one (the survivor)", "contacts",
          body=MERGE_INPUT, response=CONTACT, etag=True),
    Route("POST", f"{ITEM}/tags", tag, "tagContact", "Add and remove tags", "contacts",
          body=TAGS_INPUT, response=CONTACT, etag=True),
    Route("POST", f"{ITEM}/interactions", log_interaction, "logInteraction",
          "Log a call, email, meeting or note with this contact", "contacts",
          body=INTERACTION_INPUT, response=INTERACTION, status=201),
    Route("GET", f"{ITEM}/timeline", timeline, "listTimeline",
          "The 360° timeline of this contact, newest first", "contacts",
          response=TIMELINE_PAGE, query=PAGE_PARAMS),
    Route("POST", f"{CONTACTS.collection}/duplicates", find_duplicates, "findDuplicates",
          "Existing contacts that look like the candidate in the body", "contacts",
          body=CONTACT_INPUT, response=CONTACT_MATCHES),
]
