"""`python -m crm_devtools.token [user] [--ttl SECONDS] [--var DIR]` (`make token USER_ID=rep.north.1`):
a bearer token for a demo user, signed with JWT_SECRET when set, else with the secret `make run`
generated in var/jwt-secret (crm_devtools.secret)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crm_devtools.secret import read_secret, secret_path
from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token

REPO = Path(__file__).resolve().parents[3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_devtools.token", description="Mint a demo bearer token.")
    parser.add_argument("user", nargs="?", default="admin", choices=sorted(DEMO_USERS))
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    parser.add_argument("--var", type=Path, default=REPO / "var", help="the var/ dir of `make run` (its jwt-secret)")
    args = parser.parse_args(argv)
    secret = read_secret(args.var)
    if secret is None:
        print(f"no JWT secret: set JWT_SECRET, or start `make run` once (it generates {secret_path(args.var)})",
              file=sys.stderr)
        return 2
    print(mint_token(DEMO_USERS[args.user], secret, args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
