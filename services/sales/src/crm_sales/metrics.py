"""Sales' business metrics (the RED metrics of its RPCs come from crmkit). The histograms are
observed after the commit of what they measure (UnitOfWork.after_commit), so a rolled-back change
counts nothing. The ages of the deals still open are read from the database when Prometheus
scrapes (OpenStageAges): a deal nobody touches moves no counter, yet it is what a manager asks for."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric

from crm_sales.store import analytics
from crmkit import logs
from crmkit.db import Database

log = logs.get("crm_sales.metrics")

# Minutes to days: a lead answered within the hour is the target most teams alert on.
RESPONSE_BUCKETS = (60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600)
# Hours to months: how long a deal sat (or sits) in a stage.
STAGE_BUCKETS = (3600, 6 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600, 14 * 24 * 3600, 30 * 24 * 3600,
                 60 * 24 * 3600, 90 * 24 * 3600)

LEAD_RESPONSE_SECONDS = Histogram(
    "crm_sales_lead_response_seconds", "Lead created to its owner's first response (call, email, status change)",
    ["source"], buckets=RESPONSE_BUCKETS)
STAGE_AGE_SECONDS = Histogram(
    "crm_sales_opportunity_stage_age_seconds", "Time an opportunity spent in a stage, observed when it leaves it",
    ["stage"], buckets=STAGE_BUCKETS)

SCRAPE_CACHE_SECONDS = 15.0  # two Prometheus servers scraping every 15 s cost one query, not two


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


class OpenStageAges:
    """A gauge histogram of how long each open deal has sat in its current stage, per pipeline and
    stage (`…_bucket{le}`, `…_gcount`), and the age of the oldest one. Every replica exports the
    same figures (one database): dashboards and alerts take max() across pods."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: tuple[Database, Callable[[], datetime]] | None = None
        self._cached: tuple[float, list[Metric]] = (0.0, [])

    def watch(self, db: Database, clock: Callable[[], datetime]) -> None:
        with self._lock:
            self._source, self._cached = (db, clock), (0.0, [])

    def unwatch(self, db: Database) -> None:
        with self._lock:
            if self._source is not None and self._source[0] is db:
                self._source, self._cached = None, (0.0, [])

    def describe(self) -> list[Metric]:
        return list(self._families())

    @staticmethod
    def _families() -> tuple[GaugeHistogramMetricFamily, GaugeMetricFamily]:
        return (GaugeHistogramMetricFamily(
                    "crm_sales_open_opportunities_stage_age_seconds",
                    "Open opportunities by the time they have sat in their current stage", labels=["pipeline", "stage"]),
                GaugeMetricFamily(
                    "crm_sales_open_opportunities_oldest_stage_age_seconds",
                    "Time the longest-waiting open opportunity has sat in its stage", labels=["pipeline", "stage"]))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            source, (at, metrics) = self._source, self._cached
            if source is not None and time.monotonic() - at >= SCRAPE_CACHE_SECONDS:
                try:
                    metrics = self._read(*source)
                    self._cached = (time.monotonic(), metrics)
                except Exception:  # the rest of /metrics must still answer
                    log.exception("open deals' stage ages not read")
                    metrics = []
        yield from metrics

    def _read(self, db: Database, clock: Callable[[], datetime]) -> list[Metric]:
        now = clock()
        with db.read() as session:
            rows = analytics.open_stage_ages(session, now, STAGE_BUCKETS)
        ages, oldest = self._families()
        for pipeline, stage, count, first, total, within in rows:
            buckets = [(str(float(b)), float(n)) for b, n in zip(STAGE_BUCKETS, within, strict=True)]
            ages.add_metric([pipeline, stage], [*buckets, ("+Inf", float(count))], gsum_value=max(0.0, total))
            oldest.add_metric([pipeline, stage], max(0.0, (now - _aware(first)).total_seconds()))
        return [ages, oldest]


OPEN_STAGE_AGES = OpenStageAges()
REGISTRY.register(OPEN_STAGE_AGES)


class OpenStageAgesSource:
    """A service worker: while the service runs, scrapes read its database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db, self.clock = db, clock

    def start(self) -> OpenStageAgesSource:
        OPEN_STAGE_AGES.watch(self.db, self.clock)
        return self

    def stop(self) -> None:
        OPEN_STAGE_AGES.unwatch(self.db)
