"""gRPC servicer: translation only. Each method copies what it hands on (use cases normalize in
place; the request as received keys idempotency), calls one use case through `self.read` or
`self.write` (the one transaction owner), and wraps the answer."""
from __future__ import annotations

from dataclasses import replace

from crm.common.v1.ownership_pb2 import ReassignRequest, ReassignResponse
from crm.common.v1.types_pb2 import PageResponse
from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceServicer
from crm_contacts.rules.visibility import masked_hits
from crm_contacts.search.customer_search import CustomerSearch
from crm_contacts.usecases import (
    consents,
    custom_fields,
    duplicates,
    identities,
    ownership,
    pool,
    records,
    segments,
    subject,
    tags,
    timeline,
)
from crmkit.audit import Personal
from crmkit.db import Database, UnitOfWork
from crmkit.privacy import SuppressionList
from crmkit.servicer import Call, Clock, Ctx, ServicerBase, copy, system_clock


class ContactsServicer(ServicerBase, ContactsServiceServicer):
    # Reads of these leave audit entries (crmkit.audit): the records of people and companies.
    personal_data = (Personal(pb.Contact), Personal(pb.Account), Personal(pb.TimelineEntry, "contact", "contact_id"),
                     Personal(pb.CustomerHit, type_field="kind"))

    def __init__(self, db: Database, search: CustomerSearch, clock: Clock = system_clock, *,
                 suppression: SuppressionList | None = None) -> None:
        super().__init__(db, clock)
        self.search = search
        self.suppression = suppression  # erased people's emails and phones (crmkit.privacy)

    def call(self) -> Call:
        """The caller, covering for whoever delegated their work to them in sales right now."""
        call = super().call()
        if not ownership.may_borrow(call.principal):
            return call
        with self.db.read() as session:
            lent = ownership.lend(session, call.principal, call.now)
        return call if lent is call.principal else replace(call, principal=lent)

    # -- accounts
    def CreateAccount(self, request: pb.CreateAccountRequest, context: Ctx) -> pb.Account:
        return self.write(request, pb.Account, lambda uow, call: records.create_record(
            uow, principal=call.principal, now=call.now, record=copy(request.account),
            allow_duplicate=request.allow_duplicate))

    def GetAccount(self, request: pb.GetAccountRequest, context: Ctx) -> pb.Account:
        return self.read(lambda session, call: records.get_record(
            session, principal=call.principal, kind=pb.Account, record_id=request.id))

    def UpdateAccount(self, request: pb.UpdateAccountRequest, context: Ctx) -> pb.Account:
        return self.write(request, pb.Account, lambda uow, call: records.update_record(
            uow, principal=call.principal, now=call.now, patch=copy(request.account),
            mask=list(request.update_mask.paths), expected_version=request.expected_version))

    def DeleteAccount(self, request: pb.DeleteAccountRequest, context: Ctx) -> pb.DeleteAccountResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteAccountResponse:
            records.delete_record(uow, principal=call.principal, now=call.now, kind=pb.Account, record_id=request.id,
                                  expected_version=request.expected_version)
            return pb.DeleteAccountResponse()
        return self.write(request, pb.DeleteAccountResponse, delete)

    def ListAccounts(self, request: pb.ListAccountsRequest, context: Ctx) -> pb.ListAccountsResponse:
        found, token = self.read(lambda session, call: records.list_records(
            session, principal=call.principal, kind=pb.Account, filter=request.filter,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListAccountsResponse(accounts=found, page=PageResponse(next_page_token=token))

    # -- the public pool (公海) of customers
    def ListAccountPool(self, request: pb.ListAccountPoolRequest, context: Ctx) -> pb.ListAccountsResponse:
        found, token = self.read(lambda session, call: pool.list_pool(
            session, principal=call.principal, team=request.team, query=request.query,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListAccountsResponse(accounts=found, page=PageResponse(next_page_token=token))

    def ClaimAccount(self, request: pb.ClaimAccountRequest, context: Ctx) -> pb.Account:
        return self.write(request, pb.Account, lambda uow, call: pool.claim(
            uow, principal=call.principal, now=call.now, account_id=request.id))

    def ReleaseAccount(self, request: pb.ReleaseAccountRequest, context: Ctx) -> pb.Account:
        return self.write(request, pb.Account, lambda uow, call: pool.release(
            uow, principal=call.principal, now=call.now, account_id=request.id, reason=request.reason))

    def AssignAccountFromPool(self, request: pb.AssignAccountFromPoolRequest, context: Ctx) -> pb.Account:
        return self.write(request, pb.Account, lambda uow, call: pool.assign(
            uow, principal=call.principal, now=call.now, account_id=request.id, owner_id=request.owner_id))

    def ListAccountPoolMoves(self, request: pb.ListAccountPoolMovesRequest,
                             context: Ctx) -> pb.ListAccountPoolMovesResponse:
        return pb.ListAccountPoolMovesResponse(moves=self.read(lambda session, call: pool.pool_history(
            session, principal=call.principal, account_id=request.account_id)))

    # -- contacts
    def CreateContact(self, request: pb.CreateContactRequest, context: Ctx) -> pb.Contact:
        subject.refuse_suppressed(self.suppression, request.contact)
        return self.write(request, pb.Contact, lambda uow, call: records.create_record(
            uow, principal=call.principal, now=call.now, record=copy(request.contact),
            allow_duplicate=request.allow_duplicate))

    def GetContact(self, request: pb.GetContactRequest, context: Ctx) -> pb.Contact:
        return self.read(lambda session, call: records.get_record(
            session, principal=call.principal, kind=pb.Contact, record_id=request.id))

    def UpdateContact(self, request: pb.UpdateContactRequest, context: Ctx) -> pb.Contact:
        return self.write(request, pb.Contact, lambda uow, call: records.update_record(
            uow, principal=call.principal, now=call.now, patch=copy(request.contact),
            mask=list(request.update_mask.paths), expected_version=request.expected_version))

    def DeleteContact(self, request: pb.DeleteContactRequest, context: Ctx) -> pb.DeleteContactResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteContactResponse:
            records.delete_record(uow, principal=call.principal, now=call.now, kind=pb.Contact, record_id=request.id,
                                  expected_version=request.expected_version)
            return pb.DeleteContactResponse()
        return self.write(request, pb.DeleteContactResponse, delete)

    def ListContacts(self, request: pb.ListContactsRequest, context: Ctx) -> pb.ListContactsResponse:
        found, token = self.read(lambda session, call: records.list_records(
            session, principal=call.principal, kind=pb.Contact, filter=request.filter,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListContactsResponse(contacts=found, page=PageResponse(next_page_token=token))

    def TagContact(self, request: pb.TagContactRequest, context: Ctx) -> pb.Contact:
        return self.write(request, pb.Contact, lambda uow, call: tags.tag_contact(
            uow, principal=call.principal, now=call.now, contact_id=request.id, add=request.add,
            remove=request.remove))

    def MergeContacts(self, request: pb.MergeContactsRequest, context: Ctx) -> pb.MergeContactsResponse:
        return self.write(request, pb.MergeContactsResponse, lambda uow, call: pb.MergeContactsResponse(
            survivor=duplicates.merge_contacts(uow, principal=call.principal, now=call.now,
                                               survivor_id=request.survivor_id, merged_ids=list(request.merged_ids))))

    def Reassign(self, request: ReassignRequest, context: Ctx) -> ReassignResponse:
        return self.write(request, ReassignResponse, lambda uow, call: ownership.reassign(
            uow, principal=call.principal, now=call.now, request=request))

    def FindDuplicates(self, request: pb.FindDuplicatesRequest, context: Ctx) -> pb.FindDuplicatesResponse:
        return pb.FindDuplicatesResponse(matches=self.read(lambda session, call: duplicates.find_duplicates(
            session, principal=call.principal, candidate=copy(request.candidate))))

    # -- timeline
    def LogInteraction(self, request: pb.LogInteractionRequest, context: Ctx) -> pb.Interaction:
        return self.write(request, pb.Interaction, lambda uow, call: timeline.log_interaction(
            uow, principal=call.principal, now=call.now, interaction=copy(request.interaction)))

    def ListTimeline(self, request: pb.ListTimelineRequest, context: Ctx) -> pb.ListTimelineResponse:
        entries, token = self.read(lambda session, call: timeline.list_timeline(
            session, principal=call.principal, contact_id=request.contact_id, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListTimelineResponse(entries=entries, page=PageResponse(next_page_token=token))

    # -- custom fields
    def DefineCustomField(self, request: pb.DefineCustomFieldRequest, context: Ctx) -> pb.CustomFieldDefinition:
        return self.write(request, pb.CustomFieldDefinition, lambda uow, call: custom_fields.define_custom_field(
            uow, principal=call.principal, definition=copy(request.definition)))

    def ListCustomFields(self, request: pb.ListCustomFieldsRequest, context: Ctx) -> pb.ListCustomFieldsResponse:
        return pb.ListCustomFieldsResponse(definitions=self.read(lambda session, _call: custom_fields.list_custom_fields(
            session, entity=request.entity)))

    # -- customer search (the index, not the database, answers)
    def SearchCustomers(self, request: pb.SearchCustomersRequest, context: Ctx) -> pb.SearchCustomersResponse:
        call = self.call()
        return self.audited_read(masked_hits(call.principal, self.search.search(
            call.principal, request.query, request.kind, request.limit, request.offset,
            highlight=request.highlight if request.HasField("highlight") else True)), call)

    def RebuildSearchIndex(self, request: pb.RebuildSearchIndexRequest, context: Ctx) -> pb.RebuildSearchIndexResponse:
        return self.search.rebuild_as(self.call().principal)

    # -- segments (members are evaluated with the caller's visibility)
    def CreateSegment(self, request: pb.CreateSegmentRequest, context: Ctx) -> pb.Segment:
        return self.write(request, pb.Segment, lambda uow, call: segments.create_segment(
            uow, principal=call.principal, now=call.now, segment=copy(request.segment)))

    def GetSegment(self, request: pb.GetSegmentRequest, context: Ctx) -> pb.Segment:
        return self.read(lambda session, call: segments.get_segment(
            session, principal=call.principal, segment_id=request.id))

    def UpdateSegment(self, request: pb.UpdateSegmentRequest, context: Ctx) -> pb.Segment:
        return self.write(request, pb.Segment, lambda uow, call: segments.update_segment(
            uow, principal=call.principal, now=call.now, patch=copy(request.segment),
            mask=list(request.update_mask.paths), expected_version=request.expected_version))

    def DeleteSegment(self, request: pb.DeleteSegmentRequest, context: Ctx) -> pb.DeleteSegmentResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteSegmentResponse:
            segments.delete_segment(uow, principal=call.principal, now=call.now, segment_id=request.id,
                                    expected_version=request.expected_version)
            return pb.DeleteSegmentResponse()
        return self.write(request, pb.DeleteSegmentResponse, delete)

    def ListSegments(self, request: pb.ListSegmentsRequest, context: Ctx) -> pb.ListSegmentsResponse:
        found, token = self.read(lambda session, call: segments.list_segments(
            session, principal=call.principal, page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListSegmentsResponse(segments=found, page=PageResponse(next_page_token=token))

    def ListSegmentMembers(self, request: pb.ListSegmentMembersRequest,
                           context: Ctx) -> pb.ListSegmentMembersResponse:
        found, token = self.read(lambda session, call: segments.list_members(
            session, principal=call.principal, now=call.now, segment_id=request.segment_id,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListSegmentMembersResponse(contacts=found, page=PageResponse(next_page_token=token))

    def CountSegmentMembers(self, request: pb.CountSegmentMembersRequest,
                            context: Ctx) -> pb.CountSegmentMembersResponse:
        return pb.CountSegmentMembersResponse(count=self.read(lambda session, call: segments.count_members(
            session, principal=call.principal, now=call.now, segment_id=request.segment_id)))

    def PreviewSegment(self, request: pb.PreviewSegmentRequest, context: Ctx) -> pb.PreviewSegmentResponse:
        return self.read(lambda session, call: segments.preview(
            session, principal=call.principal, now=call.now, filter=copy(request.filter),
            page_size=request.page_size))

    # -- consent per purpose
    def RecordConsent(self, request: pb.RecordConsentRequest, context: Ctx) -> pb.Contact:
        return self.write(request, pb.Contact, lambda uow, call: consents.record_consent(
            uow, principal=call.principal, now=call.now, contact_id=request.contact_id,
            consent=copy(request.consent)))

    def ListConsentHistory(self, request: pb.ListConsentHistoryRequest,
                           context: Ctx) -> pb.ListConsentHistoryResponse:
        return pb.ListConsentHistoryResponse(history=self.read(lambda session, call: consents.list_consent_history(
            session, principal=call.principal, contact_id=request.contact_id)))

    def FindContactByEmail(self, request: pb.FindContactByEmailRequest, context: Ctx) -> pb.Contact:
        return self.read(lambda session, call: consents.find_contact_by_email(
            session, principal=call.principal, email=request.email))

    def FindContactByIdentity(self, request: pb.FindContactByIdentityRequest, context: Ctx) -> pb.Contact:
        return self.read(lambda session, call: identities.find_contact_by_identity(
            session, principal=call.principal, identity=request.identity))
