"""Administration routes that span services: offboarding a leaving user in one request, ending a
delegation early, and the picklists every service shares (source, industry, level, lifecycle
stage: contacts owns them and publishes each change to the others, crmkit.picklists).

Offboarding is a small orchestration, not one RPC: sales transfers the deals (leads,
opportunities, open tasks, quotes), then contacts, support and marketing each move what they
own of the user (`Reassign`: customers, tickets assigned or escalated to them, campaigns). Each
service applies its own permissions (a manager moves only what they manage) and audits its part.
Every call carries an idempotency key derived from the operation id, so a retry of the whole
request with the same `Idempotency-Key` replays what already happened and finishes what did
not; each `Reassign` also moves only what the old owner still has, so running it twice is safe."""
from __future__ import annotations

import uuid
from typing import Any

import grpc
from flask import Response, g, request

from crm.common.v1 import ownership_pb2 as opb
from crm.common.v1 import picklists_pb2 as ppb
from crm.contacts.v1 import picklists_pb2 as cpb
from crm.contacts.v1 import picklists_pb2_grpc as cpb_grpc
from crm.sales.v1 import sales_pb2 as spb
from crm_gateway.actions import RESOURCE, Action
from crm_gateway.problems import Problem, from_rpc_error, invalid_field
from crm_gateway.routing import API, Call, Route, expected_version, json_response, metadata, resource_response, state
from crm_gateway.schema import to_message
from crm_gateway.schemas import REGISTRY
from crm_gateway.schemas import sales as sh
from crm_gateway.serialize import to_json
from crmkit import logs, picklists
from crmkit.grpc_server import IDEMPOTENCY_KEY

TAG = "admin"
log = logs.get("crm_gateway.admin")
# The order matters only for what a failure leaves behind: deals first (sales), then customers.
REASSIGNING = ("contacts", "support", "marketing")

OFFBOARDING_INPUT = REGISTRY.input(opb.ReassignRequest, "OffboardingRequest", exclude={"operation_id"},
                                   required=("from_user_id", "to_user_id"))
REGISTRY.require_text("OffboardingRequest", "from_user_id", "to_user_id")
OFFBOARDING_RESULT = REGISTRY.add("OffboardingResult", {
    "type": "object",
    "description": "what each service moved from the leaving user to the new owner",
    "properties": {
        "operation_id": {"type": "string", "description": "the Idempotency-Key, or a new id"},
        "from_user_id": {"type": "string"},
        "to_user_id": {"type": "string"},
        "services": {"type": "array", "items": {"type": "object", "properties": {
            "service": {"type": "string"},
            "moved": {"type": "object", "additionalProperties": {"type": "integer"}},
        }, "required": ["service", "moved"]}},
        "total": {"type": "integer", "description": "records moved, every service together"},
    },
    "required": ["operation_id", "from_user_id", "to_user_id", "services", "total"],
})


# -- picklists (contacts' crm.contacts.v1.PicklistAdmin): anyone signed in reads them (the console
# and exports show the labels), an admin changes one picklist at a time, If-Match the document's ETag.
PICKLISTS = REGISTRY.message(ppb.Picklists)
# `restricted` is required: omitted, proto3 would read false and quietly open the list to any text
PICKLIST_INPUT = REGISTRY.input(ppb.Picklist, "PicklistInput", exclude={"name"}, required=("values", "restricted"))
_VALUE_INPUT = REGISTRY.schemas["PicklistValueInput"]
_VALUE_INPUT["required"] = sorted({*_VALUE_INPUT.get("required", ()), "key"})
_VALUE_INPUT["properties"]["key"].update(
    pattern=picklists.KEY.pattern, maxLength=40,
    description="what records hold: snake_case; an existing key keeps its place by being listed")
for _lang in ("label_zh", "label_en"):
    _VALUE_INPUT["properties"][_lang].update(
        maxLength=picklists.MAX_LABEL, pattern="^[^\\r\\n\\u0000]*$",
        description="required for a new value; blank keeps the label the value has")
REGISTRY.schemas["PicklistInput"]["properties"]["values"]["maxItems"] = picklists.MAX_VALUES
PICKLIST_NAME_SCHEMA = {"type": "string", "enum": list(picklists.NAMES)}
# The GET answer sent back as it is passes: its read-only fields are accepted unchanged (the
# picklist's name as in the URL, the version as the ETag would be, each value's built_in as
# contacts has it) and a change of one is refused naming it.
_VALUE_INPUT["properties"]["built_in"] = {
    "type": "boolean", "description": "read-only (the server's): accepted when unchanged, a change is refused"}
REGISTRY.schemas["PicklistInput"]["properties"].update(
    name={**PICKLIST_NAME_SCHEMA, "description": "read-only: the picklist in the URL, accepted when the same"},
    version={"type": "integer", "minimum": 0, "maximum": 2**63 - 1,
             "description": "read-only: the document's version the body was read at, checked like If-Match "
                            "(0, before any change: no check)"})
PICKLIST_ENTRY = REGISTRY.add("PicklistEntry", {
    "type": "object",
    "description": "one picklist and the version of the document it is part of (its ETag, for If-Match)",
    "properties": {**REGISTRY.schemas["Picklist"]["properties"], "version": {"type": "integer"}},
    "required": sorted({*REGISTRY.schemas["Picklist"].get("required", ()), "version"}),
})


def get_picklist(c: Call, name: str) -> Response:
    client = state().backends.service_client("contacts", cpb_grpc.PicklistAdminStub)
    document = client.call("GetPicklists", cpb.GetPicklistsRequest(), metadata=metadata(), idempotent=True)
    found = next((p for p in document.picklists if p.name == name), None)
    if found is None:
        raise Problem(404, "not-found", "Not found", f"no picklist '{name}' (one of {', '.join(picklists.NAMES)})")
    # "0" too, before anyone changed a picklist: a client can always If-Match what it read
    return json_response({**to_json(found), "version": document.version}, 200, {"ETag": f'"{document.version}"'})


def _if_match() -> int | None:
    """The If-Match version (None: no check). "0", the ETag of the defaults, is a check as well:
    the change is refused (409) once anyone has changed a picklist."""
    raw = request.headers.get("If-Match")
    if raw is not None and raw.strip() == '"0"':
        return 0
    return expected_version() or None


def update_picklist(c: Call, name: str) -> Response:
    body = dict(c.body)
    if body.pop("name", name) != name:
        raise invalid_field("name", f"is read-only: this is the '{name}' picklist (the URL's)")
    expected = _if_match()
    stated = body.pop("version", 0)
    if stated and expected is not None and stated != expected:
        raise invalid_field("version", f"is read-only: {stated} is not the If-Match version {expected}")
    change = ppb.Picklist(name=name)
    to_message(body, change)
    update = cpb.UpdatePicklistRequest(picklist=change)
    if expected is not None or stated:  # the body's version 0 (the defaults sent back) checks nothing
        update.expected_version = stated if expected is None else expected
    client = state().backends.service_client("contacts", cpb_grpc.PicklistAdminStub)
    document = client.call("UpdatePicklist", update, metadata=metadata())
    answer = resource_response(document)
    answer.headers.setdefault("ETag", f'"{document.version}"')  # a save that changed nothing at version 0
    return answer


def _metadata(operation_id: str, service: str) -> tuple[tuple[str, str], ...]:
    kept = tuple((k, v) for k, v in metadata() if k != IDEMPOTENCY_KEY)
    return (*kept, (IDEMPOTENCY_KEY, f"offboarding-{operation_id}-{service}"))


def _failed(exc: grpc.RpcError, service: str, done: list[dict[str, Any]]) -> Problem:
    """The first service that refused or failed: its problem, naming the service and what the
    services before it already moved (a retry with the same Idempotency-Key resumes)."""
    problem = from_rpc_error(exc)
    problem.detail = f"{service}: {problem.detail}"
    problem.extra["failed_service"] = service
    problem.extra["completed"] = done
    return problem


def offboard(c: Call) -> Response:
    body = c.body
    operation_id = request.headers.get("Idempotency-Key") or str(uuid.uuid4())
    backends = state().backends
    done: list[dict[str, Any]] = []
    transfer = spb.TransferOwnershipRequest(from_user_id=body["from_user_id"], to_user_id=body["to_user_id"],
                                            reason=body.get("reason", "") or f"offboarding {operation_id}")
    try:
        moved = backends.client("sales").call("TransferOwnership", transfer,
                                              metadata=_metadata(operation_id, "sales"))
    except grpc.RpcError as exc:
        raise _failed(exc, "sales", done) from None
    done.append({"service": "sales", "moved": {"leads": moved.leads, "opportunities": moved.opportunities,
                                                "tasks": moved.tasks, "quotes": moved.quotes}})
    reassign = opb.ReassignRequest(
        from_user_id=body["from_user_id"], to_user_id=body["to_user_id"], to_team=body.get("to_team", ""),
        to_region=body.get("to_region", ""), reason=body.get("reason", ""), operation_id=operation_id)
    for service in REASSIGNING:
        try:
            answer = backends.client(service).call("Reassign", reassign, metadata=_metadata(operation_id, service))
        except grpc.RpcError as exc:
            raise _failed(exc, service, done) from None
        done.append({"service": service, "moved": dict(sorted(answer.moved.items()))})
    total = sum(n for part in done for n in part["moved"].values())
    log.info("offboarding %s by %s: %s -> %s, %d records moved", operation_id, g.principal.user_id,
             reassign.from_user_id, reassign.to_user_id, total)
    return json_response({"operation_id": operation_id, "from_user_id": reassign.from_user_id,
                          "to_user_id": reassign.to_user_id, "services": done, "total": total}, 200)


ROUTES: list[Route | Action] = [
    Route("POST", f"{API}/admin/offboarding", offboard, "offboardUser",
          "Move everything a leaving user owns to another user, in every service (customers without "
          "open deals, leads, deals, open tasks, quotes, tickets assigned or escalated to them, "
          "campaigns); audited, idempotent with Idempotency-Key, each service's count in the answer",
          TAG, body=OFFBOARDING_INPUT, response=OFFBOARDING_RESULT, errors=(400, 401, 403, 404, 409, 429, 503, 504)),
    Action("GET", f"{API}/admin/picklists", "listPicklists", "Every picklist (source, industry, level, "
           "lifecycle_stage) with its values in order, their zh-CN and en labels, retired and built-in flags; "
           "the ETag is the document's version", TAG, "GetPicklists", cpb.GetPicklistsRequest, PICKLISTS),
    Route("GET", f"{API}/admin/picklists/<name>", get_picklist, "getPicklist", "One picklist with its values "
          "and labels, and the document's version (ETag)", TAG, response=PICKLIST_ENTRY, etag=True),
    Route("PUT", f"{API}/admin/picklists/<name>", update_picklist, "updatePicklist", "Admin: replace one "
          "picklist's values, in display order: add a value (key with both labels), rename labels, retire "
          "(retired: true) or revive one, reorder; every key it has stays (built-in ones too: retire, never "
          "remove); restricted false makes the values suggestions. The GET answer sent back as it is is "
          'accepted (its read-only fields unchanged). If-Match "0" (the ETag before any change) is refused '
          "(409) once anyone has changed a picklist. Every service checks new writes against it once the "
          "change reaches it (crm.contacts.picklist.updated)", TAG, body=PICKLIST_INPUT, response=PICKLISTS,
          etag=True, if_match=True),
    Action("POST", f"{API}/sales/delegations/<id>/end", "endDelegation", "End a delegation now (the delegator "
           "is back early): the delegate no longer sees their records or customers", "sales", "EndDelegation",
           spb.EndDelegationRequest, sh.DELEGATION, RESOURCE),
]
