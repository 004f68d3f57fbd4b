"""The OpenAPI document matches the served routes exactly; the operator endpoints work."""
from __future__ import annotations

import re

import pytest
from grpc_health.v1 import health_pb2

from crm_gateway.settings import GatewaySettings
from crmkit import limits
from crmkit.config import ConfigError

IMPLIED = {"HEAD", "OPTIONS"}  # HEAD is implied by GET; OPTIONS is not served


def served_operations(app) -> set[tuple[str, str]]:
    ops = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            ops |= {(path, m) for m in rule.methods - IMPLIED}
    return ops


def test_openapi_paths_and_methods_equal_the_url_map(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    served = served_operations(client.application)
    assert documented == served
    assert ("/api/v1/contacts/{id}/merge", "POST") in served  # the comparison is not vacuous


def test_openapi_is_3_1_and_every_ref_resolves(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    text = client.get("/api/v1/openapi.json").get_data(as_text=True)
    for target in set(re.findall(r'"\$ref":"#/components/(\w+)/([\w.]+)"', text)):
        assert target[1] in doc["components"][target[0]], target


def test_openapi_documents_what_the_validator_enforces(client, auth, fake):
    doc = client.get("/api/v1/openapi.json").get_json()
    create = doc["paths"]["/api/v1/contacts"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    contact_input = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert contact_input["additionalProperties"] is False
    assert "version" not in contact_input["properties"]  # server-owned, refused on input
    assert contact_input["properties"]["social"] == {
        "type": "object", "additionalProperties": {"type": "string", "maxLength": limits.MAX_SHORT_TEXT,
                                                    "pattern": "^[^\\u0000]*$"},
        "maxProperties": limits.MAX_CUSTOM_FIELDS, "propertyNames": {"maxLength": limits.MAX_CUSTOM_FIELD_KEY,
                                                              "pattern": "^[^\\u0000]*$"}}
    assert doc["components"]["schemas"]["Contact"]["properties"]["created_at"]["format"] == "date-time"
    params = {p["name"] for p in doc["paths"]["/api/v1/contacts"]["get"]["parameters"]}
    assert {"region", "tag", "q", "page_size", "page_token", "updated_since", "account_id"} <= params
    assert "401" in create["responses"] and "409" in create["responses"]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def test_healthz_is_up_without_touching_backends(make_client, settings, dead_addr):
    client = make_client(settings, contacts_addr=dead_addr, reporting_addr=dead_addr)
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_backendz_is_200_when_every_backend_serves(client):
    assert client.get("/readyz").get_json() == {"status": "ready"}  # readiness asks no backend
    resp = client.get("/backendz")
    assert resp.status_code == 200
    assert resp.get_json()["backends"] == {"contacts": "SERVING", "reporting": "SERVING"}


def test_backendz_is_503_naming_the_unreachable_backend(make_client, settings, dead_addr):
    client = make_client(settings, reporting_addr=dead_addr)
    resp = client.get("/backendz")
    assert resp.status_code == 503
    problem = resp.get_json()
    assert [e["field"] for e in problem["errors"]] == ["reporting"]
    assert problem["backends"]["contacts"] == "SERVING"


def test_backendz_is_503_when_a_backend_reports_not_serving(client, backend):
    backend.contacts_server.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        resp = client.get("/backendz")
    finally:
        backend.contacts_server.health.set("", health_pb2.HealthCheckResponse.SERVING)
    assert resp.status_code == 503
    assert resp.get_json()["errors"] == [{"field": "contacts", "message": "NOT_SERVING"}]


def test_metrics_count_requests_per_route_template(client, auth):
    client.get("/api/v1/contacts/some-id", headers=auth)
    text = client.get("/metrics").get_data(as_text=True)
    assert "crm_http_requests_total" in text
    assert re.search(r'crm_http_requests_total\{method="GET",route="/api/v1/contacts/<id>",status="404"\} [1-9]', text)
    assert 'route="/api/v1/contacts/some-id"' not in text  # templates, not raw paths
    assert "crm_http_request_duration_seconds_bucket" in text


@pytest.mark.parametrize("missing", ["CONTACTS_SERVICE_ADDR", "REPORTING_SERVICE_ADDR", "JWT_SECRET"])
def test_settings_fail_fast_naming_the_missing_variable(missing):
    env = {"CONTACTS_SERVICE_ADDR": "a:1", "REPORTING_SERVICE_ADDR": "b:2", "JWT_SECRET": "s" * 32}
    del env[missing]
    with pytest.raises(ConfigError, match=missing):
        GatewaySettings.from_env(env)


def test_settings_reject_a_malformed_number():
    env = {"CONTACTS_SERVICE_ADDR": "a:1", "REPORTING_SERVICE_ADDR": "b:2", "JWT_SECRET": "s" * 32,
           "RATE_LIMIT_RPS": "lots"}
    with pytest.raises(ConfigError, match="RATE_LIMIT_RPS"):
        GatewaySettings.from_env(env)
    defaults = GatewaySettings.from_env({**env, "RATE_LIMIT_RPS": ""})
    assert (defaults.rate_limit_rps, defaults.rate_limit_burst, defaults.max_body_bytes) == (200, 400, 1 << 20)


def test_openapi_names_the_real_media_type_and_idempotency_on_put(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    pdf = doc["paths"]["/api/v1/quotes/{id}/pdf"]["get"]["responses"]["200"]["content"]
    assert list(pdf) == ["application/pdf"]
    put_params = [p["name"] for p in doc["paths"]["/api/v1/price-books"]["put"].get("parameters", [])]
    assert "Idempotency-Key" in put_params
