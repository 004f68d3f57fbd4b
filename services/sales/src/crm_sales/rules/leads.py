"""What a lead must look like (normalized name, email, E.164 phone, known source, budget to the
cent) and the status machine it moves through."""
from __future__ import annotations

import re

import phonenumbers

from crm.sales.v1.sales_pb2 import Lead
from crm_sales.rules import money
from crmkit import limits, picklists
from crmkit.errors import FailedPrecondition, InvalidArgument

# marketing_qualified: a contact marketing's engagement score handed over (crm_marketing).
# The built-in keys of the shared customer-source picklist (proto/crm/common/v1/picklists.proto);
# what a write may hold now is the current vocabulary (normalize's `vocabulary`).
SOURCES = picklists.SOURCES
STATUSES = ("new", "working", "qualified", "disqualified", "nurturing", "converted")
TRANSITIONS = {
    "new": ("working", "qualified", "disqualified", "nurturing"),
    "working": ("qualified", "disqualified", "nurturing"),
    "qualified": ("working", "disqualified", "nurturing"),
    "nurturing": ("working", "qualified", "disqualified"),
    "disqualified": ("working",),
    "converted": (),
}
OPEN = ("new", "working")
RESPONDING = ("outbound_email", "call", "meeting")   # the owner acting on the lead
CSV_FIELDS = ("name", "company", "title", "phone", "email", "industry", "province", "city", "region", "source",
              "campaign_id", "company_size", "budget", "currency_code", "notes")
# Fields only the service sets on a new lead, whatever the caller sent.
SERVER_OWNED = ("score", "score_breakdown", "status_reason", "converted_opportunity_id", "converted_account_id",
                "converted_contact_id", "assignment_rule_id")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# lead field → the shared picklist it holds keys of (crmkit.picklists)
PICKLISTS = {"source": "source", "industry": "industry"}
# The source a new lead gets when its caller names none, by channel: the first active key of these
# (an administrator may retire any of them; "other" is the last resort, then blank).
DEFAULT_SOURCES = {"web_form": ("web_form", "website", "other"), "import": ("import", "other"),
                   "api": ("api", "other")}


def default_source(channel: str, vocabulary: picklists.Vocabulary) -> str:
    return vocabulary.fill("source", *DEFAULT_SOURCES.get(channel, DEFAULT_SOURCES["api"]))


def keep_typed(lead: Lead, vocabulary: picklists.Vocabulary) -> None:
    """A lead from a public path (a marketing form, what a visitor typed), in place: nothing is
    refused or lost. Each picklist field holds the key its text names (a key or a label, either
    language, any case); else the text itself while the list takes any text; else it is left
    blank and the text is kept in the notes as "<field>:<text>", as an import keeps an unknown
    value (rules.imports), for a person or a later mapping to file."""
    kept: list[str] = []
    for field, name in PICKLISTS.items():
        value, typed = vocabulary.kept(name, getattr(lead, field))
        setattr(lead, field, value)
        if typed:
            kept.append(f"{field}:{' '.join(typed.split())}")
    if kept:
        tags = "\n".join(kept)
        room = limits.MAX_NOTES - len(tags) - 1
        lead.notes = f"{lead.notes[:room]}\n{tags}" if lead.notes else tags


def normalize(lead: Lead, vocabulary: picklists.Vocabulary = picklists.DEFAULTS, before: Lead | None = None) -> None:
    """In place; picklist fields hold active keys of `vocabulary` (sales' copy of contacts'), or
    what `before` (the stored lead) held, retired keys included."""
    limits.check_texts(lead, {"notes": limits.MAX_NOTES, "status_reason": limits.MAX_NOTES})
    lead.name = lead.name.strip()
    lead.company = lead.company.strip()
    if not lead.name and not lead.company:
        raise InvalidArgument("a lead needs a name or a company", field="name")
    if len(lead.name) > 300 or len(lead.company) > 300:
        raise InvalidArgument("at most 300 characters", field="name" if len(lead.name) > 300 else "company")
    normalize_email(lead)
    if lead.phone and not lead.phone_unverified:  # an import keeps an unverified phone's digits
        lead.phone = normalize_phone(lead.phone)
    vocabulary.check_fields(lead, PICKLISTS, before)
    if lead.budget:
        lead.budget = str(money.cents(money.parse_amount(lead.budget, "budget")))
        lead.currency_code = money.check_currency(lead.currency_code or "CNY", "currency_code")
    _normalize_attribution(lead)


def normalize_email(lead: Lead) -> None:
    if lead.email:
        lead.email = check_email(lead.email, "email")


def check_email(value: str, field: str) -> str:
    """The address trimmed and lower-cased; refused naming the field when it is not one."""
    address = value.strip().lower()
    if not _EMAIL.match(address):
        raise InvalidArgument(f"'{address}' is not an email address", field=field)
    return address


def normalize_phone(value: str) -> str:
    """E.164, a mainland number when it has no country code."""
    raw = value.strip()
    try:
        parsed = phonenumbers.parse("+" + raw[2:] if raw.startswith("00") else raw, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidArgument(f"'{raw}' is not a phone number", field="phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidArgument(f"'{raw}' is not a valid phone number", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


ATTRIBUTION_MAX = 200  # characters of each UTM parameter and of the form id


def _normalize_attribution(lead: Lead) -> None:
    """The UTM parameters and form that brought the lead: trimmed, each at most 200 characters."""
    a = lead.attribution
    for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "form_id"):
        value = getattr(a, name).strip()
        if len(value) > ATTRIBUTION_MAX or any(c in value for c in "\r\n\x00"):
            raise InvalidArgument(f"at most {ATTRIBUTION_MAX} characters on one line", field=f"attribution.{name}")
        setattr(a, name, value)


def check_status_change(current: str, status: str, reason: str) -> None:
    """A status a caller may set (converting is ConvertLead's), reachable from `current`, with a
    reason where one is owed."""
    if status not in STATUSES or status == "converted":
        raise InvalidArgument("must be one of working, qualified, disqualified, nurturing", field="status")
    if status not in TRANSITIONS[current]:
        raise FailedPrecondition(f"a {current} lead cannot become {status}", field="status")
    if status in ("disqualified", "nurturing") and not reason.strip():
        raise InvalidArgument(f"say why the lead is {status}", field="reason")
