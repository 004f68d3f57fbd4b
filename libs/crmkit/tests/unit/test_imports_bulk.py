"""crmkit.imports.bulk writes through the driver exactly what SQLAlchemy's insert() writes: the
same stored values for every column type an import batch uses, omitted columns' defaults too."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    text,
)

from crmkit.imports.bulk import insert_many

metadata = MetaData()
things = Table(
    "things", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("live", Boolean, nullable=False, default=True),
    Column("doc", JSON, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("team", String(20), nullable=False, default="north"),
)
AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def test_rows_written_in_bulk_are_stored_as_insert_stores_them(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    metadata.create_all(engine)
    row = {"at": AT, "doc": {"问题": ["名称"]}, "data": b"\x00\xff"}
    with engine.begin() as conn:
        conn.execute(insert(things), [{"id": "a", **row}])
        insert_many(conn, things, [{"id": "b", **row}, {"id": "c", **row}])
    with engine.connect() as conn:
        stored = {r.id: r._asdict() for r in conn.execute(select(things))}
        raw = dict(conn.execute(text("SELECT id, at FROM things")).tuples().all())
    for key in ("b", "c"):
        assert {k: v for k, v in stored[key].items() if k not in ("seq", "id")} == \
               {k: v for k, v in stored["a"].items() if k not in ("seq", "id")}
        assert raw[key] == raw["a"]  # the same text in the file: comparisons and ordering agree
    assert stored["b"]["live"] is True and stored["b"]["team"] == "north"  # defaults of omitted columns
    engine.dispose()


def test_rows_with_different_columns_are_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn, pytest.raises(ValueError, match="same columns"):
        insert_many(conn, things, [{"id": "a", "at": AT, "doc": {}, "data": b""},
                                   {"id": "b", "at": AT, "doc": {}, "data": b"", "team": "south"}])
    engine.dispose()
