"""The migration that gives import report rows `kept` (crmkit.imports.tables.add_kept: contacts
i002, sales and support m002), in each importing service on SQLite and PostgreSQL: the rows an
import stored before it read back the same (a poll still lists the rejected ones, the report marks
the kept ones), the migrated import tables are the ones the service's tables.py declares, and the
downgrade gives back the earlier revision's table with every row intact."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session

from crmkit.db import make_engine
from crmkit.imports.store import ImportStore
from crmkit.migrate import migrations_of
from crmkit.migrations import alembic_config

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Service:
    """An importing service: its revisions around the migration, its job ids' prefix, and where
    its import store and table metadata live ("module:attribute", imported only by its test)."""

    name: str
    before: str
    revision: str
    job_prefix: str
    store: str
    metadata: str

    def attribute(self, where: str) -> Any:
        module, name = where.split(":")
        return getattr(importlib.import_module(module), name)


SERVICES = [
    pytest.param(Service("contacts", "i001", "i002", "", "crm_contacts.store.imports:STORE",
                         "crm_contacts.tables:metadata"), id="contacts"),
    pytest.param(Service("sales", "m001", "m002", "sales-", "crm_sales.store.imports:STORE",
                         "crm_sales.tables:metadata"), id="sales"),
    pytest.param(Service("support", "m001", "m002", "support-", "crm_support.store:IMPORTS",
                         "crm_support.tables:metadata"), id="support"),
]
# as an import stored them before the migration: "kept" in the JSON only; more rows than one
# backfill batch
ROWS = [(n, {"problems": [["phone", "手机", "kept as typed, unverified", "140"]], "values": ["王芳", "140"],
             **({"kept": True} if n % 3 == 0 else {})}) for n in range(2, 1300)]
ROWS.append((1300, {"problems": [["name", "姓名", "required", ""]], "values": ["kept", '"kept"']}))  # the word only
old_rejects = sa.table("import_rejects", sa.column("job_id", sa.String), sa.column("row", sa.BigInteger),
                       sa.column("data", sa.JSON))


def _table_of(change: Any) -> str:
    first = change[0] if isinstance(change, list) else change  # modify_* changes come as a list
    for part in first[1:]:  # ("add_column", schema, table name, column), ("add_index", index) ...
        name = part if isinstance(part, str) else getattr(getattr(part, "table", part), "name", None)
        if isinstance(name, str):
            return name
    return ""


def _rejects_shape(engine: sa.Engine) -> tuple[list[str], list[str]]:
    inspector = sa.inspect(engine)
    return ([c["name"] for c in inspector.get_columns("import_rejects")],
            [i["name"] or "" for i in inspector.get_indexes("import_rejects")])


def _import_table_changes(engine: sa.Engine, metadata: sa.MetaData) -> list[Any]:
    """What the database lacks or has beyond the service's tables.py, in the import tables."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    return [change for change in diff if _table_of(change).startswith("import_")]


@pytest.mark.parametrize("service", SERVICES)
def test_rows_stored_before_the_migration_read_back_the_same(service: Service, database_url: str) -> None:
    store: ImportStore = service.attribute(service.store)
    metadata: sa.MetaData = service.attribute(service.metadata)
    job = f"{service.job_prefix}0f2c7d1e-import"
    config = alembic_config(database_url, migrations_of(service.name))
    command.upgrade(config, service.before)
    engine = make_engine(database_url)
    try:
        assert _rejects_shape(engine) == (["job_id", "row", "data"], [])  # the earlier migration's table, as it was
        with engine.begin() as conn:
            conn.execute(sa.insert(old_rejects), [{"job_id": job, "row": n, "data": d} for n, d in ROWS])
        command.upgrade(config, "heads")
        with Session(engine) as session:
            assert list(store.rejects(session, job)) == ROWS
            assert [n for n, _ in store.rejects(session, job, 50, kept=False)] == \
                [n for n, d in ROWS if not d.get("kept")][:50]
            assert [n for n, _ in store.rejects(session, job, kept=True)] == [n for n, d in ROWS if d.get("kept")]
        assert _import_table_changes(engine, metadata) == []  # what tables.py declares, index included

        command.downgrade(config, f"{service.revision}@-1")
        assert _rejects_shape(engine) == (["job_id", "row", "data"], [])
        assert sorted(change[0] for change in _import_table_changes(engine, metadata)) == ["add_column", "add_index"]
        with engine.connect() as conn:
            stored = conn.execute(sa.select(old_rejects.c.row, old_rejects.c.data).order_by(old_rejects.c.row)).all()
        assert [tuple(r) for r in stored] == ROWS  # nothing lost: "kept" is still in the JSON

        command.upgrade(config, "heads")
        with Session(engine) as session:
            assert list(store.rejects(session, job)) == ROWS
    finally:
        engine.dispose()
