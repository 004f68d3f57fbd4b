"""Converting a qualified lead, in the two steps of one transaction owner (crmkit.idempotency):

1. `prepare`, before any transaction: the lead is read and checked, and its account and contact
   are created in contacts, each call with an idempotency key derived from the lead, so a retry
   after any failure repeats them harmlessly and never creates a customer twice;
2. `convert`, in the unit of work: the opportunity and the lead's new status.

A lead that is already converted needs no call: both steps answer with the finished conversion."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import ConvertLeadRequest, ConvertLeadResponse, Lead, Opportunity
from crm_sales.events import SALES, emit
from crm_sales.ports import ContactsPort
from crm_sales.rules import pool
from crm_sales.store import records
from crm_sales.store.picklists import PICKLISTS
from crm_sales.usecases import opportunities
from crm_sales.usecases.access import check_customer, visible
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument
from crmkit.picklists import Vocabulary
from crmkit.records import bump, check_date


@dataclass(frozen=True)
class Customer:
    """What `prepare` found or made in contacts ("" where none is wanted)."""

    account_id: str = ""
    contact_id: str = ""


# What the new customer's picklist fields hold (sales' copy of the vocabulary, crmkit.picklists):
# never a key an administrator retired, since contacts refuses one on a new record.
# - source: the lead's (one picklist for leads and customers) while the list takes it, else campaign
#   (a lead of a campaign) or other, else blank;
# - industry: the lead's when the list takes it now (an active key, or any text while the list is
#   not restricted), else blank: the lead keeps what it holds;
# - level (account): prospect, else blank (a level is a claim about the customer: none is guessed);
# - lifecycle stage (contact): prospect, else the first active stage in the administrator's order
#   (where their lifecycle starts: a contact has a stage from its first day).


def _source(lead: Lead, vocabulary: Vocabulary) -> str:
    return (vocabulary.kept("source", lead.source)[0]
            or vocabulary.fill("source", "campaign" if lead.campaign_id else "other", "other"))


def _industry(lead: Lead, vocabulary: Vocabulary) -> str:
    return vocabulary.kept("industry", lead.industry)[0]


def _account(lead: Lead, vocabulary: Vocabulary) -> cpb.Account:
    account = cpb.Account(name=lead.company, industry=_industry(lead, vocabulary), source=_source(lead, vocabulary),
                          owner_id=lead.owner_id, team=lead.team, region=lead.region,
                          level=vocabulary.fill("level", "prospect"))
    if lead.province or lead.city:
        account.addresses.append(cpb.Address(kind="office", country="CN", province=lead.province, city=lead.city))
    return account


def _contact(lead: Lead, account_id: str, vocabulary: Vocabulary) -> cpb.Contact:
    contact = cpb.Contact(name=lead.name, title=lead.title, account_id=account_id, company_name=lead.company,
                          industry=_industry(lead, vocabulary), owner_id=lead.owner_id, team=lead.team,
                          region=lead.region, lifecycle_stage=vocabulary.fill("lifecycle_stage", "prospect", first=True),
                          source=_source(lead, vocabulary))
    if lead.phone:
        contact.phones.append(cpb.Phone(number=lead.phone, raw=lead.phone, kind="mobile"))
    if lead.email:
        contact.emails.append(cpb.Email(address=lead.email, kind="work"))
    return contact


def prepare(session: Session, contacts: ContactsPort, *, principal: Principal, now: datetime, authorization: str,
            request: ConvertLeadRequest) -> Customer | None:
    """The customer in contacts for this conversion; None when the lead is converted already."""
    lead = visible(session, Lead, request.id, principal=principal, now=now, write=True)
    if lead.status == "converted":
        return None
    if lead.status != "qualified":
        raise FailedPrecondition(f"only a qualified lead can be converted; this one is {lead.status}", field="status")
    if not lead.owner_id:
        raise FailedPrecondition("assign the lead before converting it", field="owner_id")
    check_date(request.expected_close_date, "expected_close_date")
    account_id = request.existing_account_id
    contact_id = request.existing_contact_id
    check_customer(contacts, principal=principal, authorization=authorization, account_id=account_id,
                   contact_id=contact_id, prefix="existing_")
    vocabulary = PICKLISTS.current(session)
    if not account_id and not request.skip_account and lead.company:
        account_id = contacts.create_account(_account(lead, vocabulary), idempotency_key=f"sales-convert-{lead.id}-account",
                                             authorization=authorization).id
    if not contact_id and not request.skip_contact and lead.name:
        contact_id = contacts.create_contact(_contact(lead, account_id, vocabulary),
                                             idempotency_key=f"sales-convert-{lead.id}-contact",
                                             authorization=authorization).id
    return Customer(account_id, contact_id)


def _finished(session: Session, lead: Lead, principal: Principal, now: datetime) -> ConvertLeadResponse:
    opp = visible(session, Opportunity, lead.converted_opportunity_id, principal=principal, now=now)
    return ConvertLeadResponse(lead=lead, opportunity=opp, account_id=lead.converted_account_id,
                               contact_id=lead.converted_contact_id)


def convert(uow: UnitOfWork, *, principal: Principal, now: datetime, request: ConvertLeadRequest,
            customer: Customer | None) -> ConvertLeadResponse:
    lead = visible(uow.session, Lead, request.id, principal=principal, now=now, write=True)
    if lead.status == "converted":  # before `prepare`, or a concurrent retry finished first
        return _finished(uow.session, lead, principal, now)
    if customer is None or lead.status != "qualified":
        raise FailedPrecondition(f"the lead became {lead.status} meanwhile", field="status")
    opp = Opportunity(
        name=request.opportunity_name.strip() or " - ".join(x for x in (lead.company, lead.name) if x),
        account_id=customer.account_id, contact_id=customer.contact_id, lead_id=lead.id, owner_id=lead.owner_id,
        team=lead.team, region=lead.region, account_name=lead.company, expected_close_date=request.expected_close_date,
    )
    if request.amount.amount:
        opp.amount.CopyFrom(request.amount)
    if lead.budget:
        opp.budget.currency_code = lead.currency_code or "CNY"
        opp.budget.amount = lead.budget
    if not opp.name:
        raise InvalidArgument("name the opportunity", field="opportunity_name")
    opp = opportunities.create(uow, principal=principal, now=now, opp=opp)
    lead.status = "converted"
    pool.take_out(lead)  # converted from the pool (an admin's doing): no longer waiting in it
    lead.converted_opportunity_id = opp.id
    lead.converted_account_id = customer.account_id
    lead.converted_contact_id = customer.contact_id
    bump(lead, now)
    records.update_record(uow.session, lead)
    emit(uow, principal, SALES.LEAD_CONVERTED, lead.id, lead.version, ev.LeadConverted(
        lead=lead, opportunity=opp, account_id=customer.account_id, contact_id=customer.contact_id), now)
    return ConvertLeadResponse(lead=lead, opportunity=opp, account_id=customer.account_id,
                               contact_id=customer.contact_id)

