"""Administration routes that span services: offboarding a leaving user in one request, and
ending a delegation early.

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
from crm.sales.v1 import sales_pb2 as spb
from crm_gateway.actions import RESOURCE, Action
from crm_gateway.problems import Problem, from_rpc_error
from crm_gateway.routing import API, Call, Route, json_response, metadata, state
from crm_gateway.schemas import REGISTRY
from crm_gateway.schemas import sales as sh
from crmkit import logs
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
    Action("POST", f"{API}/sales/delegations/<id>/end", "endDelegation", "End a delegation now (the delegator "
           "is back early): the delegate no longer sees their records or customers", "sales", "EndDelegation",
           spb.EndDelegationRequest, sh.DELEGATION, RESOURCE),
]
