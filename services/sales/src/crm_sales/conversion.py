"""Converting a qualified lead: the account and contact are created in contacts first (outside
any local transaction, each call with an idempotency key derived from the lead), then the
opportunity and the lead's new status are written in one transaction. A retry after any
failure repeats the remote calls harmlessly and finds a finished conversion if there was one."""
from __future__ import annotations

from datetime import datetime

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import ConvertLeadRequest, ConvertLeadResponse, Lead, Opportunity
from crm_sales import deals, store
from crm_sales.common import bump, check_date, emit, visible
from crm_sales.contacts_port import ContactsPort
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.errors import FailedPrecondition, InvalidArgument


def _finished(session: object, lead: Lead, now: datetime, principal: Principal) -> ConvertLeadResponse:
    opp = visible(session, principal, Opportunity, lead.converted_opportunity_id, now)  # type: ignore[arg-type]
    return ConvertLeadResponse(lead=lead, opportunity=opp, account_id=lead.converted_account_id,
                               contact_id=lead.converted_contact_id)


def _account(lead: Lead) -> cpb.Account:
    account = cpb.Account(name=lead.company, industry=lead.industry, source="campaign" if lead.campaign_id else "other",
                          owner_id=lead.owner_id, team=lead.team, region=lead.region, level="prospect")
    if lead.province or lead.city:
        account.addresses.append(cpb.Address(kind="office", country="CN", province=lead.province, city=lead.city))
    return account


def _contact(lead: Lead, account_id: str) -> cpb.Contact:
    contact = cpb.Contact(name=lead.name, title=lead.title, account_id=account_id, company_name=lead.company,
                          industry=lead.industry, owner_id=lead.owner_id, team=lead.team, region=lead.region,
                          lifecycle_stage="prospect", source="campaign" if lead.campaign_id else "other")
    if lead.phone:
        contact.phones.append(cpb.Phone(number=lead.phone, raw=lead.phone, kind="mobile"))
    if lead.email:
        contact.emails.append(cpb.Email(address=lead.email, kind="work"))
    return contact


def convert(db: Database, contacts: ContactsPort | None, principal: Principal, authorization: str,
            request: ConvertLeadRequest, now: datetime) -> ConvertLeadResponse:
    with db.read() as session:
        lead = visible(session, principal, Lead, request.id, now, write=True)
        if lead.status == "converted":
            return _finished(session, lead, now, principal)
    if lead.status != "qualified":
        raise FailedPrecondition(f"only a qualified lead can be converted; this one is {lead.status}", field="status")
    if not lead.owner_id:
        raise FailedPrecondition("assign the lead before converting it", field="owner_id")
    check_date(request.expected_close_date, "expected_close_date")
    account_id = request.existing_account_id
    contact_id = request.existing_contact_id
    wants_account = not account_id and not request.skip_account and bool(lead.company)
    wants_contact = not contact_id and not request.skip_contact and bool(lead.name)
    if (wants_account or wants_contact) and contacts is None:
        raise FailedPrecondition("the contacts service is not configured (CONTACTS_SERVICE_ADDR)", field="id")
    if wants_account:
        account = contacts.create_account(_account(lead), idempotency_key=f"sales-convert-{lead.id}-account",  # type: ignore[union-attr]
                                          authorization=authorization)
        account_id = account.id
    if wants_contact:
        contact = contacts.create_contact(_contact(lead, account_id),  # type: ignore[union-attr]
                                          idempotency_key=f"sales-convert-{lead.id}-contact",
                                          authorization=authorization)
        contact_id = contact.id
    with db.unit_of_work() as uow:
        lead = visible(uow.session, principal, Lead, request.id, now, write=True)
        if lead.status == "converted":  # a concurrent retry finished first
            return _finished(uow.session, lead, now, principal)
        if lead.status != "qualified":
            raise FailedPrecondition(f"the lead became {lead.status} meanwhile", field="status")
        opp = Opportunity(
            name=request.opportunity_name.strip() or " - ".join(x for x in (lead.company, lead.name) if x),
            account_id=account_id, contact_id=contact_id, lead_id=lead.id, owner_id=lead.owner_id,
            team=lead.team, region=lead.region, account_name=lead.company,
            expected_close_date=request.expected_close_date,
        )
        if request.amount.amount:
            opp.amount.CopyFrom(request.amount)
        if lead.budget:
            opp.budget.currency_code = lead.currency_code or "CNY"
            opp.budget.amount = lead.budget
        if not opp.name:
            raise InvalidArgument("name the opportunity", field="opportunity_name")
        opp = deals.create(uow, principal, opp, now)
        lead.status = "converted"
        lead.converted_opportunity_id = opp.id
        lead.converted_account_id = account_id
        lead.converted_contact_id = contact_id
        bump(lead, now)
        store.update_record(uow.session, lead)
        emit(uow, principal, "lead", "converted", lead.id, lead.version,
             ev.LeadConverted(lead=lead, opportunity=opp, account_id=account_id, contact_id=contact_id), now)
        uow.commit()
    return ConvertLeadResponse(lead=lead, opportunity=opp, account_id=account_id, contact_id=contact_id)
