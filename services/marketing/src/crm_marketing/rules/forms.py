"""Lead-capture forms, pure: what a form definition must hold, what a submission must satisfy
(every problem named at once), the lead a submission becomes, and the signed form token that
proves a submission came from a page marketing served (and when)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import phonenumbers

from crm.marketing.v1.marketing_pb2 import Form, FormField, FormSubmission, LocalizedText
from crm.sales.v1.sales_pb2 import Lead
from crm_marketing.rules.eligibility import DEFAULT_PURPOSE
from crm_marketing.rules.settings import ascii_host
from crm_marketing.rules.templates import normalize_language
from crmkit import limits
from crmkit.consent_purposes import check_purpose
from crmkit.errors import InvalidArgument

# The fields that fill the lead's own fields of the same name; the rest go into its notes.
LEAD_FIELDS = ("name", "email", "phone", "company", "title", "industry", "province", "city", "company_size",
               "budget")
TYPES = ("text", "email", "tel", "textarea", "select", "checkbox")
STATUSES = ("active", "closed")
HONEYPOT = "homepage"  # hidden on the page; people leave it empty, form-filling bots do not
# Keys a form-encoded submission carries besides the fields: a field may not be named like them.
RESERVED = frozenset({HONEYPOT, "form_token", "consent", "language", "visitor_id", "page_url", "referrer",
                      "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"})
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"", "0", "false", "off", "no"})
MAX_FIELDS = 30
DEFAULT_MAX, TEXTAREA_MAX = 200, 4000
# What sales takes in a lead's own fields (rules/leads.py there): a longer name or company would be
# accepted here and refused there, leaving the visitor's lead failed.
LEAD_MAX = {"name": 300, "company": 300}
TOKEN_MAX_AGE = 24 * 3600  # a page left open longer is reloaded


def text_in(value: LocalizedText, language: str) -> str:
    """The text in `language` (zh-CN | en), else the other one."""
    first, second = (value.en, value.zh) if normalize_language(language) == "en" else (value.zh, value.en)
    return first or second


def _has_text(value: LocalizedText) -> bool:
    return bool(value.zh.strip() or value.en.strip())


def _max_length(spec: FormField) -> int:
    given = spec.max_length or (TEXTAREA_MAX if spec.type == "textarea" else DEFAULT_MAX)
    return min(given, LEAD_MAX.get(spec.name, given))


def check_form(form: Form) -> None:
    """A form about to be saved; normalizes in place (types, languages, purpose, status)."""
    form.name = form.name.strip()
    if not form.name:
        raise InvalidArgument("a form needs a name", field="name")
    if len(form.name) > 200:
        raise InvalidArgument("a name has at most 200 characters", field="name")
    form.status = form.status or "active"
    if form.status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", field="status")
    form.default_language = normalize_language(form.default_language or "zh-CN")
    if form.default_language not in ("zh-CN", "en"):
        raise InvalidArgument("default_language must be zh-CN or en", field="default_language")
    if not form.fields:
        raise InvalidArgument("a form needs fields", field="fields")
    if len(form.fields) > MAX_FIELDS:
        raise InvalidArgument(f"at most {MAX_FIELDS} fields", field="fields")
    seen: set[str] = set()
    for i, spec in enumerate(form.fields):
        _check_field(spec, f"fields[{i}]", seen)
    required = {f.name for f in form.fields if f.required}
    if not required & {"name", "company"}:
        raise InvalidArgument("a lead needs a name or a company: add a required name or company field", field="fields")
    if not seen & {"email", "phone"}:
        raise InvalidArgument("add an email or a phone field, or sales cannot reach the lead", field="fields")
    consent = form.consent
    if consent.enabled or consent.required:
        consent.enabled = True
        if not _has_text(consent.text):
            raise InvalidArgument("the consent checkbox needs the wording it shows", field="consent.text")
        consent.purpose = check_purpose(consent.purpose, "consent.purpose", DEFAULT_PURPOSE)
        if "email" not in seen:
            raise InvalidArgument("a consent is recorded on the contact of an email: add an email field",
                                  field="consent")
    for i, origin in enumerate(form.embed_origins):
        clean = _origin(origin)
        if not clean:
            raise InvalidArgument("an origin is scheme://host[:port], e.g. https://www.example.cn",
                                  field=f"embed_origins[{i}]")
        form.embed_origins[i] = clean


def _origin(value: str) -> str:
    """scheme://host[:port] as a browser names it (lower case, a Chinese domain in its xn-- form), or ""."""
    scheme, sep, rest = value.strip().partition("://")
    host, colon, port = rest.partition(":")
    origin = f"{scheme.lower()}{sep}{ascii_host(host) if host else ''}{colon}{port}"
    return origin if _ORIGIN.match(origin) else ""


def _check_field(spec: FormField, at: str, seen: set[str]) -> None:
    spec.name = spec.name.strip()
    if not _NAME.match(spec.name):
        raise InvalidArgument("a field name is lower-case letters, digits and _, starting with a letter",
                              field=f"{at}.name")
    if spec.name in RESERVED:
        raise InvalidArgument(f"{spec.name} is reserved", field=f"{at}.name")
    if spec.name in seen:
        raise InvalidArgument(f"two fields named {spec.name}", field=f"{at}.name")
    seen.add(spec.name)
    spec.type = spec.type or {"email": "email", "phone": "tel"}.get(spec.name, "text")
    if spec.type not in TYPES:
        raise InvalidArgument(f"type must be one of {', '.join(TYPES)}", field=f"{at}.type")
    if not _has_text(spec.label):
        raise InvalidArgument("a field needs a label (zh or en)", field=f"{at}.label")
    if spec.type == "select" and not spec.options:
        raise InvalidArgument("a select needs options", field=f"{at}.options")
    if spec.max_length < 0 or spec.max_length > 20_000:
        raise InvalidArgument("max_length is between 1 and 20000", field=f"{at}.max_length")
    if spec.max_length > LEAD_MAX.get(spec.name, 20_000):
        raise InvalidArgument(f"a lead's {spec.name} has at most {LEAD_MAX[spec.name]} characters",
                              field=f"{at}.max_length")


@dataclass(frozen=True)
class Checked:
    values: dict[str, str]
    errors: list[tuple[str, str]]  # (field, message), in the form's order


def check_submission(form: Form, values: Mapping[str, str], consent: bool, language: str) -> Checked:
    """Every value against its field; every problem at once, each naming its field
    (`values.<name>`, `consent`). Values of no field are refused too: nothing typed is dropped."""
    english = normalize_language(language or form.default_language) == "en"
    errors: list[tuple[str, str]] = []
    cleaned: dict[str, str] = {}
    specs = {f.name: f for f in form.fields}
    for key in values:
        if key not in specs:
            errors.append((f"values.{key}", "this form has no such field"))
    for spec in form.fields:
        raw = values.get(spec.name, "")
        value = raw.strip() if spec.type != "textarea" else raw.strip("\r\n ")
        problem = _problem(spec, value, english)
        if problem:
            errors.append((f"values.{spec.name}", problem))
            continue
        if value:
            cleaned[spec.name] = _normalized(spec, value)
    if form.consent.required and not consent:
        errors.append(("consent", "please tick the box to continue" if english else "请勾选同意后再提交"))
    return Checked(cleaned, errors)


def _problem(spec: FormField, value: str, english: bool) -> str:
    def say(zh: str, en: str) -> str:
        return en if english else zh

    if not value:
        return say("此项必填", "this field is required") if spec.required else ""
    if len(value) > _max_length(spec):
        return say(f"最多 {_max_length(spec)} 个字符", f"at most {_max_length(spec)} characters")
    if spec.type == "email" and not _EMAIL.match(value):
        return say("请填写有效的电子邮箱", "enter a valid email address")
    if spec.type == "tel" and _phone(value) is None:
        return say("请填写有效的电话号码", "enter a valid phone number")
    if spec.type == "select" and value not in spec.options:
        return say("请从选项中选择", f"choose one of {', '.join(spec.options)}")
    if spec.type == "checkbox" and value.lower() not in _TRUE | _FALSE:
        return say("请勾选或留空", "tick it or leave it empty")
    return ""


def _phone(value: str) -> str | None:
    raw = "+" + value[2:] if value.startswith("00") else value
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _normalized(spec: FormField, value: str) -> str:
    if spec.type == "email":
        return value.lower()
    if spec.type == "tel":
        return _phone(value) or value
    if spec.type == "checkbox":
        return "yes" if value.lower() in _TRUE else "no"
    return value


def lead_of(form: Form, submission: FormSubmission, *, form_name: str) -> Lead:
    """The lead sales captures: the mapped fields, the campaign, the form and UTM parameters (its
    attribution), the assignment hints, and the rest (other fields, page, consent) in its notes
    so sales sees what the visitor sent."""
    values = dict(submission.values)
    lead = Lead(source="web_form", campaign_id=submission.campaign_id, owner_id=form.lead_owner_id,
                region=form.lead_region)
    mapped = {k: v for k, v in values.items() if k in LEAD_FIELDS and (k != "budget" or _is_amount(v))}
    for name, value in mapped.items():
        setattr(lead, name, value)
    labels = {f.name: text_in(f.label, submission.language) or f.name for f in form.fields}
    lines = [f"表单 Form: {form_name} ({submission.form_id}), submission {submission.id}"]
    lines += [f"{labels.get(k, k)}: {v}" for k, v in values.items() if k not in mapped]
    for k in ("source", "medium", "campaign", "term", "content"):  # the lead's own attribution fields
        setattr(lead.attribution, f"utm_{k}", " ".join(getattr(submission.utm, k).split())[:200])
    lead.attribution.form_id = submission.form_id
    if submission.page_url:
        lines.append(f"Page: {submission.page_url}")
    if submission.referrer:
        lines.append(f"Referrer: {submission.referrer}")
    if submission.consent_given:
        lines.append(f"Consent ({submission.consent_purpose}): {submission.consent_text}")
    lead.notes = "\n".join(lines)[:limits.MAX_NOTES]  # what sales takes
    return lead


def _is_amount(value: str) -> bool:
    """A budget sales takes as its amount (1,000,000 or 50000.00); anything else a visitor typed
    or picked ("约50万", a "10-50万" option) goes to the notes as it is, not refused by sales."""
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        return False
    return amount.is_finite() and 0 <= amount < limits.MAX_AMOUNT


def consent_evidence(submission: FormSubmission) -> str:
    """What contacts keeps as the proof of the consent: the words shown, where, from which address."""
    return (f"checkbox ticked on form {submission.form_id} (submission {submission.id}): "
            f"\"{submission.consent_text}\"; ip {submission.visitor_ip or 'unknown'}; "
            f"page {submission.page_url or '-'}")[:2000]


# -- the form token: `f.<form id>.<served at, unix seconds hex>.<HMAC-SHA256/128>`


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, b"form-token\x00" + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def sign_token(key: bytes, form_id: str, served_at: datetime) -> str:
    payload = f"f.{form_id}.{int(served_at.timestamp()):x}"
    return f"{payload}.{_mac(key, payload)}"


def check_token(key: bytes, token: str, form_id: str, now: datetime, min_seconds: int) -> str:
    """"" for a genuine token of this form, served at least `min_seconds` and at most a day
    ago; else what the visitor is told."""
    payload, _, mac = token.strip().rpartition(".")
    parts = payload.split(".")
    if len(token) > 120 or len(parts) != 3 or parts[0] != "f" or not hmac.compare_digest(_mac(key, payload), mac):
        return "this form has expired; reload the page and send it again"
    if parts[1] != form_id:
        return "this token belongs to another form; reload the page"
    try:
        age = now.timestamp() - int(parts[2], 16)
    except ValueError:
        return "this form has expired; reload the page and send it again"
    if age > TOKEN_MAX_AGE or age < -60:
        return "this form has expired; reload the page and send it again"
    if age < min_seconds:
        return "sent too fast; please wait a moment and send it again"
    return ""
