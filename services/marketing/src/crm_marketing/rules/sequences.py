"""Drip / nurture sequences, pure: the status machine, what a sequence must hold, when each step
of an enrolment is due, and why an enrolment ends."""
from __future__ import annotations

from datetime import datetime, timedelta

from crm.marketing.v1.marketing_pb2 import Sequence
from crm_marketing.rules import sms
from crm_marketing.rules.eligibility import (
    DEFAULT_PURPOSE,
    NO_CONSENT,
    NO_EMAIL,
    SUPPRESSED,
    UNKNOWN_CONTACT,
    UNSUBSCRIBED,
)
from crmkit.consent_purposes import check_purpose
from crmkit.errors import FailedPrecondition, InvalidArgument

STATUSES = ("draft", "active", "paused", "archived")
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"active", "archived"}),
    "active": frozenset({"paused", "archived"}),
    "paused": frozenset({"active", "archived"}),
    "archived": frozenset(),
}
MAX_STEPS = 30
MAX_DAY = 3650
# Why an enrolment ended: converted (a lead converted or an opportunity won), unsubscribed, replied
# (a support ticket opened by email), suppressed (deleted, merged, bounced), removed (by hand),
# archived (the sequence was).
CONVERTED, REPLIED, REMOVED, ARCHIVED = "converted", "replied", "removed", "archived"
EXIT_REASONS = (CONVERTED, UNSUBSCRIBED, REPLIED, SUPPRESSED, REMOVED, ARCHIVED)
# A step that finds one of these skips that step and goes on (consent may be given later); one
# that finds the contact unsubscribed or suppressed ends the enrolment.
SKIP_STEP = frozenset({NO_CONSENT, NO_EMAIL, UNKNOWN_CONTACT})
ENDS_ENROLMENT = {UNSUBSCRIBED: UNSUBSCRIBED, SUPPRESSED: SUPPRESSED}


def check(sequence: Sequence) -> None:
    """Every client-given field of a sequence about to be saved; normalizes in place."""
    sequence.name = sequence.name.strip()
    if not sequence.name:
        raise InvalidArgument("a sequence needs a name", field="name")
    if len(sequence.name) > 200:
        raise InvalidArgument("a name has at most 200 characters", field="name")
    if not sequence.steps:
        raise InvalidArgument("a sequence needs at least one step", field="steps")
    if len(sequence.steps) > MAX_STEPS:
        raise InvalidArgument(f"at most {MAX_STEPS} steps", field="steps")
    previous = -1
    for i, step in enumerate(sequence.steps):
        step.channel = step.channel.strip().lower()
        if step.channel == sms.CHANNEL:
            if step.template_id.strip():
                raise InvalidArgument("an sms step sends its sms, not an email template", field=f"steps[{i}].template_id")
            sms.check_content(step.sms, f"steps[{i}].sms")
        elif step.channel not in ("", "email"):
            raise InvalidArgument("a step's channel is email or sms", field=f"steps[{i}].channel")
        elif not step.template_id.strip():
            raise InvalidArgument("each step names its template", field=f"steps[{i}].template_id")
        if step.day < 0 or step.day > MAX_DAY:
            raise InvalidArgument(f"a day is between 0 and {MAX_DAY}", field=f"steps[{i}].day")
        if step.day <= previous:
            raise InvalidArgument("each step comes at least a day after the one before", field=f"steps[{i}].day")
        previous = step.day
    sequence.purpose = check_purpose(sequence.purpose, "purpose", DEFAULT_PURPOSE)


def check_transition(old: str, new: str) -> None:
    if new not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    if new == old:
        raise FailedPrecondition(f"the sequence is already {old}", field="status")
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (it is archived)"
        raise FailedPrecondition(f"a {old} sequence cannot become {new}; it can become {allowed}", field="status")


def due_at(enrolled_at: datetime, day: int) -> datetime:
    return enrolled_at + timedelta(days=day)
