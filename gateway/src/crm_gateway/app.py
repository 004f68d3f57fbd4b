"""The app factory: routes from the route table, the request guard (request id, bearer token,
rate limit, idempotency key), RED metrics, and problem+json for every error."""
from __future__ import annotations

import re
import time
import uuid
from typing import Any

import grpc
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from crm_gateway import (
    console,
    ops,
    routes_admin,
    routes_audit,
    routes_channels,
    routes_contacts,
    routes_exports,
    routes_imports,
    routes_marketing,
    routes_marketing_automation,
    routes_privacy,
    routes_reports,
    routes_sales,
    routes_search,
    routes_segments,
    routes_sms,
    routes_support,
    routes_webhooks,
)
from crm_gateway import openapi as openapi_routes
from crm_gateway.actions import Action
from crm_gateway.clients import Backends
from crm_gateway.openapi import build_document
from crm_gateway.problems import (
    Problem,
    from_rpc_error,
    internal,
    invalid_field,
    rate_limited,
    unauthenticated,
)
from crm_gateway.public import PUBLIC_PRINCIPAL
from crm_gateway.ratelimit import Limit, limiter_for
from crm_gateway.routing import API, GatewayState, Route, dump, endpoint_for, refuse_nul_outside_body, too_large
from crm_gateway.schemas import REGISTRY
from crm_gateway.settings import GatewaySettings
from crmkit import logs, metrics
from crmkit.auth import TokenVerifier
from crmkit.credentials import ServiceCredentials
from crmkit.errors import Unauthenticated
from crmkit.grpc_server import CLIENT_ADDR, IDEMPOTENCY_KEY
from crmkit.token_cache import TokenCache

log = logs.get("crm_gateway")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII: a gRPC metadata value
_WRITES = frozenset({"POST", "PATCH", "DELETE", "PUT"})


def all_routes() -> list[Route]:
    """Every route; each declared Action is checked against its contract and its translation
    planned here, once per app, so a request pays only for copying its fields."""
    declared: list[Action | Route] = [
        *routes_admin.ROUTES,
        *routes_contacts.ROUTES,
        *routes_exports.ROUTES,
        *routes_imports.ROUTES,
        *routes_marketing.ROUTES,
        *routes_marketing_automation.ROUTES,
        *routes_segments.ROUTES,
        *routes_reports.ROUTES,
        *routes_sales.ROUTES,
        *routes_search.ROUTES,
        *routes_support.ROUTES,
        *routes_channels.ROUTES,
        *routes_sms.ROUTES,
        *routes_privacy.ROUTES,
        *routes_webhooks.ROUTES,
        *routes_audit.ROUTES,
        *openapi_routes.ROUTES,
    ]
    return [d.route() if isinstance(d, Action) else d for d in declared]


def create_app(settings: GatewaySettings | None = None) -> Flask:
    settings = settings or GatewaySettings.from_env()
    app = Flask("crm_gateway", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    routes = all_routes() + console.routes_for(settings.console)  # dev sign-in only when enabled
    for route in routes:
        app.add_url_rule(
            route.rule,
            endpoint=route.operation_id,
            view_func=endpoint_for(route),
            methods=[route.method],
            provide_automatic_options=False,  # the url_map lists exactly the documented methods
        )
    ops.register(app)
    console.register(app, settings.console)  # the built console at /, when CONSOLE_DIST is set
    st = GatewayState(
        settings=settings,
        backends=Backends(settings),
        tokens=TokenCache(
            TokenVerifier(settings.auth),
            max_entries=settings.token_cache_size,
            max_ttl=settings.token_cache_ttl,
        ),
        limiter=limiter_for(settings.rate_limit_redis_url, Limit(settings.rate_limit_rps, settings.rate_limit_burst)),
        registry=REGISTRY,
        routes=routes,
        public_credentials=ServiceCredentials(settings.auth, principal=PUBLIC_PRINCIPAL),
    )
    st.openapi_json = dump(build_document(routes, REGISTRY)).encode()
    app.extensions["crm_gateway"] = st
    public = frozenset(r.operation_id for r in routes if r.public)
    static: dict[str, set[str]] = {}
    for route in routes:
        if "<" not in route.rule:
            static.setdefault(route.rule, set()).add(route.method)
    _install_hooks(app, st, public, static)
    _install_error_handlers(app, static)
    if settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]  # Flask's documented way to wrap the WSGI app
    return app


def _allowed(methods: set[str]) -> list[str]:
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def _install_hooks(app: Flask, st: GatewayState, public: frozenset[str], static: dict[str, set[str]]) -> None:
    @app.before_request
    def guard() -> None:
        g.started = time.perf_counter()
        request_id = request.headers.get("X-Request-Id", "")
        if not _REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        g.request_id = request_id
        logs.request_id_var.set(request_id)
        rule = request.url_rule
        if rule is not None and "<" in rule.rule and request.path in static:
            # /leads/capture is its own resource, not the lead "capture": PATCH on it is a 405
            raise MethodNotAllowed(valid_methods=_allowed(static[request.path]))
        if request.path.startswith(API + "/") and request.endpoint not in public:
            _authenticate(st, request_id)
        refuse_nul_outside_body()

    series: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # label lookups, once per series

    drain_limit = max(4 * st.settings.max_body_bytes, 4 << 20)

    @app.after_request
    def finish(response: Response) -> Response:
        if request.content_length:
            _drain_unread_body(request.content_length, drain_limit)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        key = (rule, request.method, response.status_code)
        children = series.get(key)
        if children is None:
            children = series[key] = (
                metrics.HTTP_REQUESTS.labels(rule, request.method, str(response.status_code)),
                metrics.HTTP_DURATION.labels(rule, request.method),
            )
        children[0].inc()
        children[1].observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response


def _drain_unread_body(length: int, limit: int) -> None:
    """Read and drop a body the request never consumed (refused before reading: 413, 401, 429,
    a bad query). gunicorn itself drains only 64 KiB before dropping a keep-alive connection,
    and closing a socket with unread data resets it, so the client would lose our answer."""
    if length > limit:
        return  # abusive: let the connection go
    stream = request.environ.get("wsgi.input")
    remaining = length
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        remaining -= len(chunk)


def _authenticate(st: GatewayState, request_id: str) -> None:
    """Verify the bearer token, then charge the client's bucket (the subject, or the address
    when the token is missing or bad, so a flood of bad tokens is limited too)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    principal, problem = None, None
    if scheme.lower() != "bearer" or not token:
        problem = unauthenticated("send an Authorization: Bearer <token> header", bad_token=False)
    else:
        try:
            principal = st.tokens.verify(token)
        except Unauthenticated as exc:
            problem = unauthenticated(exc.message, bad_token=True)
    client = f"sub:{principal.user_id}" if principal else f"addr:{request.remote_addr}"
    wait = st.limiter.acquire(client)
    if wait:
        raise rate_limited(wait)
    if problem is not None:
        raise problem
    g.principal = principal
    metadata = [("authorization", f"Bearer {token}"), ("x-request-id", request_id),
                (CLIENT_ADDR, request.remote_addr or "")]  # for the services' audit logs
    key = request.headers.get("Idempotency-Key")
    if key is not None and request.method in _WRITES:
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            raise invalid_field(
                "Idempotency-Key", "use 1 to 200 visible ASCII characters, e.g. a UUID"
            )
        metadata.append((IDEMPOTENCY_KEY, key))
    g.grpc_metadata = tuple(metadata)


def _collection() -> str:
    """/api/v1/<collection> of the matched route, for links to an existing duplicate."""
    if request.url_rule is None:
        return ""
    parts = request.url_rule.rule.split("/")
    return "/".join(parts[:4]) if len(parts) > 3 else ""


def _install_error_handlers(app: Flask, static: dict[str, set[str]]) -> None:
    @app.errorhandler(Problem)
    def on_problem(exc: Problem) -> Response:
        return exc.response(g.get("request_id", ""))

    @app.errorhandler(grpc.RpcError)
    def on_rpc_error(exc: grpc.RpcError) -> Response:
        problem = from_rpc_error(exc, collection=_collection())
        if problem.status >= 500:
            code = exc.code() if hasattr(exc, "code") else None
            log.warning("backend call failed: %s", getattr(code, "name", code))
        return problem.response(g.get("request_id", ""))

    @app.errorhandler(RequestEntityTooLarge)
    def on_too_large(exc: RequestEntityTooLarge) -> Response:
        return too_large(app.config["MAX_CONTENT_LENGTH"]).response(g.get("request_id", ""))

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        slug = (exc.name or "error").lower().replace(" ", "-")
        problem = Problem(status, slug, exc.name or "Error", exc.description or "")
        if status == 405 and request.path in static:
            problem.headers["Allow"] = ", ".join(_allowed(static[request.path]))
        elif status == 405 and getattr(exc, "valid_methods", None):
            problem.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]  # only MethodNotAllowed has it; checked above
        return problem.response(g.get("request_id", ""))

    @app.errorhandler(Exception)
    def on_error(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return internal().response(g.get("request_id", ""))
