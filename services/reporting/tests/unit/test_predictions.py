"""Churn risk and next-purchase likelihood: trained on the read models as of past cutoffs, judged
on held-out customers, ranking a clearly churning customer above a healthy one with the reasons
that say why, an honest "no model" when history is thin, and each caller seeing their own."""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import ListPredictionsRequest
from crm_reporting.analytics import models
from crm_reporting.periods import grains
from crm_reporting.tables import csat_answers, customers, opportunities, prediction_models, tickets
from crm_reporting.usecases import predictions
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument

NOW = datetime(2025, 7, 1, tzinfo=UTC)
ANALYST = Principal("analyst.1", ("analyst",), "bi", "")


def _deal(i: int, contact: str, owner: str, team: str, created: date, won: date | None) -> dict[str, Any]:
    closed = won.isoformat() if won else ""
    return {"opportunity_id": f"o-{contact}-{i}", "version": 1, "owner_id": owner, "team": team, "region": "north",
            "stage": "won" if won else "negotiation", "status": "won" if won else "open", "currency_code": "CNY",
            "amount_units": 50_000 * 10_000, "closed_month": closed[:7], "lead_id": "", "contact_id": contact,
            "closed_at": None, "first_campaign_id": "", "last_campaign_id": "", **grains("created", created.isoformat()),
            **grains("closed", closed), **grains("expected", ""), "probability": 100 if won else 80,
            "cycle_days": 10 if won else None}


def seed_history(session: Session, *, healthy: int = 60, churning: int = 60, seed: int = 3) -> None:
    """Healthy customers buy about monthly up to now; churning ones bought monthly, then stopped
    at a random month of the year before now and raised tickets they rated badly."""
    rnd = random.Random(seed)
    deals, people, asked, rated = [], [], [], []
    start = date(2024, 1, 1)
    for k in range(healthy + churning):
        churner = k >= healthy
        contact, owner, team = f"{'churn' if churner else 'ok'}-{k}", f"rep-{k % 3}", f"team-{k % 2}"
        people.append({"contact_id": contact, "version": 1, "owner_id": owner, "team": team, "region": "north",
                       "source": "website", "level": "a", "created_day": "2023-12-01", "live": True,
                       "first_seen_at": None})
        stop = NOW.date() - timedelta(days=rnd.randrange(100, 400)) if churner else NOW.date()
        day, i = start + timedelta(days=rnd.randrange(20)), 0
        while day < stop:
            deals.append(_deal(i, contact, owner, team, day - timedelta(days=10), day if rnd.random() < 0.9 else None))
            day, i = day + timedelta(days=rnd.randrange(20, 45)), i + 1
        if churner:
            for j in range(2):
                opened = stop + timedelta(days=5 + 20 * j)
                tid = f"t-{contact}-{j}"
                asked.append({"ticket_id": tid, "version": 1, "assignee_id": "agent.1", "status": "solved",
                              "priority": "high", "first_response_seconds": 3600, "resolution_seconds": 86_400,
                              "team": team, "region": "north", "type": "problem", "channel": "email",
                              "contact_id": contact, **grains("created", opened.isoformat()),
                              **grains("solved", (opened + timedelta(days=1)).isoformat())})
                rated.append({"ticket_id": tid, "assignee_id": "agent.1", "rating": 1,
                              "answered_at": datetime(opened.year, opened.month, opened.day, tzinfo=UTC),
                              **grains("answered", (opened + timedelta(days=1)).isoformat())})
    session.execute(insert(customers), people)
    session.execute(insert(opportunities), deals)
    if asked:
        session.execute(insert(tickets), asked)
        session.execute(insert(csat_answers), rated)


def _train(uow: UnitOfWork) -> dict[str, predictions.Fitted]:
    fitted = predictions.fit_models(uow.session, now=NOW)
    predictions.store_models(uow, fitted, now=NOW)
    return fitted


def test_a_churning_customer_ranks_above_a_healthy_one_with_the_reasons(uow: UnitOfWork) -> None:
    seed_history(uow.session)
    fitted = _train(uow)
    churn = predictions.list_predictions(uow.session, principal=ANALYST,
                                         request=ListPredictionsRequest(kind="churn", page={"page_size": 500}))
    assert churn.model.version == 1 and churn.model.auc >= 0.8 and churn.reason == ""
    ranked = [p.contact_id for p in churn.predictions]
    assert churn.total == len(ranked) == 120
    assert max(ranked.index(c) for c in ranked if c.startswith("churn")) < min(
        ranked.index(c) for c in ranked if c.startswith("ok"))
    top = churn.predictions[0]
    assert top.probability > 0.5 and {r.feature for r in top.reasons} & {"days_since_purchase", "purchases_365d",
                                                                           "low_csat", "days_since_interaction"}
    assert all(r.contribution > 0 and r.label for r in top.reasons)
    buy = predictions.list_predictions(uow.session, principal=ANALYST, request=ListPredictionsRequest(
        kind="next_purchase", page={"page_size": 500}))
    assert buy.predictions[0].contact_id.startswith("ok") and buy.model.label.startswith("a purchase")
    assert buy.model.test_rows == fitted["next_purchase"].trained.evaluation["test_rows"] > 0
    # a new training is a new version; the list shows the newest
    _train(uow)
    assert predictions.list_predictions(uow.session, principal=ANALYST, request=ListPredictionsRequest(
        kind="churn")).model.version == 2


def test_the_auc_is_measured_on_held_out_rows() -> None:
    rnd = random.Random(11)
    rows = [[rnd.random() for _ in models.NAMES] for _ in range(400)]
    labels = [rnd.randrange(2) for _ in rows]                          # nothing to learn
    noise = models.train("churn", rows, labels)
    assert noise.evaluation["test_rows"] == 100 and noise.evaluation["train_rows"] == 300
    assert noise.evaluation["auc"] < 0.65                              # on the training rows it would look better
    signal = models.train("churn", rows, [int(r[0] + 0.2 * rnd.random() > 0.6) for r in rows])
    assert signal.evaluation["auc"] > 0.9
    assert signal.evaluation["base_rate"] == round(signal.evaluation["positives"] / 400, 4)


def test_too_little_history_gives_no_model_and_says_why(uow: UnitOfWork) -> None:
    empty = predictions.list_predictions(uow.session, principal=ANALYST, request=ListPredictionsRequest(kind="churn"))
    assert not empty.HasField("model") and "no model trained yet" in empty.reason and not empty.predictions
    seed_history(uow.session, healthy=3, churning=2)
    _train(uow)
    thin = predictions.list_predictions(uow.session, principal=ANALYST, request=ListPredictionsRequest(kind="churn"))
    assert not thin.HasField("model") and "too little history" in thin.reason and thin.total == 0
    stored = uow.session.execute(select(prediction_models.c.status)).scalars().all()
    assert stored == ["insufficient_data", "insufficient_data"]


def test_each_caller_sees_the_predictions_of_the_customers_they_may_see(uow: UnitOfWork) -> None:
    seed_history(uow.session)
    _train(uow)

    rep = predictions.list_predictions(uow.session, principal=Principal("rep-1", ("rep",), "team-1", ""),
                                       request=ListPredictionsRequest(kind="churn", page={"page_size": 500}))
    assert rep.total == 40 and {p.owner_id for p in rep.predictions} == {"rep-1"}
    assert rep.model.auc > 0           # the evaluation is shown next to every caller's predictions
    manager = predictions.list_predictions(uow.session, principal=Principal("m.0", ("manager",), "team-0", ""),
                                           request=ListPredictionsRequest(kind="churn", page={"page_size": 500}))
    assert {p.team for p in manager.predictions} == {"team-0"}
    narrowed = predictions.list_predictions(uow.session, principal=ANALYST, request=ListPredictionsRequest(
        kind="churn", owner_id="rep-2"))
    assert {p.owner_id for p in narrowed.predictions} == {"rep-2"}


def test_a_customer_moved_or_deleted_since_the_training_follows_its_new_owner(uow: UnitOfWork) -> None:
    """Training runs every 6 hours; a customer transferred from rep-1 to rep-2 in between is rep-2's
    prediction at once (and no longer rep-1's), and a deleted customer is ranked for nobody."""
    seed_history(uow.session)
    _train(uow)
    rep1, rep2 = Principal("rep-1", ("rep",), "team-1", ""), Principal("rep-2", ("rep",), "team-0", "")

    def mine(who: Principal) -> set[str]:
        found = predictions.list_predictions(uow.session, principal=who,
                                             request=ListPredictionsRequest(kind="churn", page={"page_size": 500}))
        assert found.total == len(found.predictions)
        return {p.contact_id for p in found.predictions}

    moved, deleted = sorted(mine(rep1))[:2]
    uow.session.execute(update(customers).where(customers.c.contact_id == moved).values(
        owner_id="rep-2", team="team-0", version=2))
    uow.session.execute(update(customers).where(customers.c.contact_id == deleted).values(live=False, version=2))
    assert moved not in mine(rep1) and deleted not in mine(rep1)
    assert moved in mine(rep2)
    listed = predictions.list_predictions(uow.session, principal=ANALYST, request=ListPredictionsRequest(
        kind="churn", owner_id="rep-2", page={"page_size": 500}))
    assert next(p for p in listed.predictions if p.contact_id == moved).team == "team-0"
    assert deleted not in {p.contact_id for p in predictions.list_predictions(
        uow.session, principal=ANALYST, request=ListPredictionsRequest(kind="churn", page={"page_size": 500})).predictions}


def test_an_unknown_kind_is_refused_naming_the_field(uow: UnitOfWork) -> None:
    with pytest.raises(InvalidArgument) as refused:
        predictions.list_predictions(uow.session, principal=ANALYST, request=ListPredictionsRequest(kind="upsell"))
    assert refused.value.field == "kind"
