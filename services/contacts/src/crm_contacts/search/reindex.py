"""Rebuild the customer search index from the contacts database:

    CONTACTS_SERVICE_ADDR=127.0.0.1:50051 python -m crm_contacts.search.reindex

It asks the running contacts service (RebuildSearchIndex, admin only) rather than writing the
index itself: the embedded engine allows one writer process, and that is the service. The
service re-reads every live contact and account, builds a fresh index beside the live one and
swaps it in atomically; searches keep being answered from the old index meanwhile.

The token is CRM_TOKEN when set (e.g. from your identity provider), else one minted for the
system principal (crmkit.auth.SYSTEM) with JWT_SECRET (the dev secret under `make run`)."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

import grpc

from crm.contacts.v1.contacts_pb2 import RebuildSearchIndexRequest
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crmkit.auth import SYSTEM, mint_token
from crmkit.grpc_client import open_channel


def bearer_token(env: Mapping[str, str]) -> str:
    token = env.get("CRM_TOKEN", "")
    if token:
        return token
    secret = env.get("JWT_SECRET", "")
    if not secret:   # the published development secret is refused by the services
        raise SystemExit("set CRM_TOKEN (a bearer token) or JWT_SECRET (the services' signing secret)")
    return mint_token(SYSTEM, secret, ttl_seconds=3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_contacts.search.reindex",
                                     description="Rebuild the customer search index from the contacts database.")
    parser.add_argument("--addr", default=os.environ.get("CONTACTS_SERVICE_ADDR", ""),
                        help="contacts gRPC address (default: $CONTACTS_SERVICE_ADDR)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the rebuild")
    args = parser.parse_args(argv)
    if not args.addr:
        print("set CONTACTS_SERVICE_ADDR or pass --addr (e.g. 127.0.0.1:50051 under `make run`)", file=sys.stderr)
        return 2
    # TLS when GRPC_TLS_CA_FILE is set, as every other caller of the services
    with open_channel(args.addr) as channel:
        try:
            answer = ContactsServiceStub(channel).RebuildSearchIndex(
                RebuildSearchIndexRequest(), timeout=args.timeout,
                metadata=[("authorization", f"Bearer {bearer_token(os.environ)}")],
            )
        except grpc.RpcError as exc:
            print(f"rebuild failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(f"customer search index rebuilt: {answer.contacts} contacts, {answer.accounts} accounts "
          f"({answer.replayed} recently changed, written again after the swap) in {answer.seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
