"""Bulk seeding of contacts' database for bench/console_bench.py --customers N.

SEEDING SHORTCUT (bench only): N contacts are written straight into contacts' migrated database,
with the rows `store.insert_record` writes for a create (the row from the store's own column
mapping, its snapshot, tags and identities; no custom fields), a batch per statement, but without
the use case, events or outbox: no other service hears of them
(reporting, marketing), and a million creates through the API would take hours here. The
service, started afterwards, finds its search index empty while the database is not and rebuilds
it from these rows (crm_contacts.search.customer_search), so what the console finds is what the
API serves: real rows, a real index, built by the service itself.

The customers are bench/search_bench.py's synthetic mix (60% Chinese, 40% English names and
companies); a share of them belongs to the signed-in rep, the rest to 500 other reps."""
from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

sys.path.insert(0, str(Path(__file__).parent))

from search_bench import customers  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from crm.contacts.v1.contacts_pb2 import Address, Contact, Email, Phone  # noqa: E402
from crm_contacts import store  # noqa: E402
from crm_contacts.rules.records import identity_values  # noqa: E402
from crm_contacts.tables import contacts, identities, tags  # noqa: E402
from crmkit.auth import Principal  # noqa: E402
from crmkit.db import Database  # noqa: E402

BATCH = 5000
OTHER_OWNERS = 500
LEVELS = ("vip", "normal", "normal", "key")
SOURCES = ("website", "referral", "exhibition", "cold_call")


def contact_id(i: int) -> str:
    """Deterministic, so a bench can name a seeded customer without asking the database."""
    return str(uuid.UUID(int=(0xBE7C << 112) | i))


def seeded_contacts(n: int, rep: Principal, rep_every: int) -> Iterator[Contact]:
    """Every `rep_every`-th customer is the rep's (their team and region), the others are spread
    over other reps of every region."""
    stamp = Timestamp()
    stamp.FromDatetime(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    for i, doc in enumerate(customers(n)):
        mine = i % rep_every == 0
        owner = rep.user_id if mine else f"rep.bench.{i % OTHER_OWNERS}"
        city = doc["address"][:2]
        yield Contact(
            id=contact_id(i), name=doc["name"], company_name=doc["company"],
            phones=[Phone(number=doc["phone"], kind="mobile", raw=doc["phone"])],
            emails=[Email(address=doc["email"], kind="work")],
            addresses=[Address(kind="office", country="CN", city=city)],
            source=SOURCES[i % len(SOURCES)], level=LEVELS[i % len(LEVELS)], lifecycle_stage="customer",
            owner_id=owner, team=rep.team if mine else f"{doc['region']}-sales",
            region=rep.region if mine else doc["region"], tags=doc["tags"],
            version=1, created_at=stamp, updated_at=stamp,
        )


def seed_database(url: str, n: int, rep: Principal, rep_every: int,
                  say: Callable[[str], None] = print) -> float:
    """Insert n contacts into the migrated database at `url`; returns the seconds it took."""
    db = Database(url, sqlite_synchronous="NORMAL")  # a bench's throwaway file
    started = time.perf_counter()
    batch: list[Contact] = []
    written = 0

    def flush() -> None:
        # store.insert_record's rows (its own column mapping), one executemany per table: the
        # statement per row costs SQLAlchemy ~60 us, more than the insert itself.
        rows = [store._columns("contact", r) for r in batch]
        tag_rows = [{"entity": "contact", "entity_id": r.id, "tag": t} for r in batch for t in r.tags]
        identity_rows = [{"entity": "contact", "entity_id": r.id, "kind": k, "value": v}
                         for r in batch for k, v in identity_values(r)]
        with db.unit_of_work() as uow:
            conn = uow.session.connection()
            conn.execute(insert(contacts), rows)
            if tag_rows:
                conn.execute(insert(tags), tag_rows)
            conn.execute(insert(identities), identity_rows)
            uow.commit()
        batch.clear()

    try:
        for record in seeded_contacts(n, rep, rep_every):
            batch.append(record)
            if len(batch) == BATCH:
                flush()
                written += BATCH
                if written % 200_000 == 0:
                    say(f"  seeded {written:,} / {n:,} contacts ({time.perf_counter() - started:.0f} s)")
        if batch:
            flush()
    finally:
        db.dispose()
    return time.perf_counter() - started
