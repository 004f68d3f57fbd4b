"""What the database engine adds to the contract (test_contract.py runs it as "database" and
"postgres"): replicas share one index, concurrent writers of one document leave one document,
and a service picks it with SEARCH_ENGINE=database."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from crmkit.config import ConfigError, ServiceSettings
from crmkit.search import FieldKind, IndexSchema, SearchQuery, open_index
from crmkit.search.database import DatabaseSearchIndex
from crmkit.testing import fresh_postgres_database, postgres_reachable

SCHEMA = IndexSchema("customers_shared", {"name": FieldKind.TEXT, "owner_id": FieldKind.KEYWORD}, {"name": 2.0})


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not postgres_reachable():
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    with fresh_postgres_database("crm_search_shared") as url:
        yield url


def _replica(url: str) -> DatabaseSearchIndex:
    index = open_index(SCHEMA, opensearch_url=None, data_dir="unused", database_url=url)
    assert isinstance(index, DatabaseSearchIndex)
    index.ensure()
    return index


def test_what_one_replica_indexes_the_other_finds_at_once(pg_url: str) -> None:
    one, two = _replica(pg_url), _replica(pg_url)
    try:
        one.upsert([{"id": "c1", "name": "唐山钢铁集团", "owner_id": "u1"}])
        assert [h.id for h in two.search(SearchQuery("钢铁")).hits] == ["c1"]  # no refresh needed
        two.delete(["c1"])
        assert one.search(SearchQuery("钢铁")).total == 0
        two.rebuild([{"id": "c2", "name": "Tangshan Iron Works", "owner_id": "u2"}])
        assert [h.id for h in one.search(SearchQuery("Tangshan", filters={"owner_id": ["u2"]})).hits] == ["c2"]
    finally:
        one.close()
        two.close()


def test_two_replicas_writing_one_customer_at_once_leave_one_document(pg_url: str) -> None:
    replicas = [_replica(pg_url) for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(index: DatabaseSearchIndex, name: str) -> None:
        start.wait()
        try:
            for i in range(20):
                index.upsert([{"id": "c1", "name": f"{name} {i}", "owner_id": "u1"}])
        except BaseException as exc:  # a write refused (a duplicate key, a deadlock) is a failure
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(r, n)) for r, n in zip(replicas, ("Alpha", "Bravo"), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    try:
        assert replicas[0].count() == 1
        last = replicas[0].search(SearchQuery("", limit=5)).hits[0].document["name"]
        word = last.split()[0]
        other = {"Alpha": "Bravo", "Bravo": "Alpha"}[word]
        assert replicas[1].search(SearchQuery(word)).total == 1
        assert replicas[1].search(SearchQuery(other)).total == 0, "terms of an overwritten version remain"
        engine = create_engine(pg_url)
        with engine.connect() as conn:
            words = conn.execute(text("SELECT count(*) FROM crm_search_terms WHERE kind = 'raw' AND doc_id = 'c1'"))
            assert words.scalar() == 2  # the name's two words, once each
        engine.dispose()
    finally:
        for r in replicas:
            r.close()


def test_a_service_picks_the_engine_from_search_engine() -> None:
    base = {"DATABASE_URL": "sqlite:///x.db", "NATS_URL": "nats://127.0.0.1:4222",
            "JWT_SECRET": "search-engine-settings-secret-0123456789abcdef"}
    assert ServiceSettings.from_env("contacts", base).search_engine == "embedded"
    assert ServiceSettings.from_env("contacts", {**base, "SEARCH_ENGINE": "database"}).search_engine == "database"
    with pytest.raises(ConfigError, match="SEARCH_ENGINE"):
        ServiceSettings.from_env("contacts", {**base, "SEARCH_ENGINE": "elastic"})
