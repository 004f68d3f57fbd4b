"""`python -m crm_devtools.token [user] [--ttl SECONDS]` (`make token USER_ID=rep.north.1`): a
bearer token for a demo user, signed with JWT_SECRET (the `make run` default when unset)."""
from __future__ import annotations

import argparse
import os
import sys

from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token
from crmkit.config import DEV_JWT_SECRET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_devtools.token", description="Mint a demo bearer token.")
    parser.add_argument("user", nargs="?", default="admin", choices=sorted(DEMO_USERS))
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    secret = os.environ.get("JWT_SECRET") or DEV_JWT_SECRET
    print(mint_token(DEMO_USERS[args.user], secret, args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
