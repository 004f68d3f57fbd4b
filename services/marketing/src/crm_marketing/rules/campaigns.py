"""Campaigns, pure: the types, the status state machine, field checks, slugs, and check-in codes."""
from __future__ import annotations

import re
import secrets
import unicodedata
from decimal import Decimal, InvalidOperation

from crm.common.v1.types_pb2 import Money
from crm.marketing.v1.marketing_pb2 import Audience, Campaign, Kpis
from crmkit import limits
from crmkit.currencies import check_currency
from crmkit.errors import FailedPrecondition, InvalidArgument
from crmkit.records import check_date

TYPES = ("webinar", "trade_show", "email", "social", "ads")
STATUSES = ("draft", "scheduled", "active", "completed", "cancelled")
# draft → scheduled → active → completed; cancelled from anything not finished. A scheduled
# campaign may go back to draft (plans change); a finished one never moves again.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"scheduled", "cancelled"}),
    "scheduled": frozenset({"draft", "active", "cancelled"}),
    "active": frozenset({"completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
# Sending mail, inviting and checking in happen while a campaign is being prepared or runs.
LIVE = frozenset({"draft", "scheduled", "active"})
MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_AUDIENCE_ITEMS = 1000
# Check-in codes: 8 characters without look-alikes (no 0/O, 1/I/L), 32 symbols → 40 random bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def check_transition(old: str, new: str) -> None:
    if new not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    if new == old:
        raise FailedPrecondition(f"the campaign is already {old}", field="status")
    if new not in TRANSITIONS.get(old, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(old, frozenset()))) or "nothing (it is finished)"
        raise FailedPrecondition(f"a {old} campaign cannot become {new}; it can become {allowed}", field="status")


def require_live(campaign: Campaign, what: str) -> None:
    if campaign.status not in LIVE:
        raise FailedPrecondition(f"the campaign is {campaign.status}: no more {what}", field="campaign_id")


def check_money(value: Money, field: str) -> None:
    if not value.amount and not value.currency_code:
        return
    try:
        amount = Decimal(value.amount)
    except InvalidOperation:
        raise InvalidArgument("an amount is a decimal string like 1234.50", field=f"{field}.amount") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidArgument("an amount is a non-negative number", field=f"{field}.amount")
    limits.check_amount(f"{field}.amount", amount)
    if value.currency_code != value.currency_code.strip().upper():
        raise InvalidArgument("currency_code is an ISO 4217 code like CNY", field=f"{field}.currency_code")
    check_currency(value.currency_code, f"{field}.currency_code")
    value.amount = str(amount)


def _check_kpis(kpis: Kpis) -> None:
    for name in ("leads", "opportunities", "attendees"):
        if getattr(kpis, name) < 0:
            raise InvalidArgument("an expected KPI is not negative", field=f"expected.{name}")
    check_money(kpis.revenue, "expected.revenue")


def _clean_ids(values: list[str], field: str) -> list[str]:
    cleaned = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(cleaned) > MAX_AUDIENCE_ITEMS:
        raise InvalidArgument(f"at most {MAX_AUDIENCE_ITEMS} entries", field=field)
    return cleaned


def normalize_audience(audience: Audience, prefix: str = "audience") -> None:
    for name in ("segment_ids", "tags", "contact_ids", "exclude_segment_ids", "exclude_tags", "exclude_contact_ids"):
        values = _clean_ids(list(getattr(audience, name)), f"{prefix}.{name}")
        field = getattr(audience, name)
        del field[:]
        field.extend(values)


def is_empty(audience: Audience) -> bool:
    return not (audience.segment_ids or audience.tags or audience.contact_ids)


def check(campaign: Campaign) -> None:
    """Every client-given field of a campaign about to be saved; normalizes in place."""
    limits.check_texts(campaign, {"description": MAX_DESCRIPTION})  # and every other text: crmkit.limits
    campaign.name = campaign.name.strip()
    if not campaign.name:
        raise InvalidArgument("a campaign needs a name", field="name")
    if len(campaign.name) > MAX_NAME:
        raise InvalidArgument(f"a name has at most {MAX_NAME} characters", field="name")
    if len(campaign.description) > MAX_DESCRIPTION:
        raise InvalidArgument(f"a description has at most {MAX_DESCRIPTION} characters", field="description")
    if campaign.type not in TYPES:
        raise InvalidArgument(f"type must be one of {', '.join(TYPES)}", field="type")
    check_money(campaign.budget, "budget")
    check_money(campaign.actual_cost, "actual_cost")
    campaign.start_date = check_date(campaign.start_date, "start_date")
    campaign.end_date = check_date(campaign.end_date, "end_date")
    if campaign.start_date and campaign.end_date and campaign.end_date < campaign.start_date:
        raise InvalidArgument("the campaign ends before it starts", field="end_date")
    normalize_audience(campaign.audience)
    _check_kpis(campaign.expected)


def slugify(name: str, given: str = "") -> str:
    """utm_campaign: lower-case ASCII words joined by '-' ("Spring Expo 2026" → "spring-expo-2026");
    a name with no ASCII letters (中文) gives "" and the caller falls back to an id-based slug."""
    source = given or name
    ascii_text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:60].strip("-")
    if given and slug != given:
        raise InvalidArgument("a slug is lower-case letters, digits and '-'", field="slug")
    return slug


def new_check_in_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    """What staff type at the door: case and separators do not matter."""
    return re.sub(r"[\s-]", "", code).upper()
