"""Apply this service's migrations: `python -m crm_support.migrate` (a separate step in
production; `make run` does it before starting the service)."""
from __future__ import annotations

from pathlib import Path

from crmkit.config import ServiceSettings
from crmkit.migrations import upgrade

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    settings = ServiceSettings.from_env("support")
    upgrade(settings.database_url, MIGRATIONS)


if __name__ == "__main__":
    main()
