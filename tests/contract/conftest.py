"""The whole suite as processes (as tests/e2e starts it), for tests of the served contract: the
OpenAPI document at /api/v1/openapi.json against the behaviour behind it."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_devtools.devrun import Suite
from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token

SECRET = "contract-secret-for-shuniu-crm-0123456789"


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    # Generated requests come fast and from one address: the limits would answer most of them 429.
    s = Suite(Path(tmp_path_factory.mktemp("contract-suite")), free_ports=True, jwt_secret=SECRET,
              extra_env={"RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000",
                         "RATE_LIMIT_PUBLIC_WRITES_PER_MINUTE": "0",
                         # a loaded CI machine must not turn a slow answer into a 504 "server error"
                         "GATEWAY_GRPC_TIMEOUT_SECONDS": "30"})
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def token_for() -> Callable[[str], str]:
    """A bearer token for a demo user."""
    return lambda user: mint_token(DEMO_USERS[user], SECRET, 3600)
