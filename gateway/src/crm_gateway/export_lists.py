"""The lists an export can read, each declared once from its list route.

An `ExportedList` is a list `Action` (its RPC, request message and query parameters, the very
ones `GET /api/v1/<list>` takes) plus the columns of its record. `records()` fills the list request
from the export's filters with the list route's own plan and pages through the RPC with the
caller's metadata, so the service applies the caller's visibility and masking exactly as it does
for the list. The columns of a list with an import (contacts, accounts, leads) are named and
ordered like the import's fields, so an exported file imports back."""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from crm_gateway import routes_contacts, routes_marketing, routes_sales, routes_support
from crm_gateway.actions import Action, _query_target, _rpc_output, _setter  # the list routes' own plan
from crm_gateway.clients import Backends
from crm_gateway.export_tables import Column, columns_of
from crm_gateway.problems import FieldError, Problem, invalid_field
from crm_gateway.routing import QueryParam

PAGE = 200  # the services' page maximum (crmkit.paging.MAX_PAGE)
PAGING = ("page_size", "page_token")
Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ExportedList:
    name: str  # the URL segment and the file name: leads
    action: Action  # its list route
    columns: tuple[Column, ...]
    import_columns: tuple[str, ...] = ()  # the columns its import reads (?columns=import)

    @property
    def params(self) -> tuple[QueryParam, ...]:
        """The list route's filters (its paging is the export's business)."""
        return tuple(p for p in self.action.query if p.name not in PAGING)

    def header(self, only_import: bool = False) -> tuple[Column, ...]:
        if only_import and self.import_columns:
            return tuple(c for c in self.columns if c.name in self.import_columns)
        return self.columns


def _list_action(routes: Sequence[Any], operation_id: str) -> Action:
    for route in routes:
        if isinstance(route, Action) and route.operation_id == operation_id:
            return route
    raise ValueError(f"no list route {operation_id}")


def _record_type(a: Action) -> Descriptor:
    listed = _rpc_output(a).fields_by_name[a.reply.field]
    if listed.message_type is None:
        raise ValueError(f"{a.operation_id}: {a.reply.field} lists no records")
    return listed.message_type


def _declare(name: str, routes: Sequence[Any], operation_id: str, *, first: Sequence[str] = (),
             import_columns: Sequence[str] = (), columns: tuple[Column, ...] = ()) -> ExportedList:
    action = _list_action(routes, operation_id)
    return ExportedList(name, action, columns or columns_of(_record_type(action), first=first),
                        tuple(import_columns))


# -- contacts and accounts: the columns of the customer import (contacts' import fields) ---------

def _customer_columns(names: Sequence[str]) -> tuple[Column, ...]:
    def address(part: str) -> Callable[[Any], str]:
        return lambda r: getattr(r.addresses[0], part) if r.addresses else ""

    special: dict[str, Column] = {
        # a phone kept unverified goes out as it was typed, so nothing is lost on the way back
        "phone": Column("phone", "text", lambda r: ", ".join(p.raw if p.unverified else p.number for p in r.phones)),
        "email": Column("email", "text", lambda r: ", ".join(e.address for e in r.emails)),
        "tags": Column("tags", "text", lambda r: ", ".join(r.tags)),
        "created_at": Column("created_at", "date-time",
                             lambda r: r.created_at.ToJsonString() if r.HasField("created_at") else ""),
    }
    for part in ("country", "province", "city", "street", "postal_code"):
        special[part] = Column(part, "text", address(part))
    return tuple(special.get(n) or Column(n, "text", operator.attrgetter(n)) for n in names)


CONTACT_COLUMNS = ("name", "title", "company_name", "phone", "email", "source", "level", "lifecycle_stage",
                   "industry", "language", "tags", "owner_id", "team", "region", "country", "province", "city",
                   "street", "postal_code", "account_id", "id", "created_at")
ACCOUNT_COLUMNS = ("name", "industry", "website", "phone", "email", "source", "level", "tags", "owner_id", "team",
                   "region", "country", "province", "city", "street", "postal_code", "id", "created_at")
# sales' ImportLeads header (crm_sales.rules.leads.CSV_FIELDS): it refuses any other column
LEAD_IMPORT = ("name", "company", "title", "phone", "email", "industry", "province", "city", "region", "source",
               "campaign_id", "company_size", "budget", "currency_code", "notes")

LISTS: dict[str, ExportedList] = {e.name: e for e in (
    _declare("contacts", routes_contacts.ROUTES, "listContacts", columns=_customer_columns(CONTACT_COLUMNS)),
    _declare("accounts", routes_contacts.ROUTES, "listAccounts", columns=_customer_columns(ACCOUNT_COLUMNS)),
    _declare("leads", routes_sales.ROUTES, "listLeads", first=LEAD_IMPORT, import_columns=LEAD_IMPORT),
    _declare("opportunities", routes_sales.ROUTES, "listOpportunities",
             first=("name", "account_id", "account_name", "amount", "expected_close_date", "stage", "status")),
    _declare("quotes", routes_sales.ROUTES, "listQuotes"),
    _declare("products", routes_sales.ROUTES, "listProducts"),
    _declare("tasks", routes_sales.ROUTES, "listTasks"),
    _declare("tickets", routes_support.ROUTES, "listTickets"),
    _declare("campaigns", routes_marketing.ROUTES, "listCampaigns"),
)}


def parse_filters(exported: ExportedList, filters: Mapping[str, Any]) -> dict[str, Any]:
    """A job's filters (JSON) checked like the list route's query: an unknown or bad one is refused
    naming its place in the body (`filters.<name>`), not the query parameter the list route reads."""
    try:
        return _parse_filters(exported, filters)
    except Problem as problem:
        raise in_filters(exported, problem) from None


def in_filters(exported: ExportedList, problem: Problem) -> Problem:
    """`problem` with each field that is one of the list's filters (by its query name or the request
    field it fills) renamed to the body's path, `filters.<name>`."""
    paths = {p.name: f"filters.{p.name}" for p in exported.params}
    for p in exported.params:
        paths.setdefault(_query_target(exported.action, p), f"filters.{p.name}")
    before = problem.errors
    problem.errors = [FieldError(paths.get(e.field, e.field), e.message) for e in before]
    if before and problem.detail == "; ".join(f"{e.field}: {e.message}" for e in before[:5]):
        problem.detail = "; ".join(f"{e.field}: {e.message}" for e in problem.errors[:5])
    return problem


def _parse_filters(exported: ExportedList, filters: Mapping[str, Any]) -> dict[str, Any]:
    known = {p.name: p for p in exported.params}
    values: dict[str, Any] = {}
    for name, raw in filters.items():
        param = known.get(name)
        if param is None:
            raise invalid_field(f"filters.{name}", f"not a filter of {exported.name} "
                                f"(known: {', '.join(sorted(known)) or 'none'})")
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            raise invalid_field(f"filters.{name}", "expected a string, a number or a boolean")
        text = str(raw)
        if text != "" or not param.empty_is_absent:
            values[name] = param.parse(text)
    for param in exported.params:
        if param.required and param.name not in values:
            raise invalid_field(f"filters.{param.name}", "is required")
    if exported.action.check is not None:
        exported.action.check(values)
    return values


def records(exported: ExportedList, query: Mapping[str, Any], backends: Backends,
            md: Metadata) -> Iterator[Message]:
    """Every record of the list the filters select, as the caller sees it, a page at a time."""
    a = exported.action
    request: Any = a.request()
    containers: set[str] = set()
    for param in exported.params:
        if param.name in query:
            _setter(a.descriptor, _query_target(a, param), param, containers)(request, query[param.name])
    if a.fill is not None:
        a.fill(request)
    paged = "page" in a.descriptor.fields_by_name
    if paged:
        request.page.page_size = PAGE
    client = backends.client(a.backend)
    while True:
        answer = client.call(a.rpc, request, metadata=md, idempotent=True)
        yield from getattr(answer, a.reply.field)
        token = answer.page.next_page_token if paged and a.reply.paged else ""
        if not token:
            return
        request.page.page_token = token
