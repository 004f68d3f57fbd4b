"""Create / list / get / update / delete routes for a versioned resource (contact, account).

Both resources follow the same contract, so one factory builds their five routes from the RPC
naming convention (CreateContact, GetContact, ... with CreateContactRequest, ...)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_pb2 as pb
from crm_gateway.problems import invalid_field
from crm_gateway.routing import (
    API,
    Call,
    QueryParam,
    Route,
    expected_version,
    metadata,
    no_content,
    page_response,
    resource_response,
    state,
)
from crm_gateway.schema import JsonSchema, to_message
from crm_gateway.shapes import ALLOW_DUPLICATE, list_filter, page_request


@dataclass(frozen=True)
class Resource:
    kind: str  # Contact | Account: names the proto message and the RPCs
    plural: str  # contacts | accounts: the URL segment and the list response field
    output: JsonSchema
    input: JsonSchema
    page: JsonSchema
    list_params: tuple[QueryParam, ...]

    @property
    def collection(self) -> str:
        return f"{API}/{self.plural}"

    @property
    def field(self) -> str:
        return self.kind.lower()

    def message(self, body: dict[str, Any]) -> Any:
        return to_message(body, getattr(pb, self.kind)())

    def request(self, verb: str, **fields: Any) -> Any:
        return getattr(pb, f"{verb}{self.kind}Request")(**fields)


def crud_routes(res: Resource) -> list[Route]:
    def call(verb: str, request: Any) -> Any:
        method = f"{verb}{res.kind}" if verb != "List" else f"List{res.plural.capitalize()}"
        return state().backends.contacts.call(method, request, metadata=metadata())

    def create(c: Call) -> Response:
        request = res.request(
            "Create", **{res.field: res.message(c.body)},
            allow_duplicate=c.query.get("allow_duplicate", False),
        )
        created = call("Create", request)
        return resource_response(created, status=201, location=f"{res.collection}/{created.id}")

    def list_(c: Call) -> Response:
        request = getattr(pb, f"List{res.plural.capitalize()}Request")(
            filter=list_filter(c.query), page=page_request(c.query)
        )
        answer = call("List", request)
        return page_response(getattr(answer, res.plural), answer.page.next_page_token)

    def get(c: Call, id: str) -> Response:
        return resource_response(call("Get", res.request("Get", id=id)))

    def update(c: Call, id: str) -> Response:
        if not c.body:
            raise invalid_field("body", "give at least one field to change")
        changes = res.message(c.body)
        changes.id = id
        request = res.request(
            "Update", **{res.field: changes},
            update_mask=FieldMask(paths=sorted(c.body)),
            expected_version=expected_version(),
        )
        return resource_response(call("Update", request))

    def delete(c: Call, id: str) -> Response:
        call("Delete", res.request("Delete", id=id, expected_version=expected_version()))
        return no_content()

    one, item = res.kind.lower(), f"{res.collection}/<id>"
    return [
        Route("POST", res.collection, create, f"create{res.kind}", f"Create a {one}", res.plural,
              body=res.input, response=res.output, status=201, query=(ALLOW_DUPLICATE,),
              etag=True, location=True),
        Route("GET", res.collection, list_, f"list{res.plural.capitalize()}",
              f"List {res.plural} visible to the caller", res.plural,
              response=res.page, query=res.list_params),
        Route("GET", item, get, f"get{res.kind}", f"Get a {one}", res.plural,
              response=res.output, etag=True),
        Route("PATCH", item, update, f"update{res.kind}",
              f"Change some fields of a {one}; the keys given form the update mask", res.plural,
              body=res.input, response=res.output, etag=True, if_match=True),
        Route("DELETE", item, delete, f"delete{res.kind}", f"Delete a {one}", res.plural,
              response=None, status=204, if_match=True),
    ]
