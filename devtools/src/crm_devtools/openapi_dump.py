"""`python -m crm_devtools.openapi_dump [--out PATH] [--check]`: the gateway's OpenAPI document,
built from its route table without a running server (plus the dev sign-in routes, which exist
only where DEV_SIGN_IN_USERS_FILE is set, so the console's client has their types), written to
console/openapi.json. `make console-api` runs it and regenerates console/src/api/schema.d.ts.
--check exits 1 when the file on disk differs (a stale committed document)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DEFAULT_OUT = REPO / "console" / "openapi.json"


def document() -> dict[str, Any]:
    from crm_gateway.app import all_routes
    from crm_gateway.console import DEV_ROUTES
    from crm_gateway.openapi import build_document
    from crm_gateway.schemas import REGISTRY

    return build_document(all_routes() + DEV_ROUTES, REGISTRY)


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_devtools.openapi_dump", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 when --out is not the current document")
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `make console-api`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
