"""Churn risk and next-purchase likelihood: the training (the scheduled job's use case, given its
unit of work) and the ranked list a caller may see, with the model's evaluation next to it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import (
    ListPredictionsRequest,
    Prediction,
    PredictionList,
    PredictionModel,
    PredictionReason,
)
from crm_reporting.analytics import models
from crm_reporting.store import features
from crm_reporting.tables import customers, prediction_models, predictions
from crm_reporting.usecases import VISIBLE
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.paging import decode_cursor, encode_cursor, page_size


def _population(kind: str, group: list[features.Customer]) -> list[features.Customer]:
    return [c for c in group if c.bought_before] if kind == "churn" else group


def _label(kind: str, cust: features.Customer) -> int:
    return int(not cust.bought_after) if kind == "churn" else int(cust.bought_after)


@dataclass(frozen=True)
class Fitted:
    trained: models.Trained
    scored: list[dict[str, Any]]    # the prediction rows (without kind and version)
    cutoffs: list[str]


def fit_models(session: Session, *, now: datetime) -> dict[str, Fitted]:
    """Train both kinds on the read models (a read: SQLite's writer is not held meanwhile) and
    score the customers as of now."""
    today, horizon = now.date(), models.HORIZON_DAYS
    cutoffs = [today - timedelta(horizon * k) for k in (1, 2)]
    labelled = [features.as_of(session, cutoff, horizon_days=horizon) for cutoff in cutoffs]
    current = features.as_of(session, today, horizon_days=horizon)
    out = {}
    for kind in models.KINDS:
        rows = [(features.vector(c), _label(kind, c)) for group in labelled for c in _population(kind, group)]
        trained = models.train(kind, [r for r, _ in rows], [y for _, y in rows])
        scored = []
        if trained.definition:
            for cust in _population(kind, current):
                p, reasons = models.score(trained.definition, features.vector(cust))
                scored.append({"contact_id": cust.contact_id, "owner_id": cust.owner_id, "team": cust.team,
                               "region": cust.region, "probability": round(p, 6), "reasons": json.dumps(reasons)})
        out[kind] = Fitted(trained, scored, [c.isoformat() for c in cutoffs])
    return out


def store_models(uow: UnitOfWork, fitted: dict[str, Fitted], *, now: datetime) -> None:
    """Each kind as a new version with its evaluation, its predictions replacing the older ones;
    with too little history the version says why and no customer keeps an older model's score."""
    session = uow.session
    for kind, f in fitted.items():
        version = int(session.execute(select(func.coalesce(func.max(prediction_models.c.version), 0)).where(
            prediction_models.c.kind == kind)).scalar_one()) + 1
        session.execute(insert(prediction_models).values(
            kind=kind, version=version, trained_at=now, status="trained" if f.trained.definition else "insufficient_data",
            reason=f.trained.reason, definition=json.dumps(f.trained.definition or {}),
            evaluation=json.dumps({**f.trained.evaluation, "cutoffs": f.cutoffs})))
        session.execute(delete(predictions).where(predictions.c.kind == kind))
        for at in range(0, len(f.scored), 5000):
            session.execute(insert(predictions), [{"kind": kind, "model_version": version, **row}
                                                  for row in f.scored[at:at + 5000]])


def _model(row: Any) -> PredictionModel:
    ev, definition = json.loads(row.evaluation), json.loads(row.definition)
    m = PredictionModel(kind=row.kind, version=row.version, label=models.KINDS[row.kind],
                        horizon_days=int(ev.get("horizon_days", models.HORIZON_DAYS)), auc=ev.get("auc", 0.0),
                        base_rate=ev.get("base_rate") or 0.0, train_rows=ev.get("train_rows", 0),
                        test_rows=ev.get("test_rows", 0), positives=ev.get("positives", 0),
                        features=definition.get("features", []), algorithm=definition.get("algorithm", ""))
    m.trained_at.FromDatetime(row.trained_at)
    return m


def list_predictions(session: Session, *, principal: Principal, request: ListPredictionsRequest) -> PredictionList:
    kind = request.kind
    if kind not in models.KINDS:
        raise InvalidArgument(f"unknown kind {kind!r}; one of: {', '.join(models.KINDS)}", field="kind")
    out = PredictionList(kind=kind)
    newest = session.execute(select(prediction_models).where(prediction_models.c.kind == kind)
                             .order_by(prediction_models.c.version.desc()).limit(1)).first()
    if newest is None:
        out.reason = "no model trained yet: the training job runs on a schedule (REPORTING_TRAIN_INTERVAL_SECONDS)"
        return out
    if newest.status != "trained":
        out.reason = newest.reason
        return out
    out.model.CopyFrom(_model(newest))
    # Who may see a prediction is who may see its customer now (its owner, team and region may have
    # changed since the training, up to REPORTING_TRAIN_INTERVAL_SECONDS ago; a deleted one is gone).
    p, c = predictions.c, customers.c
    scored = predictions.join(customers, c.contact_id == p.contact_id)
    where = [p.kind == kind, c.live.is_(True), VISIBLE.clause(principal, customers)]
    for name, column in (("team", c.team), ("region", c.region), ("owner_id", c.owner_id)):
        if getattr(request, name):
            where.append(column == getattr(request, name))
    out.total = session.execute(select(func.count()).select_from(scored).where(*where)).scalar_one()
    start = decode_cursor(request.page.page_token) if request.page.page_token else 0
    size = page_size(request.page.page_size, default=50, maximum=500)
    for r in session.execute(select(p.contact_id, c.owner_id, c.team, c.region, p.probability, p.reasons)
                             .select_from(scored).where(*where).order_by(p.probability.desc(), p.contact_id)
                             .offset(start).limit(size)):
        out.predictions.append(Prediction(
            contact_id=r.contact_id, owner_id=r.owner_id, team=r.team, region=r.region, probability=r.probability,
            reasons=[PredictionReason(feature=f, label=models.LABELS.get(f, f), value=v, contribution=c)
                     for f, v, c in json.loads(r.reasons)]))
    out.page.SetInParent()
    if start + size < out.total:
        out.page.next_page_token = encode_cursor(start + size)
    return out


