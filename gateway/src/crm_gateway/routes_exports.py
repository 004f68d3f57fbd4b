"""Exports of the contacts and accounts lists: GET /api/v1/contacts/export and
/api/v1/accounts/export, with the list's own filters, as CSV (UTF-8 with a BOM, so Excel keeps
Chinese text) or xlsx. The rows are what the caller's list shows (the service applies visibility
and masking), fetched a page at a time: a CSV streams in flat memory; an xlsx is written row by
row (openpyxl's write-only mode) to a temporary file, then sent.

The columns are named like the import's fields, so an exported file imports back with no mapping."""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2 import Account, Contact
from crm_gateway.routing import API, Call, QueryParam, Route, metadata, state
from crm_gateway.schemas import contacts as sh

PAGE = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMAT = QueryParam("format", description="csv (UTF-8 with BOM, default) or xlsx", choices=("csv", "xlsx"))
_PAGING = ("page_size", "page_token")
COLUMNS = {
    "contact": ("name", "title", "company_name", "phone", "email", "source", "level", "lifecycle_stage", "industry",
                "language", "tags", "owner_id", "team", "region", "country", "province", "city", "street",
                "postal_code", "account_id", "id", "created_at"),
    "account": ("name", "industry", "website", "phone", "email", "source", "level", "tags", "owner_id", "team",
                "region", "country", "province", "city", "street", "postal_code", "id", "created_at"),
}


def _cells(entity: str, record: Contact | Account) -> list[str]:
    address = record.addresses[0] if record.addresses else pb.Address()
    values: dict[str, str] = {
        # a phone kept unverified goes out as it was typed, so nothing is lost on the way back
        "phone": ", ".join(p.raw if p.unverified else p.number for p in record.phones),
        "email": ", ".join(e.address for e in record.emails),
        "tags": ", ".join(record.tags),
        "country": address.country, "province": address.province, "city": address.city,
        "street": address.street, "postal_code": address.postal_code,
        "created_at": record.created_at.ToJsonString() if record.HasField("created_at") else "",
    }
    return [values[c] if c in values else str(getattr(record, c, "")) for c in COLUMNS[entity]]


def _records(entity: str, query: dict[str, Any]) -> Iterator[Contact | Account]:
    kind = "Contacts" if entity == "contact" else "Accounts"
    request: Any = pb.ListContactsRequest() if entity == "contact" else pb.ListAccountsRequest()
    for name, value in query.items():
        if name in _PAGING or name == "format":
            continue
        target = "query" if name == "q" else name
        field = getattr(request.filter, target)
        if hasattr(field, "CopyFrom"):
            field.CopyFrom(value)
        else:
            setattr(request.filter, target, value)
    request.page.page_size = PAGE
    client, md = state().backends.contacts, metadata()
    while True:
        answer = client.call(f"List{kind}", request, metadata=md, idempotent=True)
        yield from answer.contacts if entity == "contact" else answer.accounts
        if not answer.page.next_page_token:
            return
        request.page.page_token = answer.page.next_page_token


def _export(entity: str, c: Call) -> Response:
    records = _records(entity, c.query)
    first = next(records, None)  # a refusal or an unreachable service is an answer, not a cut stream
    name = f"{entity}s"
    if c.query.get("format") == "xlsx":
        return _xlsx(entity, first, records, name)

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS[entity])
        yield "\ufeff" + out.getvalue()
        if first is None:
            return
        for record in _chain(first, records):
            out.seek(0)
            out.truncate()
            writer.writerow(_cells(entity, record))
            yield out.getvalue()

    return Response(stream_with_context(lines()), 200, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _chain(first: Contact | Account, rest: Iterator[Contact | Account]) -> Iterator[Contact | Account]:
    yield first
    yield from rest


def _xlsx(entity: str, first: Contact | Account | None, rest: Iterator[Contact | Account], name: str) -> Response:
    from openpyxl import Workbook  # only an xlsx export pays for the import

    book = Workbook(write_only=True)
    sheet = book.create_sheet(name)
    sheet.append(list(COLUMNS[entity]))
    if first is not None:
        for record in _chain(first, rest):
            sheet.append(_cells(entity, record))
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115  (the response closes it)
    book.save(spool)
    size = spool.tell()
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(1024 * 1024):
                yield block

    return Response(chunks(), 200, mimetype=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{name}.xlsx"', "Content-Length": str(size)})


def export_contacts(c: Call) -> Response:
    return _export("contact", c)


def export_accounts(c: Call) -> Response:
    return _export("account", c)


def _params(params: tuple[QueryParam, ...]) -> tuple[QueryParam, ...]:
    return (*(p for p in params if p.name not in _PAGING), FORMAT)


ROUTES = [
    Route("GET", f"{API}/contacts/export", export_contacts, "exportContacts", "The contacts list as CSV or xlsx, "
          "with the list's filters and the caller's visibility; columns named like the import's fields",
          "contacts", response={"type": "string"}, media_type="text/csv", other_media=(XLSX,),
          query=_params(sh.CONTACT_LIST_PARAMS)),
    Route("GET", f"{API}/accounts/export", export_accounts, "exportAccounts", "The accounts list as CSV or xlsx, "
          "with the list's filters and the caller's visibility", "accounts", response={"type": "string"},
          media_type="text/csv", other_media=(XLSX,), query=_params(sh.ACCOUNT_LIST_PARAMS)),
]
