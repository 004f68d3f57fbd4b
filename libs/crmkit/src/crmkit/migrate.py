"""Apply one service's migrations: `python -m crmkit.migrate <service>` (a separate step in
production, the initContainer of each Deployment; `make run` does it before starting the
service). The migrations are the package `crm_<service>.migrations`, found without importing
the service."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from crmkit.config import ServiceSettings
from crmkit.migrations import upgrade


def migrations_of(service: str) -> Path:
    spec = importlib.util.find_spec(f"crm_{service}")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"no service package crm_{service} on the path")
    return Path(next(iter(spec.submodule_search_locations))) / "migrations"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crmkit.migrate", description=__doc__.split("\n")[0])
    parser.add_argument("service", help="contacts, sales, support, reporting ...")
    args = parser.parse_args(argv)
    settings = ServiceSettings.from_env(args.service)
    upgrade(settings.database_url, migrations_of(args.service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
