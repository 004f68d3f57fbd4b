"""A field a service names travels percent-encoded in a gRPC trailer (metadata is ASCII); the
problem+json a client reads names the field as the client wrote it, in any script. And the
gateway, like every service, refuses to start with a JWT secret anyone could guess."""
from __future__ import annotations

from typing import Any

import grpc
import pytest

from crm_gateway.problems import from_rpc_error
from crm_gateway.settings import GatewaySettings
from crmkit.config import DEV_JWT_SECRET, ConfigError
from crmkit.errors import ERROR_DETAILS_KEY, ERROR_FIELD_KEY, encode_field


class _Refused(grpc.RpcError):
    def __init__(self, trailers: tuple[tuple[str, Any], ...]) -> None:
        self._trailers = trailers

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INVALID_ARGUMENT

    def details(self) -> str:
        return "no custom field '键' is defined"

    def trailing_metadata(self) -> tuple[tuple[str, Any], ...]:
        return self._trailers


@pytest.mark.parametrize("name", ["custom_fields.键", "custom_fields.100%", "phones[0].number", "budget"])
def test_the_problem_names_the_field_the_client_wrote(name: str) -> None:
    problem = from_rpc_error(_Refused(((ERROR_DETAILS_KEY, "{}"), (ERROR_FIELD_KEY, encode_field(name)))))
    assert problem.status == 400
    assert [e.field for e in problem.errors] == [name]


def test_a_missing_or_binary_field_trailer_names_no_field() -> None:
    assert from_rpc_error(_Refused(((ERROR_DETAILS_KEY, "{}"),))).errors == []
    assert from_rpc_error(_Refused(((ERROR_FIELD_KEY, b"\xe9"),))).errors == []


@pytest.mark.parametrize("secret", ["gateway-test-secret", DEV_JWT_SECRET])
def test_the_gateway_refuses_to_start_with_a_guessable_jwt_secret(secret: str) -> None:
    env = {"CONTACTS_SERVICE_ADDR": "a:1", "REPORTING_SERVICE_ADDR": "b:2", "JWT_SECRET": secret}
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        GatewaySettings.from_env(env)
