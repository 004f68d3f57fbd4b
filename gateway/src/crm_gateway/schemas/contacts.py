"""Contacts domain shapes (crm.contacts.v1): accounts, contacts, interactions and the timeline,
custom fields, customer search, segments and consent."""
from __future__ import annotations

from crm.common.v1 import pool_pb2
from crm.contacts.v1 import contacts_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schema import NOT_BLANK, picklist_description
from crm_gateway.schemas import PAGE_PARAMS, PAGE_TOKEN, REGISTRY
from crmkit import limits
from crmkit.consent_purposes import PURPOSES

_r = REGISTRY
# The vocabularies contacts enforces (crm_contacts.rules.records), stated as enums here; source,
# industry, level and lifecycle_stage are the tenant's picklists (x-picklist, crmkit.picklists).
INTERACTION_KINDS = ("call", "email", "meeting", "note")
LANGUAGE = {"pattern": r"^$|^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", "maxLength": 35}  # BCP 47 as typed

CONTACT = _r.message(pb.Contact)
CONTACT_INPUT = _r.input(pb.Contact)
CONTACT_PATCH = _r.input(pb.Contact, "ContactPatch")
DUPLICATE_CANDIDATE = _r.input(pb.Contact, "DuplicateCandidate")
CONTACT_PAGE = _r.page(CONTACT, "ContactPage")
CONTACT_MATCHES = _r.page(CONTACT, "ContactMatches", paged=False)
ACCOUNT = _r.message(pb.Account)
ACCOUNT_INPUT = _r.input(pb.Account)
ACCOUNT_PATCH = _r.input(pb.Account, "AccountPatch")
for _name in ("ContactInput", "AccountInput"):
    _r.require_text(_name, "name")
for _name in ("ContactPatch", "AccountPatch"):  # not required in a patch, but never blank
    _r.schemas[_name]["properties"]["name"]["pattern"] = NOT_BLANK
for _name in ("ContactInput", "ContactPatch", "DuplicateCandidate"):
    _r.schemas[_name]["properties"]["language"].update(LANGUAGE)
ACCOUNT_PAGE = _r.page(ACCOUNT, "AccountPage")
# the public pool (公海) of customers
POOL_PARAMS = (
    QueryParam("team", description="another team's pool (managers, admins); the caller's team by default"),
    QueryParam("q", description="substring of the name"),
    *PAGE_PARAMS,
)
POOL_LIST_FIELDS = {"q": "query"}
ACCOUNT_RELEASE_INPUT = _r.input(pb.ReleaseAccountRequest, "AccountRelease", exclude={"id"}, required=("reason",))
_r.require_text("AccountRelease", "reason")
_r.schemas["AccountRelease"]["properties"]["reason"]["maxLength"] = 500  # crmkit.pool.MAX_REASON
ACCOUNT_POOL_ASSIGN_INPUT = _r.input(pb.AssignAccountFromPoolRequest, "AccountPoolAssignment", exclude={"id"},
                                     required=("owner_id",))
_r.require_text("AccountPoolAssignment", "owner_id")
ACCOUNT_POOL_MOVES = _r.page(_r.message(pool_pb2.PoolMove), "AccountPoolMoveList", paged=False)
INTERACTION = _r.message(pb.Interaction)
# contact_id is the URL's; id is the server's (not yet OUTPUT_ONLY in contacts.proto).
INTERACTION_INPUT = _r.input(pb.Interaction, exclude={"id", "contact_id"}, required=("kind",))
_r.enum("InteractionInput", "kind", INTERACTION_KINDS, empty=False)
TIMELINE_PAGE = _r.page(_r.message(pb.TimelineEntry), "TimelinePage")
MERGE_INPUT = _r.input(pb.MergeContactsRequest, "MergeInput", exclude={"survivor_id"},
                       required=("merged_ids",))
_r.schemas["MergeInput"]["properties"]["merged_ids"]["minItems"] = 1
TAGS_INPUT = _r.input(pb.TagContactRequest, "TagsInput", exclude={"id"})
for _name in ("add", "remove"):  # contacts' rules/records.py: a tag is 1 to 100 characters, trimmed
    _r.schemas["TagsInput"]["properties"][_name]["items"].update(
        {"pattern": NOT_BLANK, "maxLength": 100, "x-pattern-message": "a tag must not be blank"})
CUSTOM_FIELD = _r.message(pb.CustomFieldDefinition)
_r.enum("CustomFieldDefinition", "entity", ("contact", "account"), empty=False)
_r.require_text("CustomFieldDefinition", "entity", "key")
_r.schemas["CustomFieldDefinition"]["properties"]["key"]["pattern"] = "^[a-z][a-z0-9_]{0,63}$"  # snake_case
_r.enum("CustomFieldDefinition", "type", ("text", "number", "boolean", "date", "choice"), empty=False)
_r.schemas["CustomFieldDefinition"]["required"] = sorted({*_r.schemas["CustomFieldDefinition"]["required"], "type"})
CUSTOM_FIELD_LIST = _r.page(CUSTOM_FIELD, "CustomFieldList", paged=False)

_FILTERS = (
    QueryParam("owner_id"),
    QueryParam("region"),
    QueryParam("tag"),
    QueryParam("level", description=picklist_description("level"), picklist="level"),
    QueryParam("source", description=picklist_description("source"), picklist="source"),
    QueryParam("created_after", "date-time"),
    QueryParam("created_before", "date-time"),
    QueryParam("updated_since", "date-time"),
    QueryParam("q", description="case-insensitive substring of the name or company"),
)
ACCOUNT_LIST_PARAMS = (*_FILTERS, *PAGE_PARAMS)
CONTACT_LIST_PARAMS = (*_FILTERS, QueryParam("account_id"), *PAGE_PARAMS)
LIST_FIELDS = {"q": "filter.query"}  # every other list parameter names its ListFilter field
ALLOW_DUPLICATE = QueryParam("allow_duplicate", "boolean", "create even when a likely duplicate exists")
CUSTOM_FIELD_PARAMS = (
    QueryParam("entity", description="contact | account; all when omitted", choices=("contact", "account")),
)

# -- customer search
MAX_Q = limits.MAX_QUERY
CUSTOMER_HIT = _r.message(pb.CustomerHit)
SEARCH_RESULTS = _r.add("CustomerSearchResults", {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": CUSTOMER_HIT},
        "total": {"type": "integer", "description": "every match the caller may see, not only this page"},
    },
    "required": ["items", "total"],
    "additionalProperties": False,
})
SEARCH_PARAMS = (
    QueryParam("q", description=f"1 to {MAX_Q} characters, not blank: a name, a company, a phone number "
                                "in any format, an email, a tag or a place; a prefix matches as you type",
               pattern=NOT_BLANK, required=True, max_length=MAX_Q),
    QueryParam("kind", description="contact | account; both when omitted", choices=("contact", "account")),
    QueryParam("limit", "integer", "hits per page (20 when omitted)", 1, 100),
    QueryParam("offset", "integer", "hits to skip, for the next page (offset + limit ≤ 10000)", 0, 9999),
    QueryParam("highlight", "boolean", "true when omitted; false: hits come without highlights, a faster "
                                       "search for a caller that does not show them"),
)

# -- segments and consent (routes_segments.py)
SEGMENT = _r.message(pb.Segment)
SEGMENT_INPUT = _r.input(pb.Segment, required=("name",))
_r.require_text("SegmentInput", "name")
_r.enum("SegmentFilter", "spend_of", ("contact", "account"))
_r.enum("SegmentFilter", "consent_purpose", PURPOSES)
for _name in ("regions", "provinces", "cities", "industries", "tags_all", "tags_any", "sources", "levels",
              "lifecycle_stages"):  # values, never blank
    _r.schemas["SegmentFilter"]["properties"][_name]["items"].update(
        {"pattern": NOT_BLANK, "x-pattern-message": "a value must not be blank"})
for _name in ("tags_all", "tags_any"):
    _r.schemas["SegmentFilter"]["properties"][_name]["items"]["maxLength"] = 100  # a tag's bound
SEGMENT_PATCH = _r.patch(pb.Segment, "SegmentPatch")
_r.schemas["SegmentPatch"]["properties"]["name"].update({"pattern": NOT_BLANK, "x-pattern-message": "must not be blank"})
_r.schemas["SegmentFilter"]["properties"]["no_interaction_days"]["minimum"] = 0  # 0: no criterion
SEGMENT_PAGE = _r.page(SEGMENT, "SegmentPage")
SEGMENT_COUNT = _r.message(pb.CountSegmentMembersResponse, name="SegmentCount")
SEGMENT_PREVIEW_INPUT = _r.input(pb.PreviewSegmentRequest, "SegmentPreviewInput")
_r.schemas["SegmentPreviewInput"]["properties"]["page_size"].update(minimum=0, maximum=100)
SEGMENT_PREVIEW = _r.message(pb.PreviewSegmentResponse, name="SegmentPreview")
MEMBER_PAGE_PARAMS = (
    QueryParam("page_size", "integer", "members per page (50 when omitted)", 1, 1000),
    PAGE_TOKEN,
)
CONSENT = _r.message(pb.Consent)
CONSENT_INPUT = _r.input(pb.Consent, required=("purpose", "granted"))
_r.enum("ConsentInput", "purpose", PURPOSES, empty=False)
_r.enum("ConsentInput", "lawful_basis", ("consent", "contract", "legal_obligation", "vital_interests", "public_task",
                                         "legitimate_interest"))  # "": consent
_r.enum("Phone", "kind", ("mobile", "work", "home", "fax", "other"))
# contacts' rules/consent.py: <kind> or <kind>:<reference> ("" is api)
_CONSENT_KINDS = ("web_form", "import", "unsubscribe_link", "preference_center", "double_opt_in", "agent", "api",
                  "sms_reply")
_r.schemas["ConsentInput"]["properties"]["source"].update(
    {"pattern": rf"^$|^({'|'.join(_CONSENT_KINDS)})(:{NOT_BLANK.strip('^$')})?$", "maxLength": 200,
     # the kinds in the message: "phone" alone is refused, and the caller must learn what is taken
     "x-pattern-message": f"<kind> or <kind>:<reference>, kind one of {', '.join(_CONSENT_KINDS)}"})
CONSENT_HISTORY = _r.page(CONSENT, "ConsentHistory", paged=False)
