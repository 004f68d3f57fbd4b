"""The gateway's TLS settings to the services are checked when it starts, not at the first call."""
from __future__ import annotations

from pathlib import Path

import pytest

from crm_gateway.settings import GatewaySettings
from crmkit.config import ConfigError

BASE = {"CONTACTS_SERVICE_ADDR": "contacts:50051", "REPORTING_SERVICE_ADDR": "reporting:50055",
        "JWT_SECRET": "gateway-tls-test-secret-0123456789abcdef"}


def test_a_missing_ca_file_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GRPC_TLS_CA_FILE names .*not a file"):
        GatewaySettings.from_env({**BASE, "GRPC_TLS_CA_FILE": str(tmp_path / "absent-ca.crt")})


def test_a_client_certificate_without_its_key_stops_the_start(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="set both GRPC_TLS_CLIENT_CERT_FILE and GRPC_TLS_CLIENT_KEY_FILE"):
        GatewaySettings.from_env({**BASE, "GRPC_TLS_CA_FILE": str(ca), "GRPC_TLS_CLIENT_CERT_FILE": str(ca)})
    assert GatewaySettings.from_env({**BASE, "GRPC_TLS_CA_FILE": str(ca)}).tls.grpc_ca_file == str(ca)
