"""Create / list / get / update / delete of a record, for any backend, from one declaration.

A `Resource` names the proto module and the record's message (`Lead`), and the contract's naming
convention gives the rest: the RPCs CreateLead, ListLeads, GetLead, UpdateLead, DeleteLead with
their <Rpc>Request messages, the request field holding the record (the field of that type), the
list answer's repeated field. Its routes are `Action`s (actions.py), so they are checked against
the contract and planned like any other:

    POST   <collection>       create<Kind>   201, Location, ETag
    GET    <collection>       list<Plural>   a page; the query fills the filter (and the page)
    GET    <collection>/<id>  get<Kind>      ETag, If-None-Match → 304
    PATCH  <collection>/<id>  update<Kind>   the body's keys are the update mask; If-Match
    DELETE <collection>/<id>  delete<Kind>   204; If-Match

`summaries` names the verbs that exist. A record whose `version` is not a concurrency token
(`etag=False`: quotes, where it is the revision number) answers JSON without an ETag."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from crm_gateway.actions import JSON, NO_CONTENT, RESOURCE, Action, Mask, Reply, items
from crm_gateway.routing import QueryParam
from crm_gateway.schema import JsonSchema

VERBS = ("create", "list", "get", "update", "delete")


@dataclass(frozen=True)
class Resource:
    proto: ModuleType  # e.g. crm.sales.v1.sales_pb2
    kind: str  # the message, and the RPCs' suffix: Lead, KbArticle
    collection: str  # the URL, e.g. /api/v1/kb/articles
    tag: str
    summaries: Mapping[str, str]  # verb → summary, for the verbs that exist
    output: JsonSchema
    input: JsonSchema | None = None  # the create body
    patch: JsonSchema | None = None  # the update body (default: the create body)
    page: JsonSchema | None = None
    list_params: tuple[QueryParam, ...] = ()
    list_fields: Mapping[str, str] = field(default_factory=dict)  # query parameter → request field
    create_params: tuple[QueryParam, ...] = ()  # e.g. allow_duplicate
    plural: str = ""  # ListOpportunities: "Opportunities" (default: kind + "s")
    etag: bool = True  # False: `version` is no concurrency token; JSON replies without an ETag

    def actions(self) -> list[Action]:
        if unknown := set(self.summaries) - set(VERBS):
            raise ValueError(f"{self.kind}: unknown verbs {sorted(unknown)}")
        return [getattr(self, f"_{verb}")(self.summaries[verb]) for verb in VERBS if verb in self.summaries]

    @property
    def _plural(self) -> str:
        return self.plural or f"{self.kind}s"

    @property
    def _reply(self) -> Reply:
        return RESOURCE if self.etag else JSON

    def _request(self, rpc: str) -> Any:
        found = getattr(self.proto, f"{rpc}Request", None)
        if found is None:
            raise ValueError(f"{self.kind}: {self.proto.__name__} has no {rpc}Request")
        return found

    def _holder(self, rpc: str) -> str:
        """The field of <rpc>Request that holds the record."""
        record = getattr(self.proto, self.kind).DESCRIPTOR
        found: list[str] = [f.name for f in self._request(rpc).DESCRIPTOR.fields if f.message_type is record]
        if len(found) != 1:
            raise ValueError(f"{rpc}Request: expected one {self.kind} field, found {found}")
        return found[0]

    def _create(self, summary: str) -> Action:
        rpc = f"Create{self.kind}"
        return Action("POST", self.collection, f"create{self.kind}", summary, self.tag, rpc, self._request(rpc),
                      self.output, self._reply, body=self.input, body_field=self._holder(rpc),
                      query=self.create_params, status=201, location=self.collection)

    def _list(self, summary: str) -> Action:
        rpc = f"List{self._plural}"
        record = getattr(self.proto, self.kind).DESCRIPTOR
        answer = getattr(self.proto, f"{rpc}Response").DESCRIPTOR
        listed = next((f.name for f in answer.fields if f.message_type is record and f.is_repeated), None)
        if listed is None:
            raise ValueError(f"{rpc}Response lists no {self.kind}")
        return Action("GET", self.collection, f"list{self._plural}", summary, self.tag, rpc, self._request(rpc),
                      self.page, items(listed, paged="page" in answer.fields_by_name),
                      query=self.list_params, query_fields=self.list_fields)

    def _get(self, summary: str) -> Action:
        rpc = f"Get{self.kind}"
        return Action("GET", self._item, f"get{self.kind}", summary, self.tag, rpc, self._request(rpc),
                      self.output, self._reply)

    def _update(self, summary: str) -> Action:
        rpc = f"Update{self.kind}"
        holder = self._holder(rpc)
        return Action("PATCH", self._item, f"update{self.kind}", summary, self.tag, rpc, self._request(rpc),
                      self.output, self._reply, body=self.patch or self.input, body_field=holder, mask=Mask(),
                      path={"id": f"{holder}.id"})

    def _delete(self, summary: str) -> Action:
        rpc = f"Delete{self.kind}"
        return Action("DELETE", self._item, f"delete{self.kind}", summary, self.tag, rpc, self._request(rpc),
                      reply=NO_CONTENT)

    @property
    def _item(self) -> str:
        return f"{self.collection}/<id>"


def summaries(one: str, plural: str) -> dict[str, str]:
    """The five plain summaries of a record (a contact, contacts)."""
    return {
        "create": f"Create a {one}",
        "list": f"List {plural} visible to the caller",
        "get": f"Get a {one}",
        "update": f"Change some fields of a {one}; the keys given form the update mask",
        "delete": f"Delete a {one}",
    }
