"""Scheduled work: retraining the churn and next-purchase models (usecases.predictions) every
`interval` seconds, one replica at a time (the runtime gives the worker its database's lease)."""
from __future__ import annotations

from datetime import datetime

from crm_reporting.usecases import predictions
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker
from crmkit.servicer import Clock

log = logs.get("crm_reporting.jobs")

TRAIN_EVERY_SECONDS = 6 * 3600.0
FIRST_TRAINING_AFTER_SECONDS = 60.0


def train(db: Database, now: datetime) -> None:
    """Fit on a read session, then store in one short unit of work (the job owns both)."""
    with db.read() as session:
        fitted = predictions.fit_models(session, now=now)
    with db.unit_of_work() as uow:
        predictions.store_models(uow, fitted, now=now)
        uow.commit()
    for kind, f in fitted.items():
        t = f.trained
        log.info("model %s: %s", kind, f"AUC {t.evaluation.get('auc')}" if t.definition else t.reason)


def training_worker(db: Database, clock: Clock, *, interval: float = TRAIN_EVERY_SECONDS,
                    delay: float = FIRST_TRAINING_AFTER_SECONDS) -> PeriodicWorker:
    return PeriodicWorker("reporting-models", lambda now: train(db, now), clock, interval, delay=delay)
