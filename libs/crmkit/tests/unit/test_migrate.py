"""One migration command for every service (`python -m crmkit.migrate <svc>`), and the migrated
SQLite files the fast use-case tests run on."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, inspect, select, text

from crmkit import testing
from crmkit.migrate import main, migrations_of
from crmkit.runtime_tables import outbox_row

REPO = Path(__file__).resolve().parents[4]
SERVICES = sorted(p.parents[3].name for p in REPO.glob("services/*/src/crm_*/migrations/env.py"))
RUNTIME_TABLES = {"crm_outbox", "crm_inbox", "crm_dead_letters", "crm_idempotency_keys"}


def test_every_service_has_migrations():
    assert {"contacts", "sales", "support", "reporting"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_are_found_without_importing_the_service(service):
    probe = ("import sys; from crmkit.migrate import migrations_of; "
             f"path = migrations_of({service!r}); "
             f"assert not [m for m in sys.modules if m.startswith('crm_{service}')], 'imported the service'; "
             "print(path)")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()) == REPO / "services" / service / "src" / f"crm_{service}" / "migrations"
    assert migrations_of(service) == Path(run.stdout.strip())


def test_an_unknown_service_names_the_missing_package():
    with pytest.raises(SystemExit, match="crm_nosuch"):
        migrations_of("nosuch")


@pytest.mark.parametrize("service", SERVICES)
def test_the_command_applies_a_services_migrations_to_its_database(service, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / f'{service}.db'}"
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:1")  # read with the settings, never connected
    monkeypatch.setenv("JWT_SECRET", "migrate-test-secret-0123456789abcdef")
    assert main([service]) == 0
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert RUNTIME_TABLES | {"alembic_version"} <= tables
        assert tables - RUNTIME_TABLES - {"alembic_version"}, "no table of the service's own"
        with engine.connect() as conn:
            heads = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all())
        assert "a001" in heads, "the audit log's migration (a branch of its own) ran"
        assert "c001" in heads and "crm_subject_keys" in tables, "the shared subject-keys revision ran"
        assert main([service]) == 0  # at every head: a second run changes nothing
        with engine.connect() as conn:
            assert sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()) == heads
    finally:
        engine.dispose()


def test_migrated_databases_have_the_real_schema_and_are_independent(tmp_path):
    migrations = migrations_of("contacts")
    first = testing.migrated_database(migrations, tmp_path)
    template = testing._templates[migrations]  # the once-per-session template
    second = testing.migrated_database(migrations, tmp_path)
    try:
        assert testing._templates[migrations] == template, "the migrations ran twice"
        assert first.url != second.url
        assert set(inspect(first.engine).get_table_names()) >= RUNTIME_TABLES
        with first.unit_of_work() as uow:
            uow.session.execute(insert(outbox_row).values(
                event_id="e-1", subject="crm.contacts.contact.created", payload=b"x",
                created_at=datetime(2026, 11, 3, tzinfo=UTC), attempts=0))
            uow.commit()
        with first.read() as session:
            assert session.execute(select(outbox_row.c.event_id)).scalars().all() == ["e-1"]
        with second.read() as session:
            assert session.execute(select(outbox_row.c.event_id)).scalars().all() == []
    finally:
        first.dispose()
        second.dispose()
