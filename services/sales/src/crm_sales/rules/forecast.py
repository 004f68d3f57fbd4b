"""Forecast and funnel arithmetic over the rows the store hands back. Exact: sums are integer
cents, rounded once at the end."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from crm.sales.v1.sales_pb2 import ForecastRow, FunnelResponse, FunnelStage, Pipeline, RepPerformance
from crm_sales.rules import money
from crmkit.records import aware

GROUPS = ("", "owner", "team", "month")


def pct(part: int, whole: int) -> str:
    return str(money.cents(Decimal(part) * 100 / Decimal(whole))) if whole else "0.00"


def combine(rows: Iterable[tuple[str, str, str, int, int, int]]) -> list[ForecastRow]:
    """(key, currency, category, count, Σcents, Σcents×probability) → one row per key and currency."""
    acc: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, currency, category, count, cents, weighted in rows:
        bucket = acc[(key or "", currency or "")]
        bucket[category] += int(cents or 0)
        if category != "closed":
            bucket["open_count"] += int(count)
            bucket["open_total"] += int(cents or 0)
            bucket["weighted"] += int(weighted or 0)
    result = []
    for (key, currency), b in sorted(acc.items()):
        result.append(ForecastRow(
            key=key, currency_code=currency, open_count=b["open_count"],
            pipeline=money.from_cents(currency, b["pipeline"]), best_case=money.from_cents(currency, b["best_case"]),
            commit=money.from_cents(currency, b["commit"]), closed=money.from_cents(currency, b["closed"]),
            # Σ cents × percent / 100 → cents, rounded once at the end.
            weighted=money.money(currency, Decimal(b["weighted"]) / Decimal(10_000)),
            open_total=money.from_cents(currency, b["open_total"]),
        ))
    return result


def funnel(pipe: Pipeline, opps: Sequence[Any], visits: Iterable[Any]) -> FunnelResponse:
    """`opps`: rows with id, owner_id, status, currency, amount_cents, created_at, closed_at;
    `visits`: rows with opportunity_id, stage, entered_at, exited_at of the pipeline."""
    ids = {o.id for o in opps}
    order = {s.key: i for i, s in enumerate(pipe.stages) if s.outcome != "lost"}
    furthest: dict[str, int] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    for v in visits:
        if v.opportunity_id not in ids:
            continue
        if v.stage in order:
            furthest[v.opportunity_id] = max(furthest.get(v.opportunity_id, -1), order[v.stage])
        if v.exited_at is not None and v.stage in order:
            durations[v.stage].append((aware(v.exited_at) - aware(v.entered_at)).total_seconds())
    ranked = [s for s in pipe.stages if s.outcome != "lost"]
    reached = [sum(1 for f in furthest.values() if f >= order[s.key]) for s in ranked]
    result = FunnelResponse()
    for i, stage in enumerate(ranked):
        spent = durations.get(stage.key, [])
        result.stages.append(FunnelStage(
            stage=stage.key, name=stage.name, reached=reached[i],
            conversion_to_next=pct(reached[i + 1], reached[i]) if i + 1 < len(ranked) else "",
            average_days_in_stage=round(sum(spent) / len(spent) / 86400, 2) if spent else 0.0,
        ))
    won = [o for o in opps if o.status == "won"]
    lost = [o for o in opps if o.status == "lost"]
    result.won, result.lost = len(won), len(lost)
    result.win_rate = pct(len(won), len(won) + len(lost))
    cycles = [(aware(o.closed_at) - aware(o.created_at)).total_seconds() for o in won if o.closed_at]
    result.average_sales_cycle_days = round(sum(cycles) / len(cycles) / 86400, 2) if cycles else 0.0
    result.reps.extend(_per_rep(opps))
    return result


def _per_rep(opps: Sequence[Any]) -> list[RepPerformance]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    amounts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in opps:
        counts[o.owner_id][o.status] += 1
        if o.status == "won":
            amounts[o.owner_id][o.currency] += int(o.amount_cents)
    reps = []
    for owner, n in sorted(counts.items()):
        reps.append(RepPerformance(
            owner_id=owner, won=n["won"], lost=n["lost"], open=n["open"], win_rate=pct(n["won"], n["won"] + n["lost"]),
            won_amount=[money.from_cents(c, v) for c, v in sorted(amounts[owner].items())],
        ))
    return reps
