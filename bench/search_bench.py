"""Search benchmark: synthetic customers, indexing throughput, query latency,
index size and memory, compared with the targets.

    .venv/bin/python bench/search_bench.py                  # 100k and 1M, embedded engine
    .venv/bin/python bench/search_bench.py --sizes 100000   # quick
    OPENSEARCH_URL=http://localhost:9200 .venv/bin/python bench/search_bench.py --engine opensearch

Queries are served by a fresh child process that opens the index from disk, as a
restarted service would, so its resident-memory delta is the index's own.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libs" / "crmkit" / "src"))

from crmkit.search import FieldKind, IndexSchema, SearchIndex, SearchQuery, open_index  # noqa: E402

TARGET_P99_MS = 20.0
TARGET_DOCS_PER_S = 20_000.0

SCHEMA = IndexSchema(
    "customers",
    {
        "name": FieldKind.TEXT,
        "company": FieldKind.TEXT,
        "phone": FieldKind.PHONE,
        "email": FieldKind.EMAIL,
        "region": FieldKind.KEYWORD,
        "owner_id": FieldKind.KEYWORD,
        "tags": FieldKind.KEYWORD,
        "address": FieldKind.STORED,
    },
    boosts={"name": 3.0, "company": 2.0},
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国志红梅玉文辉鑫宇浩然轩欣怡涵思远嘉晨阳"
PINYIN = [
    "wang",
    "li",
    "zhang",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "gao",
    "lin",
    "luo",
]
EN_FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Wei",
    "Na",
    "Lei",
    "Min",
]
EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Zhang",
    "Wang",
    "Li",
    "Chen",
]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "重庆", "天津", "苏州"]
CN_WORDS = [
    "华为",
    "腾讯",
    "阿里",
    "星辰",
    "蓝海",
    "创新",
    "智能",
    "数据",
    "云端",
    "未来",
    "远景",
    "东方",
    "盛世",
    "鼎信",
    "恒通",
    "宏达",
    "金桥",
    "博源",
    "天成",
    "新锐",
    "卓越",
    "领航",
    "信达",
]
CN_INDUSTRY = ["科技", "网络", "电子", "贸易", "物流", "医药", "教育", "咨询", "建设", "能源", "传媒", "软件"]
CN_SUFFIX = ["有限公司", "股份有限公司", "集团有限公司", "有限责任公司"]
EN_WORDS = [
    "Acme",
    "Global",
    "Pioneer",
    "Summit",
    "Vertex",
    "Nova",
    "Apex",
    "Blue",
    "River",
    "Stone",
    "Bright",
    "Quantum",
    "Silver",
    "Atlas",
    "Harbor",
    "Siemens",
    "Alibaba",
    "Oracle",
    "Delta",
    "Omega",
]
EN_INDUSTRY = [
    "Engineering",
    "Logistics",
    "Software",
    "Consulting",
    "Trading",
    "Pharmaceuticals",
    "Networks",
    "Systems",
    "Energy",
    "Media",
]
EN_SUFFIX = ["Ltd", "Inc", "GmbH", "AG", "LLC", "Co"]
REGIONS = ["north", "south", "east", "west", "central"]
OWNERS = 500


def customers(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """60% Chinese, 40% English customers; deterministic for a seed."""
    rnd = random.Random(seed)
    for i in range(n):
        if rnd.random() < 0.6:
            name = rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.choice((1, 2))))
            company = rnd.choice(CITIES) + rnd.choice(CN_WORDS) + rnd.choice(CN_INDUSTRY) + rnd.choice(CN_SUFFIX)
            local = f"{rnd.choice(PINYIN)}.{rnd.choice(PINYIN)}{rnd.randrange(1000)}"
        else:
            first, last = rnd.choice(EN_FIRST), rnd.choice(EN_LAST)
            name = f"{first} {last}"
            company = f"{rnd.choice(EN_WORDS)} {rnd.choice(EN_INDUSTRY)} {rnd.choice(EN_SUFFIX)}"
            local = f"{first}.{last}{rnd.randrange(1000)}".lower()
        yield {
            "id": f"c{i}",
            "name": name,
            "company": company,
            "phone": f"+861{rnd.choice('3456789')}{rnd.randrange(10**9):09d}",
            "email": f"{local}@example{rnd.randrange(50)}.com",
            "region": rnd.choice(REGIONS),
            "owner_id": f"u{rnd.randrange(OWNERS)}",
            "tags": rnd.sample(["vip", "lead", "partner", "churn-risk", "new"], rnd.randrange(3)),
            "address": f"{rnd.choice(CITIES)}市某某路 {rnd.randrange(1000)} 号",
        }


def _national(e164: str, rnd: random.Random) -> str:
    """The stored +86 number as a person would type it."""
    n = e164[3:]
    return rnd.choice([f"{n[:3]} {n[3:7]} {n[7:]}", f"{n[:3]}-{n[3:7]}-{n[7:]}", f"0086 {n}", n])


Visibility = list[dict[str, list[str]]]


def _visibility(rnd: random.Random, doc: dict[str, Any] | None = None) -> Visibility:
    """owner_id in [u] OR region in [r]; for a lookup, one that lets the caller see the doc."""
    owner = doc["owner_id"] if doc else f"u{rnd.randrange(OWNERS)}"
    return [{"owner_id": [owner]}, {"region": [rnd.choice(REGIONS)]}]


def query_sets(n: int, rnd: random.Random, per_set: int = 400) -> dict[str, list[tuple[str, Visibility]]]:
    sample = list(customers(min(n, 20_000), seed=7))
    typos = ["Siemans", "Enginering", "Logistcs", "Consultng", "Pioner", "Quantom", "Johnsen", "Wiliams"]
    phones = [rnd.choice(sample) for _ in range(per_set)]
    return {
        "two-char Chinese (华为)": [
            (rnd.choice(CN_WORDS + CN_INDUSTRY + CITIES), _visibility(rnd)) for _ in range(per_set)
        ],
        "phone, other format": [(_national(d["phone"], rnd), _visibility(rnd, d)) for d in phones],
        "prefix (Zha)": [(rnd.choice(EN_LAST + PINYIN)[:3], _visibility(rnd)) for _ in range(per_set)],
        "fuzzy English (Siemans)": [(rnd.choice(typos), _visibility(rnd)) for _ in range(per_set)],
    }


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def serve(data_dir: str, n: int, opensearch_url: str | None, warmup: int) -> dict[str, Any]:
    """Child process: open the index from disk, run the query sets, report."""
    sets = query_sets(n, random.Random(11))  # built first: its objects are not index memory
    gc.collect()
    before = rss_bytes()
    index = open_index(SCHEMA, opensearch_url=opensearch_url, data_dir=data_dir)
    index.ensure()
    assert index.count() == n, f"expected {n} docs after restart, found {index.count()}"
    out: dict[str, Any] = {}
    for label, queries in sets.items():
        timings, totals = [], []
        for i, (text, visible) in enumerate(queries):
            t0 = time.perf_counter()
            result = index.search(SearchQuery(text, any_of=visible, limit=20))
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= warmup:
                timings.append(elapsed)
                totals.append(result.total)
        timings.sort()
        out[label] = {
            "p50": statistics.median(timings),
            "p99": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
            "hits": statistics.mean(totals),
        }
    out["rss_delta"] = rss_bytes() - before
    # A gRPC server searches from a thread pool: the engine must not hold the GIL while it works.
    mixed = [q for qs in sets.values() for q in qs]
    out["qps"] = {threads: _throughput(index, mixed, threads) for threads in (1, 2)}
    index.close()
    return out


def _throughput(index: SearchIndex, queries: list[tuple[str, Visibility]], threads: int) -> float:
    chunks = [queries[i::threads] for i in range(threads)]

    def run(chunk: list[tuple[str, Visibility]]) -> None:
        for text, visible in chunk:
            index.search(SearchQuery(text, any_of=visible, limit=20))

    workers = [threading.Thread(target=run, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(queries) / (time.perf_counter() - t0)


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_size(n: int, engine: str, opensearch_url: str | None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="crm-search-bench-"))
    try:
        docs = list(customers(n))
        index = open_index(SCHEMA, opensearch_url=opensearch_url, data_dir=tmp, refresh_interval=None)
        index.ensure()
        t0 = time.perf_counter()
        index.rebuild(docs)
        load_s = time.perf_counter() - t0
        updates = [dict(d, company=d["company"] + " 分公司") for d in docs[: min(20_000, n)]]
        t0 = time.perf_counter()
        index.upsert(updates)
        index.refresh()
        upsert_s = time.perf_counter() - t0
        index.close()
        del docs, updates
        child = subprocess.run(
            [sys.executable, __file__, "--serve", str(tmp), "--count", str(n)]
            + (["--opensearch-url", opensearch_url] if opensearch_url else []),
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            raise RuntimeError(f"serving child failed:\n{child.stderr}")
        served = json.loads(child.stdout.strip().splitlines()[-1])
        return {
            "n": n,
            "load_docs_s": n / load_s,
            "load_s": load_s,
            "upsert_docs_s": min(20_000, n) / upsert_s,
            "disk": dir_size(tmp) if engine == "embedded" else None,
            **served,
        }
    finally:
        if opensearch_url:
            open_index(SCHEMA, opensearch_url=opensearch_url, data_dir=tmp).drop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: list[dict[str, Any]], engine: str) -> None:
    def mark(ok: bool) -> str:
        return "ok  " if ok else "MISS"

    print(f"\nsearch benchmark, engine={engine}, {os.cpu_count()} cores, any_of visibility filter on every query")
    for r in results:
        print(f"\n== {r['n']:,} customers ==")
        print(f"{'metric':<34}{'value':>14}{'target':>12}{'ratio':>9}  ")
        rate = r["load_docs_s"]
        print(
            f"{'bulk load (rebuild) docs/s':<34}{rate:>14,.0f}{TARGET_DOCS_PER_S:>12,.0f}"
            f"{rate / TARGET_DOCS_PER_S:>8.1f}x  {mark(rate >= TARGET_DOCS_PER_S)}"
        )
        print(f"{'upsert 20k + refresh docs/s':<34}{r['upsert_docs_s']:>14,.0f}")
        for label in [k for k in r if isinstance(r[k], dict) and "p50" in r[k]]:
            q = r[label]
            print(f"{label + ' p50 ms':<34}{q['p50']:>14.2f}")
            print(
                f"{label + ' p99 ms':<34}{q['p99']:>14.2f}{TARGET_P99_MS:>12.0f}"
                f"{TARGET_P99_MS / max(q['p99'], 1e-6):>8.1f}x  {mark(q['p99'] <= TARGET_P99_MS)}"
                f"  (avg {q['hits']:,.0f} hits)"
            )
        if r["disk"] is not None:
            print(f"{'index size on disk MiB':<34}{r['disk'] / 2**20:>14.1f}")
        print(f"{'resident memory delta MiB':<34}{r['rss_delta'] / 2**20:>14.1f}  (index opened + queried)")
        qps = r["qps"]
        print(f"{'mixed queries/s, 1 thread':<34}{qps['1']:>14,.0f}")
        print(f"{'mixed queries/s, 2 threads':<34}{qps['2']:>14,.0f}  ({qps['2'] / qps['1']:.2f}x)")
    print("\nratio = target / measured for latency, measured / target for throughput: >= 1.0x meets it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated customer counts")
    parser.add_argument("--engine", choices=["embedded", "opensearch"], default="embedded")
    parser.add_argument("--opensearch-url", default=os.environ.get("OPENSEARCH_URL"))
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.opensearch_url if args.engine == "opensearch" else None
    if args.engine == "opensearch" and not url:
        parser.error("--engine opensearch needs OPENSEARCH_URL or --opensearch-url")
    if args.serve:
        print(json.dumps(serve(args.serve, args.count, url, warmup=20)))
        return
    results = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        started = time.perf_counter()
        results.append(run_size(size, args.engine, url))
        print(f"{size:,} customers done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    report(results, args.engine)


if __name__ == "__main__":
    main()
