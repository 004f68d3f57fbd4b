"""The embedded search engine is per process: a second contacts replica on the same PostgreSQL
database would index only its own writes, so it refuses to start and says what to do instead
(OPENSEARCH_URL). Once the first replica stops, a new one starts and owns the index."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_contacts import bootstrap
from crm_devtools.users import DEMO_USERS
from crmkit.testing import NatsServer, ServiceHarness, fresh_postgres_database, postgres_reachable

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL not reachable on 127.0.0.1:5432")]

SECRET = "embedded-search-replica-secret-0123456789abcdef"


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database("crm_contacts_replicas") as url:
        yield url


def _replica(url: str, nats: NatsServer, tmp, n: int) -> ServiceHarness:  # type: ignore[no-untyped-def]
    directory = tmp / f"replica-{n}"  # each pod has its own DATA_DIR
    directory.mkdir()
    return ServiceHarness("contacts", bootstrap.spec, url=url, nats_url=nats.url, tmp=directory,
                          secret=SECRET, users=DEMO_USERS)


def test_a_second_replica_with_the_embedded_index_refuses_to_start(database, nats_server, tmp_path):
    first = _replica(database, nats_server, tmp_path, 1).migrate().start()
    try:
        second = _replica(database, nats_server, tmp_path, 2)
        with pytest.raises(RuntimeError, match="OPENSEARCH_URL") as refused:
            second.start()
        assert "another replica already runs the embedded search index" in str(refused.value)
    finally:
        first.stop()
    third = _replica(database, nats_server, tmp_path, 3).start()  # the owner is gone: this one owns it
    third.stop()
