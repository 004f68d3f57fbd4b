"""A/B tests, pure: what a test must hold, the split of its audience (a test share divided evenly
between the variants, the rest waiting for the winner), the two-proportion z-test and the
decision it leads to."""
from __future__ import annotations

import hashlib
import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from crm.marketing.v1.marketing_pb2 import AbTest, Template
from crm_marketing.rules.eligibility import DEFAULT_PURPOSE
from crmkit.consent_purposes import check_purpose
from crmkit.errors import InvalidArgument

METRICS = ("open", "click")
STATUSES = ("ready", "testing", "sending_winner", "completed", "cancelled")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
MAX_VARIANTS = 5
REST = ""  # the group of the contacts who get the winner


def check(test: AbTest, *, default_significance: float) -> None:
    """Every client-given field of a test about to be created; normalizes in place."""
    test.name = test.name.strip()
    if len(test.name) > 200:
        raise InvalidArgument("a name has at most 200 characters", field="name")
    if not 2 <= len(test.variants) <= MAX_VARIANTS:
        raise InvalidArgument(f"an A/B test has 2 to {MAX_VARIANTS} variants", field="variants")
    seen: set[str] = set()
    for i, variant in enumerate(test.variants):
        variant.name = variant.name.strip() or string.ascii_uppercase[i]
        if not _NAME.match(variant.name):
            raise InvalidArgument("a variant's name is 1 to 20 letters, digits, _ or - (it is the utm_content)",
                                  field=f"variants[{i}].name")
        if variant.name in seen:
            raise InvalidArgument(f"two variants named {variant.name}", field=f"variants[{i}].name")
        seen.add(variant.name)
        variant.template_id = variant.template_id.strip() or test.template_id
        variant.subject = variant.subject.strip()
        if "\n" in variant.subject or "\r" in variant.subject:
            raise InvalidArgument("a subject is one line", field=f"variants[{i}].subject")
    test.test_percent = test.test_percent or 20
    if not 1 <= test.test_percent <= 100:
        raise InvalidArgument("test_percent is between 1 and 100", field="test_percent")
    test.metric = test.metric or "open"
    if test.metric not in METRICS:
        raise InvalidArgument("the metric is open or click", field="metric")
    if test.wait_hours == 0:
        test.wait_hours = 4
    if not 0 < test.wait_hours <= 720:
        raise InvalidArgument("wait_hours is more than 0 and at most 720 (30 days)", field="wait_hours")
    test.significance = test.significance or default_significance
    if not 0 < test.significance < 0.5:
        raise InvalidArgument("a significance level is between 0 and 0.5, e.g. 0.05", field="significance")
    if test.default_variant and test.default_variant not in seen:
        raise InvalidArgument("default_variant names one of the variants", field="default_variant")
    test.purpose = check_purpose(test.purpose, "purpose", DEFAULT_PURPOSE)


def with_subject(template: Template, subject: str) -> Template:
    """The template with `subject` in every language (a subject-only variant)."""
    out = Template()
    out.CopyFrom(template)
    if subject:
        for content in out.contents:
            content.subject = subject
    return out


def split(test_id: str, contact_ids: Sequence[str], variants: Sequence[str], percent: int) -> dict[str, str]:
    """contact → its variant, or REST. A shuffle seeded by the test (the same list always splits
    the same way), the first `percent` % dealt round-robin, so the groups differ by at most one."""
    order = sorted(contact_ids, key=lambda c: hashlib.sha256(f"{test_id}:{c}".encode()).digest())
    tested = len(order) if percent >= 100 else max(min(len(order), len(variants)), round(len(order) * percent / 100))
    return {c: (variants[i % len(variants)] if i < tested else REST) for i, c in enumerate(order)}


def two_proportion_z(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> tuple[float, float]:
    """(z, two-sided p) of the difference of two proportions, with the pooled standard error."""
    if trials_a == 0 or trials_b == 0:
        return 0.0, 1.0
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if se == 0:
        return 0.0, 1.0
    z = (successes_a / trials_a - successes_b / trials_b) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Arm:
    name: str
    successes: int   # recipients who opened (or clicked)
    trials: int      # recipients the relay took

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class Decision:
    winner: str
    significant: bool
    z: float
    p_value: float
    text: str


def decide(arms: Sequence[Arm], *, alpha: float, default: str, metric: str) -> Decision:
    """The best arm by rate against the runner-up: it wins when the difference is significant at
    `alpha`; otherwise `default` (or the first arm) does."""
    ranked = sorted(arms, key=lambda a: -a.rate)  # stable: a tie keeps the declared order
    best, second = ranked[0], ranked[1]
    z, p = two_proportion_z(best.successes, best.trials, second.successes, second.trials)
    fallback = default or arms[0].name
    what = "open" if metric == "open" else "click"
    if p < alpha and best.rate > second.rate:
        return Decision(best.name, True, z, p, f"{best.name} won: {what} rate {best.rate:.1%} against "
                        f"{second.name}'s {second.rate:.1%} (z={z:.2f}, p={p:.4f} < {alpha})")
    return Decision(fallback, False, z, p, f"no significant difference ({best.name} {best.rate:.1%}, {second.name} "
                    f"{second.rate:.1%}, p={p:.4f} ≥ {alpha}): {fallback} by default")
