"""gRPC status codes from a backend become the documented HTTP statuses as problem+json, and
5xx bodies never carry the backend's text."""
from __future__ import annotations

import grpc
import pytest

SECRET_TEXT = "psycopg.OperationalError at 10.0.3.7:5432"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
        (grpc.StatusCode.DATA_LOSS, 500),
    ],
)
def test_grpc_status_maps_to_http(client, auth, fake, code, status):
    fake.fail_with = (code, SECRET_TEXT)
    resp = client.get("/api/v1/contacts/c-1", headers=auth)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if status >= 500:
        assert SECRET_TEXT not in resp.get_data(as_text=True)
    else:
        assert problem["detail"] == SECRET_TEXT  # a client error explains itself
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_backend_down_is_503_without_internal_addresses(make_client, settings, auth, dead_addr):
    client = make_client(settings, contacts_addr=dead_addr, grpc_timeout=1.0)
    resp = client.get("/api/v1/contacts/c-1", headers=auth)
    assert resp.status_code == 503
    assert dead_addr.split(":")[1] not in resp.get_data(as_text=True)


def test_not_found_names_the_field_and_keeps_the_request_id(client, auth, fake):
    resp = client.get("/api/v1/contacts/missing", headers={**auth, "X-Request-Id": "trace-1"})
    problem = resp.get_json()
    assert resp.status_code == 404
    assert problem["errors"][0]["field"] == "id"
    assert problem["request_id"] == "trace-1" and resp.headers["X-Request-Id"] == "trace-1"


def test_wrong_method_is_405_problem(client, auth):
    resp = client.put("/api/v1/contacts/c-1", headers=auth, json={})
    assert resp.status_code == 405 and resp.mimetype == "application/problem+json"
    assert "PATCH" in resp.headers["Allow"]
