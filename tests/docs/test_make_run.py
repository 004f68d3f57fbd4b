"""What the top README promises about `make run`: every listener on 127.0.0.1 unless BIND_HOST says
otherwise, and a JWT secret of its own, generated once into var/ and used by `make token`."""
from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest

from crm_devtools import token
from crm_devtools.devrun import Suite
from crm_devtools.secret import ensure_secret, read_secret
from crmkit.config import ConfigError, ServiceSettings, check_jwt_secret

BASE_ENV = {"CONTACTS_DATABASE_URL": "sqlite:///x.db", "NATS_URL": "nats://127.0.0.1:4222",
            "JWT_SECRET": "settings-test-secret-0123456789abcdef"}


def test_the_secret_is_generated_once_private_long_enough_and_reused(tmp_path: Path) -> None:
    first = ensure_secret(tmp_path / "var", env={})
    path = tmp_path / "var" / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.encode()) >= 32
    check_jwt_secret(first)  # what every service checks at start: not short, not a documented example
    assert ensure_secret(tmp_path / "var", env={}) == first == read_secret(tmp_path / "var", env={})
    assert ensure_secret(tmp_path / "other", env={}) != first
    given = "operator-chosen-secret-0123456789abcdef"
    assert ensure_secret(tmp_path / "var", env={"JWT_SECRET": given}) == given
    assert path.read_text().strip() == first  # an explicit JWT_SECRET never overwrites the file


def test_the_webhooks_sealing_key_is_generated_once_and_kept_across_runs(tmp_path: Path) -> None:
    """A new key at every `make run` could not open the secrets sealed in var/webhooks.db."""
    from crm_webhooks.bootstrap import secret_box

    suite = Suite(tmp_path / "var", free_ports=True, jwt_secret="settings-test-secret-0123456789abcdef")
    first = suite.service_env("webhooks")["WEBHOOKS_SECRET_KEY"]
    assert stat.S_IMODE((tmp_path / "var" / "webhooks-secret-key").stat().st_mode) == 0o600
    sealed = secret_box({"WEBHOOKS_SECRET_KEY": first}).seal("whsec_kept")
    again = Suite(tmp_path / "var", free_ports=True, jwt_secret="settings-test-secret-0123456789abcdef")
    assert secret_box(again.service_env("webhooks")).open(sealed) == "whsec_kept"


def test_make_token_signs_with_the_generated_secret_and_says_what_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    var = tmp_path / "var"
    assert token.main(["rep.north.1", "--var", str(var)]) == 2
    assert "make run" in capsys.readouterr().err
    secret = ensure_secret(var, env={})
    assert token.main(["rep.north.1", "--var", str(var)]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), secret, algorithms=["HS256"])
    assert (claims["sub"], claims["region"]) == ("rep.north.1", "north")


def test_bind_host_is_every_interface_in_a_container_and_checked() -> None:
    assert ServiceSettings.from_env("contacts", BASE_ENV).bind_host == "0.0.0.0"
    assert ServiceSettings.from_env("contacts", {**BASE_ENV, "BIND_HOST": "127.0.0.1"}).bind_host == "127.0.0.1"
    with pytest.raises(ConfigError, match="BIND_HOST"):
        ServiceSettings.from_env("contacts", {**BASE_ENV, "BIND_HOST": "127.0.0.1:8080"})


def _listening() -> dict[int, set[str]]:
    """Listening TCP sockets of this machine: port → local addresses (from /proc/net/tcp, tcp6)."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            if address.startswith("0000000000000000FFFF0000"):
                address = address[-8:]  # ::ffff:a.b.c.d, an IPv4 address on an IPv6 socket (gRPC's)
            if len(address) == 8:  # little-endian hex
                host = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                host = "::" if set(address) == {"0"} else address
            found.setdefault(int(port, 16), set()).add(host)
    return found


@pytest.mark.e2e
def test_every_listener_of_the_suite_binds_127_0_0_1_only(suite: Suite) -> None:
    ports = {"gateway": suite.gateway_port, "nats": suite.nats.port, "smtp-sink": suite.smtp_port,
             "sms-sink": suite.sms_port}
    for service, (grpc_port, metrics_port) in suite.ports.items():
        ports[f"{service} gRPC"], ports[f"{service} metrics"] = grpc_port, metrics_port
    listening = _listening()
    assert {name: listening.get(port) for name, port in ports.items()} == {name: {"127.0.0.1"} for name in ports}
