"""Churn risk and next-purchase likelihood: the features, the labels, the training with its held-out
evaluation, the scoring and the reasons. No database here: `store.features` reads the rows, the
use case (usecases.predictions) stores what this returns.

- next_purchase: among customers who existed at a cutoff, did they buy (a deal won) in the
  `HORIZON_DAYS` after it;
- churn: among customers who had bought before the cutoff, did they NOT buy in the days after it.

Training rows come from two cutoffs (HORIZON_DAYS and twice that before now), so a label is always
known; a quarter of the rows (stratified) is held out and the ROC AUC on them is the model's
figure. The model is a logistic regression on standardized features (scikit-learn); what is kept
is its coefficients, the scaling and the evaluation as JSON, never a pickle. A customer's reasons
are the features with the largest contributions (coefficient x standardized value, relative to the
average training row) raising the probability."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HORIZON_DAYS = 90
KINDS = {"churn": "no purchase in the next 90 days, among customers who bought before",
         "next_purchase": "a purchase (a deal won) in the next 90 days"}
FEATURES: tuple[tuple[str, str], ...] = (
    ("days_since_purchase", "Days since the last purchase (730: none)"),
    ("days_since_interaction", "Days since the last interaction: deal, ticket or email (730: none)"),
    ("purchases_90d", "Purchases in the last 90 days"),
    ("purchases_365d", "Purchases in the last 365 days"),
    ("amount_365d_log", "Purchase amount in the last 365 days (log10 of 1 + amount)"),
    ("open_deals", "Open deals"),
    ("lost_365d", "Deals lost in the last 365 days"),
    ("tickets_365d", "Tickets in the last 365 days"),
    ("open_tickets", "Open tickets"),
    ("csat_avg", "Average CSAT rating (3 when never answered)"),
    ("low_csat", "CSAT answers rated 1 or 2"),
    ("email_opens_90d", "Emails opened in the last 90 days"),
    ("email_clicks_90d", "Email clicks in the last 90 days"),
)
NAMES = [name for name, _ in FEATURES]
LABELS = dict(FEATURES)
MIN_ROWS, MIN_CLASS = 40, 8     # fewer labelled rows, or positives / negatives, and there is no model
TOP_REASONS = 3
ALGORITHM = "logistic regression on standardized features (scikit-learn)"


@dataclass(frozen=True)
class Trained:
    """A model's definition (what scoring needs) and its evaluation, or why there is none."""

    kind: str
    definition: dict[str, Any] | None
    evaluation: dict[str, Any]
    reason: str = ""


def train(kind: str, rows: Sequence[Sequence[float]], labels: Sequence[int], *, seed: int = 0) -> Trained:
    import numpy as np
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

    n, positives = len(labels), int(sum(labels))
    evaluation: dict[str, Any] = {"rows": n, "positives": positives, "horizon_days": HORIZON_DAYS,
                                  "base_rate": round(positives / n, 4) if n else None}
    if n < MIN_ROWS or positives < MIN_CLASS or n - positives < MIN_CLASS:
        return Trained(kind, None, evaluation,
                       f"too little history to train: {n} labelled customers, {positives} positive "
                       f"(needs {MIN_ROWS} and at least {MIN_CLASS} of each outcome)")
    x, y = np.asarray(rows, dtype=float), np.asarray(labels, dtype=int)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(x_train), y_train)
    auc = float(roc_auc_score(y_test, model.predict_proba(scaler.transform(x_test))[:, 1]))
    scale = [float(s) if s > 0 else 1.0 for s in scaler.scale_]
    evaluation.update(auc=round(auc, 4), train_rows=len(y_train), test_rows=len(y_test))
    definition = {"features": NAMES, "mean": [float(m) for m in scaler.mean_], "scale": scale,
                  "coef": [float(c) for c in model.coef_[0]], "intercept": float(model.intercept_[0]),
                  "algorithm": ALGORITHM}
    return Trained(kind, definition, evaluation)


def score(definition: dict[str, Any], row: Sequence[float]) -> tuple[float, list[tuple[str, float, float]]]:
    """The probability and the reasons: (feature, value, contribution) that raise it the most
    (why a customer is at risk, or likely to buy), largest first; none when nothing raises it."""
    contributions = [c * (v - m) / s for c, v, m, s in zip(
        definition["coef"], row, definition["mean"], definition["scale"], strict=True)]
    logit = definition["intercept"] + sum(contributions)
    p = 1.0 / (1.0 + math.exp(-max(-500.0, min(500.0, logit))))
    ranked = sorted(range(len(row)), key=lambda i: -contributions[i])
    reasons = [(definition["features"][i], float(row[i]), round(contributions[i], 4))
               for i in ranked[:TOP_REASONS] if contributions[i] > 0]
    return p, reasons
