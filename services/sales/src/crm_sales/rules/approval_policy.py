"""Approval workflows for quotes. Pure: which steps a quote needs under the policies, and how
a decision moves a request along. Steps run in order; a rejection ends the request."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from crm.sales.v1.sales_pb2 import ApprovalPolicy, ApprovalRequest, ApprovalStep, Quote
from crm_sales.rules import money as m
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied

CONDITIONS = ("discount_above", "total_above", "special_terms", "always", "after_any")
ROLES = ("manager", "legal", "finance", "admin")

DEFAULT_POLICIES: tuple[ApprovalPolicy, ...] = (
    ApprovalPolicy(id="discount_manager", order=10, condition="discount_above", threshold="15",
                   approver_role="manager", description="discount above 15% needs the sales manager"),
    ApprovalPolicy(id="special_terms_legal", order=20, condition="special_terms", approver_role="legal",
                   description="special terms need legal"),
    ApprovalPolicy(id="finance_review", order=30, condition="after_any", approver_role="finance",
                   description="finance signs off whatever needed approval, then invoices"),
)


def validate_policies(policies: Sequence[ApprovalPolicy]) -> None:
    seen: set[str] = set()
    for i, policy in enumerate(policies):
        where = f"approval_policies[{i}]"
        if not policy.id or policy.id in seen:
            raise InvalidArgument("each policy needs a unique id", field=f"{where}.id")
        seen.add(policy.id)
        if policy.condition not in CONDITIONS:
            raise InvalidArgument(f"must be one of {', '.join(CONDITIONS)}", field=f"{where}.condition")
        if policy.approver_role not in ROLES:
            raise InvalidArgument(f"must be one of {', '.join(ROLES)}", field=f"{where}.approver_role")
        if policy.condition in ("discount_above", "total_above"):
            m.parse(policy.threshold, f"{where}.threshold")


def required_steps(quote: Quote, policies: Sequence[ApprovalPolicy]) -> list[ApprovalStep]:
    """One step per policy that applies, in policy order; `after_any` applies only when an
    earlier policy did."""
    steps: list[ApprovalStep] = []
    discount = Decimal(quote.effective_discount_percent or "0")
    total = Decimal(quote.total.amount or "0")
    for policy in sorted(policies, key=lambda p: (p.order, p.id)):
        reason = ""
        if policy.condition == "discount_above" and discount > Decimal(policy.threshold):
            reason = f"discount {discount}% is above {policy.threshold}%"
        elif policy.condition == "total_above" and total > Decimal(policy.threshold):
            reason = f"total {total} {quote.currency_code} is above {policy.threshold}"
        elif policy.condition == "special_terms" and quote.special_terms.strip():
            reason = "the quote has special terms"
        elif policy.condition == "always":
            reason = policy.description or "every quote"
        elif policy.condition == "after_any" and steps:
            reason = policy.description or "review after the other approvals"
        if reason:
            steps.append(ApprovalStep(order=len(steps) + 1, policy_id=policy.id,
                                      approver_role=policy.approver_role, reason=reason, status="waiting"))
    if steps:
        steps[0].status = "pending"
    return steps


def current_step(request: ApprovalRequest) -> ApprovalStep:
    # A withdrawn request (its quote was revised) can still hold a pending step when it was
    # withdrawn before its steps were closed with it: the request's status decides.
    if request.status != "pending":
        raise FailedPrecondition(f"approval {request.id} is already {request.status}", field="id")
    for step in request.steps:
        if step.status == "pending":
            return step
    raise FailedPrecondition(f"approval {request.id} is already {request.status}", field="id")


def may_decide(principal: Principal, step: ApprovalStep, request: ApprovalRequest) -> bool:
    if principal.is_admin:
        return True
    if step.approver_role not in principal.roles:
        return False
    if step.approver_role == "manager":
        # A manager approves for their own team or region only.
        return bool((principal.team and principal.team == request.team)
                    or (principal.region and principal.region == request.region))
    return True


def decide(request: ApprovalRequest, principal: Principal, approve: bool, comment: str,
           now: datetime) -> ApprovalStep:
    """Record the decision on the pending step; returns that step. The request becomes approved
    after its last step, rejected at the first rejection."""
    step = current_step(request)
    if not may_decide(principal, step, request):
        raise PermissionDenied(f"this step waits for a {step.approver_role} approval", field="id")
    if requested_by_self(request, principal) and not principal.is_admin:
        raise PermissionDenied("you cannot approve your own quote", field="id")
    if not approve and not comment.strip():
        raise InvalidArgument("say why when you reject", field="comment")
    step.status = "approved" if approve else "rejected"
    step.decided_by = principal.user_id
    step.comment = comment
    step.decided_at.FromDatetime(now)
    if not approve:
        for later in request.steps:
            if later.status == "waiting":
                later.status = "skipped"
        request.status = "rejected"
        request.decided_at.FromDatetime(now)
        return step
    following = [s for s in request.steps if s.status == "waiting"]
    if following:
        following[0].status = "pending"
    else:
        request.status = "approved"
        request.decided_at.FromDatetime(now)
    return step


def requested_by_self(request: ApprovalRequest, principal: Principal) -> bool:
    return request.requested_by == principal.user_id
