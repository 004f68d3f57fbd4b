"""The database search engine (crmkit.search.database, SEARCH_ENGINE=database) on PostgreSQL:
rebuild rate, one upsert, and the median time of typical searches with a visibility filter.

    .venv/bin/python bench/search_database_bench.py [customers, default 10000]

Needs PostgreSQL at 127.0.0.1:5432 (a throwaway database is created and dropped). Prints
figures; wall times, so read them with the load average (printed too)."""
from __future__ import annotations

import os
import random
import sys
import time

from crmkit.search import FieldKind, IndexSchema, SearchQuery, open_index
from crmkit.testing import fresh_postgres_database

SCHEMA = IndexSchema("bench_customers", {"name": FieldKind.TEXT, "company": FieldKind.TEXT, "phone": FieldKind.PHONE,
                                         "email": FieldKind.EMAIL, "owner_id": FieldKind.KEYWORD},
                     {"name": 3.0, "company": 2.0})
SURNAMES, GIVEN = "张王李赵刘陈杨黄周吴", "伟芳娜敏静丽强磊军洋"
COMPANIES = ["华为技术有限公司", "阿里巴巴网络技术有限公司", "腾讯科技有限公司", "唐山钢铁集团", "Siemens AG",
             "Acme Engineering Ltd", "天津重工", "沧州化工"]
QUERIES = ["华为", "技术", "张伟", "Siemens", "Siemans", "engineer", "acm", "13800001234", "user42@example42.com",
           "天津 重工"]


def customer(rnd: random.Random, i: int) -> dict[str, str]:
    return {"id": f"c{i}", "name": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + (rnd.choice(GIVEN) if i % 2 else ""),
            "company": f"{rnd.choice(COMPANIES)} {i % 97}", "phone": f"+86138{i:08d}",
            "email": f"user{i}@example{i % 50}.com", "owner_id": f"u{i % 20}"}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rnd = random.Random(1)
    print(f"load average {os.getloadavg()[0]:.1f}")
    with fresh_postgres_database("crm_bench_search") as url:
        index = open_index(SCHEMA, opensearch_url=None, data_dir="unused", database_url=url)
        index.ensure()
        started = time.perf_counter()
        index.rebuild(customer(rnd, i) for i in range(n))
        rebuild = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(200):
            index.upsert([customer(rnd, rnd.randrange(n))])
        upsert = (time.perf_counter() - started) / 200
        print(f"{n} customers: rebuild {rebuild:.1f} s ({n / rebuild:.0f}/s), one upsert {upsert * 1000:.1f} ms")
        for text in QUERIES:
            times = []
            for _ in range(11):
                started = time.perf_counter()
                found = index.search(SearchQuery(text, any_of=[{"owner_id": ["u1", "u2"]}], limit=10))
                times.append(time.perf_counter() - started)
            print(f"  {text!r}: median {sorted(times)[5] * 1000:.1f} ms, {found.total} visible hits")
        index.close()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
