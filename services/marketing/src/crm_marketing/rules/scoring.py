"""The engagement score, pure: points per touch (opens, clicks, page views, form submissions, by
the settings' weights) halving every `half_life_days`, the threshold that makes a contact
marketing-qualified, and the lead handed to sales with its history of touches."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from crm.marketing.v1.marketing_pb2 import AutomationSettings, ScoringWeights
from crm.sales.v1.sales_pb2 import Lead

OPEN, CLICK = "crm.marketing.email.opened", "crm.marketing.email.clicked"
VISIT, FORM = "web.visit", "crm.marketing.form.submitted"
# touch kind → the weight it earns (ScoringWeights field) and its name in a lead's notes
SCORED: Mapping[str, tuple[str, str]] = {OPEN: ("open", "opened a mail"), CLICK: ("click", "clicked"),
                                         VISIT: ("visit", "visited"), FORM: ("form", "sent a form")}
SOURCE = "marketing_qualified"
MAX_HISTORY = 50


@dataclass(frozen=True)
class Scored:
    kind: str
    url: str
    campaign_id: str
    at: datetime


def points(kind: str, at: datetime, now: datetime, weights: ScoringWeights, half_life_days: float) -> float:
    weight = float(getattr(weights, SCORED[kind][0])) if kind in SCORED else 0.0
    if half_life_days <= 0:
        return weight
    age_days = max(0.0, (now - at).total_seconds() / 86400)
    decayed: float = weight * 0.5 ** (age_days / half_life_days)
    return decayed


def score(touches: Sequence[Scored], now: datetime, settings: AutomationSettings) -> float:
    return round(sum(points(t.kind, t.at, now, settings.weights, settings.half_life_days) for t in touches), 2)


def horizon_days(settings: AutomationSettings) -> float | None:
    """How far back touches still count for something (ten half-lives: under 0.1 %); None: forever."""
    return settings.half_life_days * 10 if settings.half_life_days > 0 else None


def last_campaign(touches: Sequence[Scored]) -> str:
    """The campaign of the newest touch that has one (last-touch attribution of the lead)."""
    return next((t.campaign_id for t in touches if t.campaign_id), "")


def notes(touches: Sequence[Scored], total: float, threshold: float, campaign_names: Mapping[str, str]) -> str:
    """The lead's description: why it came, and the touches, newest first."""
    lines = [f"Marketing-qualified lead: engagement score {total:g} reached the threshold {threshold:g}.",
             "Touches, newest first:"]
    for t in touches[:MAX_HISTORY]:
        what = SCORED.get(t.kind, (t.kind, t.kind))[1]
        where = f" {t.url}" if t.url else ""
        campaign = f" ({campaign_names.get(t.campaign_id) or t.campaign_id})" if t.campaign_id else ""
        lines.append(f"{t.at:%Y-%m-%d %H:%M} {what}{where}{campaign}")
    if len(touches) > MAX_HISTORY:
        lines.append(f"… and {len(touches) - MAX_HISTORY} earlier touches")
    return "\n".join(lines)[:10_000]


def lead_for(*, name: str, email: str, company: str, title: str, city: str, province: str, region: str,
             campaign_id: str, description: str) -> Lead:
    """Sales' assignment rules place it (by region, round robin): marketing names no owner."""
    return Lead(name=name or email.split("@")[0], email=email, company=company, title=title, city=city,
                province=province, region=region, source=SOURCE, campaign_id=campaign_id, notes=description)
