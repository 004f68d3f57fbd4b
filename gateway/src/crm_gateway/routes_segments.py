"""Segments and consent → crm.contacts.v1.ContactsService: /api/v1/segments (saved filters, their
members, their count, a preview of an unsaved filter) and /api/v1/contacts/<id>/consents (record a
decision per purpose, read the history). Members are always the caller's visible contacts."""
from __future__ import annotations

from crm.contacts.v1 import contacts_pb2 as pb
from crm_gateway.actions import JSON, Action, items
from crm_gateway.crud import Resource
from crm_gateway.routing import API
from crm_gateway.schemas import PAGE_PARAMS
from crm_gateway.schemas import contacts as sh

SEGMENTS = f"{API}/segments"
SEGMENT = f"{SEGMENTS}/<id>"
CONSENTS = f"{API}/contacts/<id>/consents"

SEGMENT_ROUTES = Resource(pb, "Segment", SEGMENTS, "segments", {
    "create": "Save a segment: a dynamic filter over contacts (region, province, city, industry, level, source, "
              "tags, custom fields, lifecycle stage, days without interaction, yearly spend band, consent)",
    "list": "Every saved segment (segments are shared; their members are per caller)",
    "get": "A segment",
    "update": "Change a segment's name, description, filter (replaced as a whole) or owner",
    "delete": "Delete a segment",
}, sh.SEGMENT, sh.SEGMENT_INPUT, sh.SEGMENT_PATCH, sh.SEGMENT_PAGE, PAGE_PARAMS)

ROUTES: list[Action] = [
    Action("POST", f"{SEGMENTS}/preview", "previewSegment", "Count and sample the contacts an unsaved filter "
           "selects for the caller (nothing is saved)", "segments", "PreviewSegment", pb.PreviewSegmentRequest,
           sh.SEGMENT_PREVIEW, JSON, body=sh.SEGMENT_PREVIEW_INPUT),
    *SEGMENT_ROUTES.actions(),
    Action("GET", f"{SEGMENT}/members", "listSegmentMembers", "The segment's contacts visible to the caller, in a "
           "stable order: follow next_page_token to the end for every member", "segments", "ListSegmentMembers",
           pb.ListSegmentMembersRequest, sh.CONTACT_PAGE, items("contacts", paged=True), path={"id": "segment_id"},
           query=sh.MEMBER_PAGE_PARAMS),
    Action("GET", f"{SEGMENT}/count", "countSegmentMembers", "How many of the segment's contacts the caller sees",
           "segments", "CountSegmentMembers", pb.CountSegmentMembersRequest, sh.SEGMENT_COUNT, JSON,
           path={"id": "segment_id"}),
    Action("POST", CONSENTS, "recordConsent", "Record a consent decision for one purpose (granted: false "
           "withdraws); answers the contact with its current consents", "consent", "RecordConsent",
           pb.RecordConsentRequest, sh.CONTACT, body=sh.CONSENT_INPUT, body_field="consent",
           path={"id": "contact_id"}),
    Action("GET", CONSENTS, "listConsentHistory", "Every consent decision of the contact, newest first", "consent",
           "ListConsentHistory", pb.ListConsentHistoryRequest, sh.CONSENT_HISTORY, items("history"),
           path={"id": "contact_id"}),
]
