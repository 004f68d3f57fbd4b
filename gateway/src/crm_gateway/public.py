"""Calls for the public endpoints (web form, self-service knowledge base, CSAT answers), which
carry no user token.

The gateway calls the service as the "public-web" principal (role "public", which the service
lets reach only its public RPCs) with a service credential (`crmkit.credentials`: a token file
the platform keeps fresh, or a short-lived token minted from the shared HS256 secret); each
visitor address is rate limited here, and the service adds its own abuse limits. Without any
credential (JWKS-only auth, no token file) the public endpoints answer 503."""
from __future__ import annotations

from typing import Any

from flask import g, request
from google.protobuf.message import Message

from crm_gateway.problems import Problem, rate_limited
from crm_gateway.routing import state
from crmkit.auth import Principal

PUBLIC_PRINCIPAL = Principal("public-web", ("public",), "", "", "public web visitor")


def charge_visitor() -> None:
    """Take one token from the visitor address's bucket; 429 when it is empty. For the public
    pages that answer without a backend call (public_call charges its own)."""
    wait = state().limiter.acquire(f"public:{request.remote_addr}")
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
    md = (("authorization", authorization), ("x-request-id", g.get("request_id", "")))
    return client.call(method, message, metadata=md)
