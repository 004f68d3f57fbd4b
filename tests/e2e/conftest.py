"""The whole suite as processes (nats-server, every service, the gateway) on free ports, driven
over HTTP like a client would. One suite per session; tests isolate themselves by unique tags."""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from crm_devtools.devrun import Suite
from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token
from crmkit.testing import fresh_postgres_database, postgres_reachable

SECRET = "e2e-secret-for-shuniu-crm-0123456789"


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """SQLite by default; E2E_DATABASE=postgresql runs every service on fresh PostgreSQL DBs."""
    urls: dict[str, str] = {}
    stack = []
    if os.environ.get("E2E_DATABASE") == "postgresql" and postgres_reachable():
        from crm_devtools.devrun import available_services

        for service in available_services():
            cm = fresh_postgres_database(f"crm_e2e_{service}")
            urls[service] = cm.__enter__()
            stack.append(cm)
    s = Suite(Path(tmp_path_factory.mktemp("suite")), free_ports=True, jwt_secret=SECRET, database_urls=urls,
              extra_env={"RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000",
                         "WEBHOOKS_RETRY_BASE_SECONDS": "0.5"})  # a failing receiver's retries within seconds
    s.start()
    yield s
    s.stop()
    for cm in stack:
        cm.__exit__(None, None, None)


class Api:
    """A logged-in client of the gateway."""

    def __init__(self, base: str, user: str) -> None:
        self.base = base + "/api/v1"
        self.user = user
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {mint_token(DEMO_USERS[user], SECRET)}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, timeout=10, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.http.patch(self.base + path, timeout=10, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.http.delete(self.base + path, timeout=10, **kw)

    def counts(self, **params: str) -> dict[str, Any]:
        r = self.get("/reports/customers", params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session")
def api(suite: Suite) -> Callable[[str], Api]:
    return lambda user: Api(suite.gateway_url, user)


@pytest.fixture
def tag() -> str:
    """A tag unique to one test, so counts by tag isolate it from the rest of the session."""
    return f"e2e-{uuid.uuid4().hex[:8]}"


def count_for(counts: dict[str, Any], bucket: str, key: str) -> int:
    return next((int(b["count"]) for b in counts.get(bucket, []) if b["key"] == key), 0)


def new_contact(name: str, **extra: Any) -> dict[str, Any]:
    unique = uuid.uuid4().int
    body = {
        "name": name,
        "emails": [{"address": f"c{unique % 10**12}@e2e.example"}],
        "phones": [{"raw": f"+86 139 {unique % 10**4:04d} {(unique // 10**4) % 10**4:04d}"}],
        "source": "website",
        "level": "regular",
    }
    body.update(extra)
    return body


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 60.0) -> Any:
    """fetch() until done(answer) holds, that answer; a timeout names what was awaited and the last
    answer seen (a response's text)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last seen {getattr(value, 'text', value)!r}"[:2000])
        time.sleep(0.25)
