"""A person's data in sales, for the privacy service's export and erasure
(`crm.privacy.v1.DataSubject`, served by `crmkit.privacy.SubjectServicer`).

A person's leads, tasks and reminders about them, and the emails projected from contacts are
deleted. Opportunities, quotes and contracts are the business's records of a deal with an
account: they stay, without the person (contact and lead links, decision maker, the person's
name wherever it was written). The export carries each quote's PDF as an attachment, rendered
before anything is erased."""
from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from crm.privacy.v1 import privacy_pb2 as ppb
from crm.sales.v1.sales_pb2 import Contract, Lead, Opportunity, Quote, Reminder, Task
from crm_sales import tables
from crm_sales.rules import pdf
from crmkit.db import Database
from crmkit.errors import DomainError, FailedPrecondition
from crmkit.privacy import CONTACT, EMAIL, Found, Holding, SubjectServicer, SuppressionList

LEAD, TASK = "lead", "task"


def _redacted(message: Message, found: Found, *fields: str) -> None:
    for name in fields:
        setattr(message, name, found.redact(getattr(message, name)))


def _opportunity(row: Row[Any], found: Found) -> dict[str, Any]:
    opp = Opportunity.FromString(row.data)
    opp.contact_id, opp.lead_id, opp.decision_maker = "", "", ""
    _redacted(opp, found, "name", "description", "next_step", "account_name")
    return {"data": opp.SerializeToString(), "name": opp.name}


def _quote(row: Row[Any], found: Found) -> dict[str, Any]:
    quote = Quote.FromString(row.data)
    quote.contact_id = ""
    _redacted(quote, found, "customer_name", "notes", "special_terms")
    return {"data": quote.SerializeToString()}


def _contract(row: Row[Any], found: Found) -> dict[str, Any]:
    contract = Contract.FromString(row.data)
    contract.contact_id = ""
    return {"data": contract.SerializeToString()}


def _task(row: Row[Any], found: Found) -> dict[str, Any] | None:
    task = Task.FromString(row.data)
    if task.related_id in found.refs.get(LEAD, ()) or not task.account_id:
        return None  # about the person only
    task.contact_id = ""
    _redacted(task, found, "title", "description")
    return {"data": task.SerializeToString()}


def _audit_fact(_row: Row[Any], _found: Found) -> dict[str, Any]:
    return {"detail": ""}


HOLDINGS = (
    Holding("leads", tables.leads, {"email": EMAIL}, message=Lead, scan=True, collect=(LEAD, "id")),
    Holding("opportunities", tables.opportunities, {}, message=Opportunity, scan=True, anonymize=_opportunity),
    Holding("quotes", tables.quotes, {}, message=Quote, scan=True, anonymize=_quote),
    Holding("contracts", tables.contracts, {}, message=Contract, scan=True, anonymize=_contract),
    Holding("tasks", tables.tasks, {"related_id": LEAD}, message=Task, scan=True, collect=(TASK, "id"),
            anonymize=_task),
    Holding("reminders", tables.reminders, {}, message=Reminder, scan=True),
    Holding("scheduled jobs", tables.scheduled_jobs, {"ref_id": LEAD}, export=False),
    Holding("pool moves", tables.pool_moves, {"lead_id": LEAD}),  # a rep's reason may name the person
    Holding("contact emails", tables.contact_emails, {"contact_id": CONTACT, "email": EMAIL}, export=False),
    Holding("audit", tables.audit_log, {"entity_id": LEAD}, anonymize=_audit_fact),
)


def quote_pdfs(session: Session, found: Found, attachments: list[ppb.Attachment]) -> None:
    ids = sorted(str(r["id"]) for r in found.sections.get("quotes", []))
    if not ids:
        return
    for row in session.execute(select(tables.quotes.c.data).where(tables.quotes.c.id.in_(ids))):
        quote = Quote.FromString(row.data)
        try:
            content = pdf.render(quote)
        except DomainError as exc:  # no CJK font on this host: the export says so rather than fail
            found.sections.setdefault("quote pdfs not rendered", []).append({"quote_id": quote.id,
                                                                            "reason": exc.message})
            continue
        attachments.append(ppb.Attachment(name=f"quotes/{quote.number}-v{quote.version}.pdf",
                                          content_type="application/pdf", content=content))


def refuse_suppressed(suppression: SuppressionList | None, lead: Lead) -> None:
    """A lead whose email or phone was erased is not captured or imported again. `lead` is
    normalized (email lower-cased, phone E.164)."""
    if suppression is None:
        return
    kind = suppression.suppressed(emails=[lead.email], phones=[lead.phone])
    if kind is not None:
        raise FailedPrecondition(f"this {kind} belongs to a person who asked to be erased; it may not be captured "
                                 "again", field=kind)


def servicer(db: Database, *, suppression: SuppressionList | None = None) -> SubjectServicer:
    return SubjectServicer(db, "sales", HOLDINGS, export_extra=quote_pdfs, suppression=suppression)
