"""Alembic per service. A service's migrations/env.py calls `run_env()`; `upgrade()` applies
them (at start under `make run`, as a separate job in production: `python -m crmkit.migrate <svc>`)."""
from __future__ import annotations

import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from crmkit.db import make_engine

# Revisions every service has, the same in each (the subject keys of crypto-shredding): one file
# here instead of a copy per service. Each is a branch off the service's 0001, as a001 is.
SHARED_VERSIONS = Path(__file__).with_name("shared_migrations")


def alembic_config(database_url: str, script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join([str(script_location / "versions"),
                                                               str(SHARED_VERSIONS)]))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, script_location: Path, revision: str = "heads") -> None:
    """Every head: migrations written side by side from the same parent (by different teams) are
    branches, applied together until a merge revision joins them."""
    command.upgrade(alembic_config(database_url, script_location), revision)


def run_env(target_metadata: MetaData | None = None) -> None:
    """Body of every service's migrations/env.py (online mode only: we always have a DB).
    target_metadata is only needed to autogenerate a new revision."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url not configured"
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
