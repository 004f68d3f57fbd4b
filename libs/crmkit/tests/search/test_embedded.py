"""What the embedded engine owes beyond the contract: data on disk that survives a
restart, atomic rebuilds, schema checks, and safe use from a thread pool."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from crmkit.search import FieldKind, IndexSchema, IndexSchemaMismatch, SearchIndex, SearchQuery, open_index
from crmkit.search.embedded import EmbeddedSearchIndex
from crmkit.search.opensearch import OpenSearchIndex

SCHEMA = IndexSchema(
    "customers",
    {"name": FieldKind.TEXT, "company": FieldKind.TEXT, "phone": FieldKind.PHONE, "region": FieldKind.KEYWORD},
    boosts={"name": 2.0},
)
DOCS = [
    {"id": "c1", "name": "张伟", "company": "华为技术有限公司", "phone": "+8613800138000", "region": "north"},
    {"id": "c2", "name": "Zhang Wei", "company": "Siemens AG", "region": "west"},
]


def embedded(data_dir: Path, schema: IndexSchema = SCHEMA, **kwargs: object) -> EmbeddedSearchIndex:
    index = EmbeddedSearchIndex(schema, data_dir, refresh_interval=None, **kwargs)  # type: ignore[arg-type]
    index.ensure()
    return index


def names(index: EmbeddedSearchIndex, text: str) -> list[str]:
    return [hit.id for hit in index.search(SearchQuery(text)).hits]


def test_open_index_picks_the_engine_from_configuration(tmp_path: Path) -> None:
    local = open_index(SCHEMA, opensearch_url=None, data_dir=tmp_path)
    assert isinstance(local, EmbeddedSearchIndex) and isinstance(local, SearchIndex)
    remote = open_index(SCHEMA, opensearch_url="http://127.0.0.1:9", data_dir=tmp_path)
    assert isinstance(remote, OpenSearchIndex) and isinstance(remote, SearchIndex)  # built without connecting
    assert not (tmp_path / "customers").exists()  # nothing touches disk before ensure()


def test_the_index_survives_a_restart(tmp_path: Path) -> None:
    first = embedded(tmp_path)
    first.upsert(DOCS)
    first.refresh()
    first.close()
    again = embedded(tmp_path)
    assert again.count() == 2
    assert names(again, "华为") == ["c1"]
    again.close()


def test_close_commits_writes_that_were_never_refreshed(tmp_path: Path) -> None:
    first = embedded(tmp_path)
    first.upsert(DOCS)
    first.close()
    assert embedded(tmp_path).count() == 2


def test_ensure_is_idempotent(tmp_path: Path) -> None:
    index = embedded(tmp_path)
    index.upsert(DOCS)
    index.refresh()
    index.ensure()
    assert embedded(tmp_path / "other").count() == 0
    assert index.count() == 2


def test_rebuild_swaps_generations_and_removes_the_old_one(tmp_path: Path) -> None:
    index = embedded(tmp_path)
    index.upsert(DOCS)
    index.refresh()
    before = sorted(p.name for p in (tmp_path / "customers").glob("gen-*"))
    assert index.rebuild([DOCS[1]]) == 1
    after = sorted(p.name for p in (tmp_path / "customers").glob("gen-*"))
    assert len(before) == len(after) == 1 and before != after
    assert (tmp_path / "customers" / "CURRENT").read_text() == after[0]
    index.close()
    assert embedded(tmp_path).count() == 1  # the swap is what a restart sees


def test_a_rebuild_after_restart_also_removes_the_old_generation(tmp_path: Path) -> None:
    embedded(tmp_path).close()
    fresh_process = EmbeddedSearchIndex(SCHEMA, tmp_path, refresh_interval=None)  # no ensure()
    fresh_process.rebuild(DOCS)
    assert len(list((tmp_path / "customers").glob("gen-*"))) == 1
    assert fresh_process.count() == 2


def test_a_failed_rebuild_keeps_the_live_index(tmp_path: Path) -> None:
    index = embedded(tmp_path)
    index.upsert(DOCS)
    index.refresh()

    def broken():  # the source of truth fails half-way through
        yield DOCS[0]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        index.rebuild(broken())
    assert index.count() == 2 and names(index, "Siemens") == ["c2"]
    assert len(list((tmp_path / "customers").glob("gen-*"))) == 1


def test_a_changed_schema_asks_for_a_rebuild(tmp_path: Path) -> None:
    embedded(tmp_path).close()
    changed = IndexSchema("customers", {**SCHEMA.fields, "email": FieldKind.EMAIL})
    with pytest.raises(IndexSchemaMismatch):
        embedded(tmp_path, changed)
    index = EmbeddedSearchIndex(changed, tmp_path, refresh_interval=None)
    index.rebuild([dict(DOCS[0], email="zhang.wei@huawei.com")])
    assert [h.id for h in index.search(SearchQuery("zhang.wei@huawei.com")).hits] == ["c1"]


def test_boosts_may_change_without_a_rebuild(tmp_path: Path) -> None:
    embedded(tmp_path).close()
    reboosted = IndexSchema("customers", dict(SCHEMA.fields), boosts={"company": 5.0})
    embedded(tmp_path, reboosted).close()  # boosts are applied at query time


def test_drop_removes_the_data(tmp_path: Path) -> None:
    index = embedded(tmp_path)
    index.upsert(DOCS)
    index.refresh()
    index.drop()
    assert not (tmp_path / "customers").exists()


def test_readers_and_a_writer_share_the_index_from_many_threads(tmp_path: Path) -> None:
    index = embedded(tmp_path)
    index.upsert(DOCS)
    index.refresh()
    errors: list[BaseException] = []
    seen_totals: list[int] = []

    def write() -> None:
        try:
            for i in range(60):
                index.upsert([{"id": f"n{i}", "name": f"并发客户 {i}", "region": "north"}])
                if i % 7 == 0:
                    index.refresh()
            index.refresh()
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(60):
                seen_totals.append(index.search(SearchQuery("并发", filters={"region": ["north"]})).total)
                index.count()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(0 <= total <= 60 for total in seen_totals)  # each read saw one consistent snapshot
    assert index.search(SearchQuery("并发")).total == 60


def test_writes_become_visible_without_refresh_when_auto_refresh_is_on(tmp_path: Path) -> None:
    index = EmbeddedSearchIndex(SCHEMA, tmp_path, refresh_interval=0.05)
    index.ensure()
    index.upsert(DOCS)
    deadline = time.monotonic() + 10  # a bound, not a timing assertion
    while index.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert index.count() == 2
    index.close()
