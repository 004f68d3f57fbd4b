"""Calls for the public endpoints (web form, self-service knowledge base, CSAT answers), which
carry no user token.

The gateway calls the service as the "public-web" principal (role "public", which the service
lets reach only its public RPCs) with a service credential (`crmkit.credentials`: a token file
the platform keeps fresh, or a short-lived token minted from the shared HS256 secret); each
visitor address is rate limited here (every public request at the general rate, every public write
— a POST — also under RATE_LIMIT_PUBLIC_WRITES_PER_MINUTE, and a knowledge-base vote at most
KB_VOTES_PER_DAY times per article per address), and the service adds its own abuse limits.
Without any credential (JWKS-only auth, no token file) the public endpoints answer 503."""
from __future__ import annotations

from typing import Any

from flask import g, request
from google.protobuf.message import Message

from crm_gateway.problems import Problem, rate_limited
from crm_gateway.ratelimit import Limit
from crm_gateway.routing import state
from crmkit.auth import Principal
from crmkit.grpc_server import CLIENT_ADDR

PUBLIC_PRINCIPAL = Principal("public-web", ("public",), "", "", "public web visitor")
KB_VOTES_PER_DAY = 3  # per article and visitor address: a reader may change their mind, not stuff the count
KB_VOTE_LIMIT = Limit(KB_VOTES_PER_DAY / 86_400, KB_VOTES_PER_DAY)


def charge_visitor() -> None:
    """Take one token from the visitor address's bucket, and for a POST one from its public-write
    bucket too; 429 with Retry-After when either is empty. public_call charges it; the public
    pages that answer without a backend call charge it themselves."""
    st, address = state(), request.remote_addr
    wait = st.limiter.acquire(f"public:{address}")
    if not wait and request.method == "POST" and st.settings.public_writes_per_minute:
        wait = st.limiter.acquire(f"public-write:{address}", Limit.per_minute(st.settings.public_writes_per_minute))
    if wait:
        raise rate_limited(wait)


def charge_vote(article_id: str) -> None:
    """A knowledge-base vote: at most KB_VOTES_PER_DAY per article from one address."""
    wait = state().limiter.acquire(f"kb-vote:{request.remote_addr}:{article_id}", KB_VOTE_LIMIT)
    if wait:
        raise rate_limited(wait)


def public_call(backend: str, method: str, message: Message) -> Any:
    st = state()
    client = st.backends.client(backend)  # 503 first when the service is not deployed
    charge_visitor()
    authorization = st.public_credentials.authorization()
    if not authorization:
        raise Problem(503, "service-unavailable", "Service unavailable",
                      "public endpoints need a service credential on this gateway")
    md = (("authorization", authorization), ("x-request-id", g.get("request_id", "")),
          (CLIENT_ADDR, request.remote_addr or ""))
    return client.call(method, message, metadata=md)
