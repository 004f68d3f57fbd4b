"""Customer search without I/O: the index schema, what a contact or an account looks like in
the index, who may find which document (rules/visibility.py's VISIBILITY as query filters),
and the checks on a search request. Unit-tested directly."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crm.contacts.v1.contacts_pb2 import Account, Contact, CustomerHit, SearchHighlight
from crm_contacts.rules.visibility import VISIBILITY
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.search import FieldKind, IndexSchema, SearchHit, SearchQuery

KINDS = ("contact", "account")
MAX_QUERY_CHARS = 256
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_WINDOW = 10_000  # offset + limit: what both engines can page through

SCHEMA = IndexSchema(
    "customers",
    {
        "kind": FieldKind.KEYWORD,
        "name": FieldKind.TEXT,
        "company": FieldKind.TEXT,
        "title": FieldKind.TEXT,
        "phones": FieldKind.PHONE,
        "emails": FieldKind.EMAIL,
        "tags": FieldKind.TEXT,        # typing a tag finds its customers
        "location": FieldKind.TEXT,    # province, city and district of every address
        "owner_id": FieldKind.KEYWORD,
        "team": FieldKind.KEYWORD,
        "region": FieldKind.KEYWORD,
        "level": FieldKind.KEYWORD,
        "city": FieldKind.STORED,      # shown in a hit, searched through `location`
    },
    boosts={"name": 3.0, "company": 2.0},
)

Record = Contact | Account
Clauses = list[dict[str, list[str]]]


def kind_of(record: Record) -> str:
    return "contact" if isinstance(record, Contact) else "account"


def customer_document(record: Record, *, account_name: str = "") -> dict[str, Any]:
    """The index document of a live record. A contact without a company name of its own is
    found under the name of the account it belongs to (`account_name`)."""
    places: list[str] = []
    for address in record.addresses:
        for part in (address.province, address.city, address.district):
            if part and part not in places:
                places.append(part)
    city = next((a.city for a in record.addresses if a.city), "")
    return {
        "id": record.id,
        "kind": kind_of(record),
        "name": record.name,
        "company": (record.company_name or account_name) if isinstance(record, Contact) else "",
        "title": record.title if isinstance(record, Contact) else "",
        "phones": [p.number for p in record.phones],
        "emails": [e.address for e in record.emails],
        "tags": list(record.tags),
        "location": " ".join(places),
        "owner_id": record.owner_id,
        "team": record.team,
        "region": record.region,
        "level": record.level,
        "city": city,
    }


def visibility_clauses(principal: Principal) -> Clauses | None:
    """VISIBILITY.clause as search filters: None = every document, [] = none, else a document must
    match one clause."""
    if principal.is_admin or principal.has_role(*VISIBILITY.read_all):
        return None
    if principal.is_manager:
        clauses: Clauses = []
        if principal.team:
            clauses.append({"team": [principal.team]})
        if principal.region:
            clauses.append({"region": [principal.region]})
        return clauses
    return [{"owner_id": [principal.user_id, *principal.delegators]}]


def matches(document: Mapping[str, Any], clauses: Clauses | None) -> bool:
    """Whether a document passes the clauses (what the engines do, for tests and checks)."""
    if clauses is None:
        return True
    return any(all(document.get(f) in vals for f, vals in clause.items()) for clause in clauses)


def search_query(principal: Principal, text: str, kind: str, limit: int, offset: int, *,
                 highlight: bool = True) -> SearchQuery | None:
    """The engine query for this caller, or None when the caller can see no customer at all.
    `highlight=False` leaves the hits without highlights (the engine skips that work)."""
    text = text.strip()
    if not text:
        raise InvalidArgument("type something to search for", field="query")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidArgument(f"a search is at most {MAX_QUERY_CHARS} characters", field="query")
    if kind and kind not in KINDS:
        raise InvalidArgument("must be contact or account (or empty for both)", field="kind")
    limit = limit or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if offset < 0 or offset + limit > MAX_WINDOW:
        raise InvalidArgument(f"offset must be at least 0 and offset + limit at most {MAX_WINDOW}",
                              field="offset")
    clauses = visibility_clauses(principal)
    if clauses == []:
        return None
    return SearchQuery(text, filters={"kind": [kind]} if kind else {}, any_of=clauses or (),
                       limit=limit, offset=offset, highlight=highlight)


def to_hit(hit: SearchHit) -> CustomerHit:
    doc = hit.document
    return CustomerHit(
        id=hit.id, kind=str(doc.get("kind", "")), name=str(doc.get("name", "")),
        company=str(doc.get("company", "")), score=hit.score, title=str(doc.get("title", "")),
        owner_id=str(doc.get("owner_id", "")), region=str(doc.get("region", "")),
        level=str(doc.get("level", "")), city=str(doc.get("city", "")),
        highlights=_highlights(hit.highlights),
    )


def _highlights(highlights: Mapping[str, Sequence[str]]) -> list[SearchHighlight]:
    order = list(SCHEMA.fields)
    return [SearchHighlight(field=name, fragments=list(fragments))
            for name, fragments in sorted(highlights.items(), key=lambda kv: order.index(kv[0])
                                          if kv[0] in order else len(order))]
