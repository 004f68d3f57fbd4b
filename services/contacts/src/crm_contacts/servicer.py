"""gRPC servicer: translation only. Reads use a read session; writes go through run_write
(one unit of work, idempotency key honoured)."""
from __future__ import annotations

from typing import Any

from crm.common.v1.types_pb2 import PageResponse
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceServicer
from crm_contacts import store, usecases
from crm_contacts.customer_search import CustomerSearch
from crmkit.auth import current_principal
from crmkit.db import Database
from crmkit.idempotency import run_write

Ctx = Any


class ContactsServicer(ContactsServiceServicer):
    def __init__(self, db: Database, search: CustomerSearch) -> None:
        self.db = db
        self.search = search

    # -- accounts
    def CreateAccount(self, request: pb.CreateAccountRequest, context: Ctx) -> pb.Account:
        return run_write(self.db, request, pb.Account, lambda uow: usecases.create_record(
            uow, current_principal(), "account", _copy(request.account),
            allow_duplicate=request.allow_duplicate))

    def GetAccount(self, request: pb.GetAccountRequest, context: Ctx) -> pb.Account:
        with self.db.read() as session:
            return usecases.get_record(session, current_principal(), "account", request.id)

    def UpdateAccount(self, request: pb.UpdateAccountRequest, context: Ctx) -> pb.Account:
        return run_write(self.db, request, pb.Account, lambda uow: usecases.update_record(
            uow, current_principal(), "account", _copy(request.account),
            list(request.update_mask.paths), request.expected_version))

    def DeleteAccount(self, request: pb.DeleteAccountRequest, context: Ctx) -> pb.DeleteAccountResponse:
        def delete(uow: Any) -> pb.DeleteAccountResponse:
            usecases.delete_record(uow, current_principal(), "account", request.id, request.expected_version)
            return pb.DeleteAccountResponse()
        return run_write(self.db, request, pb.DeleteAccountResponse, delete)

    def ListAccounts(self, request: pb.ListAccountsRequest, context: Ctx) -> pb.ListAccountsResponse:
        with self.db.read() as session:
            records, token = usecases.list_records(
                session, current_principal(), "account", request.filter,
                request.page.page_size, request.page.page_token)
        return pb.ListAccountsResponse(accounts=records, page=PageResponse(next_page_token=token))

    # -- contacts
    def CreateContact(self, request: pb.CreateContactRequest, context: Ctx) -> pb.Contact:
        return run_write(self.db, request, pb.Contact, lambda uow: usecases.create_record(
            uow, current_principal(), "contact", _copy(request.contact),
            allow_duplicate=request.allow_duplicate))

    def GetContact(self, request: pb.GetContactRequest, context: Ctx) -> pb.Contact:
        with self.db.read() as session:
            return usecases.get_record(session, current_principal(), "contact", request.id)

    def UpdateContact(self, request: pb.UpdateContactRequest, context: Ctx) -> pb.Contact:
        return run_write(self.db, request, pb.Contact, lambda uow: usecases.update_record(
            uow, current_principal(), "contact", _copy(request.contact),
            list(request.update_mask.paths), request.expected_version))

    def DeleteContact(self, request: pb.DeleteContactRequest, context: Ctx) -> pb.DeleteContactResponse:
        def delete(uow: Any) -> pb.DeleteContactResponse:
            usecases.delete_record(uow, current_principal(), "contact", request.id, request.expected_version)
            return pb.DeleteContactResponse()
        return run_write(self.db, request, pb.DeleteContactResponse, delete)

    def ListContacts(self, request: pb.ListContactsRequest, context: Ctx) -> pb.ListContactsResponse:
        with self.db.read() as session:
            records, token = usecases.list_records(
                session, current_principal(), "contact", request.filter,
                request.page.page_size, request.page.page_token)
        return pb.ListContactsResponse(contacts=records, page=PageResponse(next_page_token=token))

    def TagContact(self, request: pb.TagContactRequest, context: Ctx) -> pb.Contact:
        return run_write(self.db, request, pb.Contact, lambda uow: usecases.tag_contact(
            uow, current_principal(), request.id, request.add, request.remove))

    def MergeContacts(self, request: pb.MergeContactsRequest, context: Ctx) -> pb.MergeContactsResponse:
        return run_write(self.db, request, pb.MergeContactsResponse, lambda uow: pb.MergeContactsResponse(
            survivor=usecases.merge_contacts(uow, current_principal(), request.survivor_id,
                                             list(request.merged_ids))))

    def FindDuplicates(self, request: pb.FindDuplicatesRequest, context: Ctx) -> pb.FindDuplicatesResponse:
        with self.db.read() as session:
            matches = usecases.find_duplicates(session, current_principal(), _copy(request.candidate))
        return pb.FindDuplicatesResponse(matches=matches)

    # -- timeline
    def LogInteraction(self, request: pb.LogInteractionRequest, context: Ctx) -> pb.Interaction:
        return run_write(self.db, request, pb.Interaction, lambda uow: usecases.log_interaction(
            uow, current_principal(), _copy(request.interaction)))

    def ListTimeline(self, request: pb.ListTimelineRequest, context: Ctx) -> pb.ListTimelineResponse:
        with self.db.read() as session:
            entries, token = usecases.list_timeline(
                session, current_principal(), request.contact_id,
                request.page.page_size, request.page.page_token)
        return pb.ListTimelineResponse(entries=entries, page=PageResponse(next_page_token=token))

    # -- custom fields
    def DefineCustomField(self, request: pb.DefineCustomFieldRequest, context: Ctx) -> pb.CustomFieldDefinition:
        return run_write(self.db, request, pb.CustomFieldDefinition, lambda uow: usecases.define_custom_field(
            uow, current_principal(), _copy(request.definition)))

    def ListCustomFields(self, request: pb.ListCustomFieldsRequest, context: Ctx) -> pb.ListCustomFieldsResponse:
        with self.db.read() as session:
            defs = store.definitions(session, request.entity or "contact")
        return pb.ListCustomFieldsResponse(definitions=list(defs.values()))

    # -- customer search
    def SearchCustomers(self, request: pb.SearchCustomersRequest, context: Ctx) -> pb.SearchCustomersResponse:
        return self.search.search(current_principal(), request.query, request.kind, request.limit, request.offset)

    def RebuildSearchIndex(self, request: pb.RebuildSearchIndexRequest, context: Ctx) -> pb.RebuildSearchIndexResponse:
        return self.search.rebuild_as(current_principal())


def _copy(message: Any) -> Any:
    """Use cases normalize in place; never mutate the request (its hash keys idempotency)."""
    clone = type(message)()
    clone.CopyFrom(message)
    return clone
