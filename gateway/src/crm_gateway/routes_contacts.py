"""Contacts service routes → crm.contacts.v1.ContactsService: /api/v1/accounts (and their public
pool, /api/v1/customer-pool), /api/v1/contacts (plus merge, tags, interactions, timeline and the
duplicate check), /api/v1/custom-fields.
Customer search is routes_search.py."""
from __future__ import annotations

from crm.contacts.v1 import contacts_pb2 as pb
from crm_gateway.actions import JSON, Action, items, resource
from crm_gateway.crud import Resource, summaries
from crm_gateway.routing import API
from crm_gateway.schemas import TIME_PAGE_PARAMS
from crm_gateway.schemas import contacts as sh

ACCOUNTS = Resource(pb, "Account", f"{API}/accounts", "accounts", summaries("account", "accounts"),
                    sh.ACCOUNT, sh.ACCOUNT_INPUT, sh.ACCOUNT_PATCH, page=sh.ACCOUNT_PAGE, list_params=sh.ACCOUNT_LIST_PARAMS,
                    list_fields=sh.LIST_FIELDS, create_params=(sh.ALLOW_DUPLICATE,))
CONTACTS = Resource(pb, "Contact", f"{API}/contacts", "contacts", summaries("contact", "contacts"),
                    sh.CONTACT, sh.CONTACT_INPUT, sh.CONTACT_PATCH, page=sh.CONTACT_PAGE, list_params=sh.CONTACT_LIST_PARAMS,
                    list_fields=sh.LIST_FIELDS, create_params=(sh.ALLOW_DUPLICATE,))
ITEM = f"{API}/contacts/<id>"

ACCOUNT = f"{API}/accounts/<id>"

ROUTES: list[Action] = [
    *ACCOUNTS.actions(),
    # the public pool (公海) of customers
    Action("GET", f"{API}/customer-pool", "listCustomerPool", "The customers (accounts) waiting in the caller's "
           "team's public pool (公海), unowned, with why they are there", "accounts", "ListAccountPool",
           pb.ListAccountPoolRequest, sh.ACCOUNT_PAGE, items("accounts", paged=True), query=sh.POOL_PARAMS,
           query_fields=sh.POOL_LIST_FIELDS),
    Action("POST", f"{ACCOUNT}/claim", "claimAccount", "Claim a customer from the pool with its contacts: refused "
           "past the team's claim limit or within the cool-down (400 naming it); 409 when another rep claimed it "
           "first", "accounts", "ClaimAccount", pb.ClaimAccountRequest, sh.ACCOUNT, JSON),
    Action("POST", f"{ACCOUNT}/release", "releaseAccount", "Give a customer (and its contacts) back to the team's "
           "pool, with the reason", "accounts", "ReleaseAccount", pb.ReleaseAccountRequest, sh.ACCOUNT, JSON,
           body=sh.ACCOUNT_RELEASE_INPUT),
    Action("POST", f"{ACCOUNT}/pool-assign", "assignAccountFromPool", "A manager gives a customer in the pool to a "
           "rep", "accounts", "AssignAccountFromPool", pb.AssignAccountFromPoolRequest, sh.ACCOUNT, JSON,
           body=sh.ACCOUNT_POOL_ASSIGN_INPUT),
    Action("GET", f"{ACCOUNT}/pool-history", "listAccountPoolMoves", "Every move of the customer into or out of "
           "the pool: who, when, why", "accounts", "ListAccountPoolMoves", pb.ListAccountPoolMovesRequest,
           sh.ACCOUNT_POOL_MOVES, items("moves"), path={"id": "account_id"}),
    *CONTACTS.actions(),
    Action("POST", f"{ITEM}/merge", "mergeContacts", "Merge the listed contacts into this one (the survivor)",
           "contacts", "MergeContacts", pb.MergeContactsRequest, sh.CONTACT, resource("survivor"),
           body=sh.MERGE_INPUT, path={"id": "survivor_id"}),
    Action("POST", f"{ITEM}/tags", "tagContact", "Add and remove tags", "contacts", "TagContact",
           pb.TagContactRequest, sh.CONTACT, body=sh.TAGS_INPUT),
    Action("POST", f"{ITEM}/interactions", "logInteraction", "Log a call, email, meeting or note with this contact",
           "contacts", "LogInteraction", pb.LogInteractionRequest, sh.INTERACTION, body=sh.INTERACTION_INPUT,
           body_field="interaction", path={"id": "interaction.contact_id"}, status=201),
    Action("GET", f"{ITEM}/timeline", "listTimeline", "The 360° timeline of this contact, newest first",
           "contacts", "ListTimeline", pb.ListTimelineRequest, sh.TIMELINE_PAGE, items("entries", paged=True),
           path={"id": "contact_id"}, query=TIME_PAGE_PARAMS),
    Action("POST", f"{API}/contacts/duplicates", "findDuplicates",
           "Existing contacts that look like the candidate in the body", "contacts", "FindDuplicates",
           pb.FindDuplicatesRequest, sh.CONTACT_MATCHES, items("matches"), body=sh.DUPLICATE_CANDIDATE,
           body_field="candidate"),
    Action("GET", f"{API}/custom-fields", "listCustomFields", "Custom-field definitions", "custom-fields",
           "ListCustomFields", pb.ListCustomFieldsRequest, sh.CUSTOM_FIELD_LIST, items("definitions"),
           query=sh.CUSTOM_FIELD_PARAMS),
    Action("POST", f"{API}/custom-fields", "defineCustomField", "Define a custom field for contacts or accounts",
           "custom-fields", "DefineCustomField", pb.DefineCustomFieldRequest, sh.CUSTOM_FIELD,
           body=sh.CUSTOM_FIELD, body_field="definition", status=201),
]
