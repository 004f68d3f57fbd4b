"""Contracts, made from accepted quotes, and their status machine."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Contract, Quote
from crm_sales.events import SALES, emit
from crm_sales.rules import contracts as rules
from crm_sales.rules import quoting
from crm_sales.store import catalogue, records
from crm_sales.usecases.access import delegators, visible
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from crmkit.records import bump, check_version, new_id


def create_contract(uow: UnitOfWork, *, principal: Principal, now: datetime, quote_id: str, start: str,
                    end: str) -> Contract:
    quote = visible(uow.session, Quote, quote_id, principal=principal, now=now, write=True)
    if quote.status != "accepted":
        raise FailedPrecondition("a contract is made from an accepted quote", field="quote_id")
    # One live contract per quote: a second (a double click, a retry without a key) would count
    # the same sale twice; a terminated one may be replaced.
    existing = records.live_contract_of_quote(uow.session, quote.id)
    if existing is not None:
        raise AlreadyExists(f"quote {quote.number} already has contract {existing.number}", field="quote_id",
                            contract_id=existing.id)
    start, end = rules.check_period(start, end)
    contract = Contract(quote_id=quote.id, opportunity_id=quote.opportunity_id, account_id=quote.account_id,
                        contact_id=quote.contact_id, total=quote.total, status="draft", start_date=start,
                        end_date=end, owner_id=quote.owner_id, team=quote.team, region=quote.region)
    contract.id = new_id()
    contract.number = quoting.contract_number(now.year, catalogue.next_number(uow.session, f"C-{now.year}"))
    contract.version = 1
    contract.created_at.FromDatetime(now)
    contract.updated_at.FromDatetime(now)
    records.insert_record(uow.session, contract)
    emit(uow, principal, SALES.CONTRACT_CREATED, contract.id, 1, ev.ContractChanged(contract=contract), now)
    return contract


def update_contract_status(uow: UnitOfWork, *, principal: Principal, now: datetime, contract_id: str, status: str,
                           expected: int) -> Contract:
    contract = visible(uow.session, Contract, contract_id, principal=principal, now=now, write=True)
    check_version(contract.version, expected)
    rules.check_status_change(contract.status, status)
    previous = contract.status
    contract.status = status
    if status == "signed":
        contract.signed_at.FromDatetime(now)
    bump(contract, now)
    records.update_record(uow.session, contract)
    emit(uow, principal, SALES.CONTRACT_STATUS_CHANGED, contract.id, contract.version,
         ev.ContractChanged(contract=contract, previous_status=previous), now)
    return contract


def get_contract(session: Session, *, principal: Principal, now: datetime, contract_id: str) -> Contract:
    """One contract, under the list's visibility: another rep's is NOT_FOUND, as it is absent from their list."""
    return visible(session, Contract, contract_id, principal=principal, now=now)


def list_contracts(session: Session, *, principal: Principal, now: datetime, opportunity_id: str,
                   status: str, page_size: int = 0, page_token: str = "") -> tuple[list[Contract], str]:
    if status and status not in rules.STATUSES:  # a typo answers 400, not an empty list
        raise InvalidArgument(f"must be one of {', '.join(rules.STATUSES)}", field="status")
    return records.list_contracts(session, opportunity_id=opportunity_id, status=status, principal=principal,
                                  delegators=delegators(session, principal, now), size=page_size, token=page_token)
