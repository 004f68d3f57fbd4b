"""Segment evaluation at scale: generates N contacts (with tags, custom field values, timeline
entries, won-deal spend and consents) straight into a migrated contacts database, then times
CountSegmentMembers, the first page of ListSegmentMembers and paging through every member for
typical filters, as an admin (every contact) and as a regional manager.

    .venv/bin/python services/contacts/bench/segments_bench.py              # 100k contacts, SQLite
    .venv/bin/python services/contacts/bench/segments_bench.py --contacts 1000000
    .venv/bin/python services/contacts/bench/segments_bench.py --url postgresql+psycopg://...

Prints figures, asserts nothing about time. `generate` is also what the unit test
test_segments_generated.py checks the SQL against (a reference evaluation in Python)."""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.bootstrap import MIGRATIONS
from crm_contacts.rules.segments import spend_year
from crm_contacts.store import segments as segment_store
from crm_contacts.tables import (
    contact_consents,
    contacts,
    custom_field_values,
    custom_fields,
    customer_spend,
    tags,
    timeline,
)
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.migrations import upgrade
from crmkit.testing import migrated_database

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REGIONS = {"north": ("北京市", "天津市", "河北省"), "south": ("广东省", "福建省", "海南省")}
CITIES = {"北京市": ("北京市",), "天津市": ("天津市",), "河北省": ("石家庄市", "唐山市"), "广东省": ("广州市", "深圳市"),
          "福建省": ("福州市", "厦门市"), "海南省": ("海口市",)}
INDUSTRIES = ("manufacturing", "retail", "it", "finance", "education", "healthcare", "logistics", "energy")
LEVELS = ("vip", "regular", "prospect", "")
SOURCES = ("website", "trade_show", "ads", "referral", "import", "")
LIFECYCLE = ("lead", "prospect", "customer", "churned", "")
TAGS = tuple(f"标签{i:02d}" for i in range(30))
TIERS = ("A", "B", "C")
ADMIN = Principal("admin", ("admin",), "hq", "")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")


@dataclass
class Generated:
    """What was generated, per contact, for a reference evaluation."""

    contact: pb.Contact
    tags: set[str]
    custom: dict[str, str]
    last_interaction: datetime | None
    spend_cents: int  # this year, CNY
    consents: dict[str, bool] = field(default_factory=dict)


def generate(db: Database, count: int, *, seed: int = 7, now: datetime = NOW, batch: int = 5000) -> list[Generated]:
    rnd = random.Random(seed)
    year = spend_year(now)
    made: list[Generated] = []
    with db.unit_of_work() as uow:
        uow.session.execute(insert(custom_fields), [
            {"entity": "contact", "key": "tier", "label": "Tier", "type": "choice", "choices": list(TIERS),
             "required": False},
            {"entity": "contact", "key": "budget", "label": "Budget", "type": "number", "choices": [],
             "required": False}])
        uow.commit()
    for start in range(0, count, batch):
        rows, tag_rows, value_rows, entries, spend_rows, consent_rows = [], [], [], [], [], []
        for i in range(start, min(count, start + batch)):
            region = rnd.choice(tuple(REGIONS))
            province = rnd.choice(REGIONS[region])
            rep = f"rep.{region}.{rnd.randrange(10)}"
            contact = pb.Contact(
                id=f"c{i:08d}", name=f"客户 {i}", owner_id=rep, team=f"{region}-sales", region=region,
                industry=rnd.choice(INDUSTRIES), level=rnd.choice(LEVELS), source=rnd.choice(SOURCES),
                lifecycle_stage=rnd.choice(LIFECYCLE), version=1,
                addresses=[pb.Address(kind="office", country="CN", province=province,
                                      city=rnd.choice(CITIES[province]))],
                tags=sorted(set(rnd.sample(TAGS, rnd.randrange(5)))))
            contact.created_at.FromDatetime(now - timedelta(days=400))
            contact.updated_at.CopyFrom(contact.created_at)
            custom: dict[str, str] = {}
            if rnd.random() < 0.3:
                custom = {"tier": rnd.choice(TIERS), "budget": str(rnd.choice((5000, 10000, 50000)))}
                contact.custom_fields.update({"tier": custom["tier"], "budget": int(custom["budget"])})
            gen = Generated(contact, set(contact.tags), custom, None, 0)
            rows.append({"id": contact.id, "name": contact.name, "owner_id": rep, "team": contact.team,
                         "region": region, "level": contact.level, "source": contact.source, "version": 1,
                         "deleted": False, "created_at": now - timedelta(days=400), "updated_at": now,
                         "data": contact.SerializeToString(), "account_id": "", "company_name": "",
                         "merged_into_id": "", "industry": contact.industry,
                         "lifecycle_stage": contact.lifecycle_stage, "province": province,
                         "city": contact.addresses[0].city})
            tag_rows += [{"entity": "contact", "entity_id": contact.id, "tag": t} for t in contact.tags]
            value_rows += [{"entity": "contact", "entity_id": contact.id, "key": k, "value": v} for k, v in custom.items()]
            if rnd.random() < 0.6:
                for n in range(rnd.randrange(1, 4)):
                    at = now - timedelta(days=rnd.randrange(400), hours=rnd.randrange(24))
                    kind = rnd.choice(("call", "email", "meeting", "note", "quote_sent", "owner_changed"))
                    entries.append({"id": f"e{i:08d}-{n}", "contact_id": contact.id, "kind": kind, "occurred_at": at,
                                    "data": b""})
                    if kind != "owner_changed" and (gen.last_interaction is None or at > gen.last_interaction):
                        gen.last_interaction = at
            if rnd.random() < 0.25:
                gen.spend_cents = rnd.choice((5_000, 800_000, 2_500_000, 40_000_000)) * rnd.randrange(1, 4)
                spend_rows.append({"entity": "contact", "entity_id": contact.id, "year": year, "currency": "CNY",
                                   "amount_cents": gen.spend_cents})
            if rnd.random() < 0.4:
                gen.consents["marketing_email"] = rnd.random() < 0.8
                consent_rows.append({"contact_id": contact.id, "purpose": "marketing_email",
                                     "granted": gen.consents["marketing_email"], "at": now})
            made.append(gen)
        with db.unit_of_work() as uow:
            conn = uow.session.connection()
            for table, values in ((contacts, rows), (tags, tag_rows), (custom_field_values, value_rows),
                                  (timeline, entries), (customer_spend, spend_rows),
                                  (contact_consents, consent_rows)):
                if values:
                    conn.execute(insert(table), values)
            uow.commit()
    return made


FILTERS: dict[str, pb.SegmentFilter] = {
    "region north": pb.SegmentFilter(regions=["north"]),
    "vip in 北京市": pb.SegmentFilter(levels=["vip"], provinces=["北京市"]),
    "no contact in 3 months": pb.SegmentFilter(no_interaction_days=90),
    "tags any of 2": pb.SegmentFilter(tags_any=["标签01", "标签02"]),
    "tags all of 2": pb.SegmentFilter(tags_all=["标签01", "标签02"]),
    "spend 100000-": pb.SegmentFilter(spend_band="100000-"),
    "spend 0-10000": pb.SegmentFilter(spend_band="0-10000"),
    "email consent": pb.SegmentFilter(consent_purpose="marketing_email"),
    "tier A": pb.SegmentFilter(custom_fields={"tier": "A"}),
    "customers, it, 3 months, consent": pb.SegmentFilter(lifecycle_stages=["customer"], industries=["it"],
                                                         no_interaction_days=90, consent_purpose="marketing_email"),
}


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, Any]:
    """Median milliseconds of `runs` runs, and the last answer."""
    times, answer = [], None
    for _ in range(runs):
        started = time.perf_counter()
        answer = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


def measure(db: Database, principal: Principal) -> list[tuple[str, float, int, float, float]]:
    rows = []
    with db.read() as session:
        for name, flt in FILTERS.items():
            counting = segment_store.conditions(flt, principal, NOW, paging=False)
            paging = segment_store.conditions(flt, principal, NOW, paging=True)
            count_ms, found = timed(lambda w=counting: segment_store.count(session, w))
            page_ms, _ = timed(lambda w=paging: segment_store.members(session, w, 1000, "", maximum=1000))
            stream_s = stream(session, paging)
            rows.append((name, count_ms, found, page_ms, stream_s))
    return rows


def stream(session: Session, where: list[Any]) -> float:
    """Seconds to page through every member, 1000 at a time (what an audience freeze does)."""
    started, token = time.perf_counter(), ""
    while True:
        _, token = segment_store.members(session, where, 1000, token, maximum=1000)
        if not token:
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a SQLite file in a temp dir)")
    parser.add_argument("--no-analyze", action="store_true", help="leave the planner without table statistics")
    args = parser.parse_args()
    if args.url:
        upgrade(args.url, MIGRATIONS)
        db = Database(args.url)
    else:
        db = migrated_database(MIGRATIONS, Path(tempfile.mkdtemp(prefix="segments-bench-")))
    started = time.perf_counter()
    generate(db, args.contacts)
    if not args.no_analyze:
        with db.unit_of_work() as uow:  # what autovacuum does on PostgreSQL; SQLite needs to be told
            uow.session.execute(text("ANALYZE"))
            uow.commit()
    print(f"{db.engine.dialect.name}: {args.contacts:,} contacts generated in {time.perf_counter() - started:.1f} s\n")
    for who, principal in (("admin (every contact)", ADMIN), ("manager.north (team or region)", MANAGER)):
        print(f"as {who}:")
        print(f"  {'filter':36} {'count ms':>9} {'members':>9} {'first 1000 ms':>14} {'all pages s':>12}")
        for name, count_ms, found, page_ms, stream_s in measure(db, principal):
            print(f"  {name:36} {count_ms:9.1f} {found:9,} {page_ms:14.1f} {stream_s:12.2f}")
        print()


if __name__ == "__main__":
    main()
