"""`python -m crmkit.audit verify <svc>`: walk the service's audit chain (DATABASE_URL or
<SVC>_DATABASE_URL) and report the first broken row; exit 0 when intact, 1 when broken."""
from __future__ import annotations

import argparse
import os
import sys

from crmkit.audit import chain
from crmkit.config import ConfigError, _require
from crmkit.db import Database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crmkit.audit", description="the audit log of a service")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="check the hash chain; report the first broken row")
    check.add_argument("service", help="contacts, sales, marketing, support, reporting")
    args = parser.parse_args(argv)
    try:
        url = _require(os.environ, f"{args.service.upper()}_DATABASE_URL", "DATABASE_URL")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    db = Database(url)
    try:
        with db.snapshot() as session:  # one snapshot: appends during the walk are not breaks
            result = chain.verify(session)
    finally:
        db.dispose()
    print(result.report(args.service))
    return 0 if result.intact else 1


if __name__ == "__main__":
    sys.exit(main())
