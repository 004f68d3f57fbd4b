"""SMS as a campaign channel, pure: who may be texted, the content's checks, a recipient's
template variables, and the opt-out reply (回T退订: a marketing SMS ends with "reply T to
unsubscribe", and carriers expect every such reply honoured)."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from crm.marketing.v1.marketing_pb2 import SmsContent
from crm_marketing.rules.eligibility import NO_CONSENT, SUPPRESSED, UNKNOWN_CONTACT, UNSUBSCRIBED, Reachability
from crmkit.errors import InvalidArgument

CHANNEL = "sms"
DEFAULT_PURPOSE = "marketing_sms"
NO_PHONE, DUPLICATE_PHONE = "no_phone", "duplicate_phone"
MERGE_FIELDS = frozenset({"name", "email", "company", "title", "city", "province", "language", "custom",
                          "campaign_name"})
MAX_PARAMS = 20
MAX_PARAM_SOURCE = 500
MAX_VALUE = 35            # characters of one variable the provider takes (longer is refused)
_TEMPLATE_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

# What a person texts back to stop marketing SMS: the carriers' and providers' conventions (T, TD,
# N, 退订 …) and the English words. Compared after NFKC (full-width Ｔ is T), case folded, with
# punctuation and spaces around it dropped; a longer message that merely contains one of them
# ("T恤有货吗") is not an opt-out.
OPT_OUT_WORDS = frozenset({"t", "td", "n", "0000", "退订", "退定", "退", "取消", "取消订阅", "退订短信", "不要再发",
                           # the SMS's own instruction texted back as it reads ("回T退订")
                           "回t退订", "回td退订", "回n退订", "t退订", "td退订",
                           "stop", "unsubscribe", "cancel", "quit", "end"})
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def is_opt_out(content: str) -> bool:
    text = unicodedata.normalize("NFKC", content).strip().casefold()
    text = _EDGES.sub("", text).replace(" ", "")
    return text in OPT_OUT_WORDS


def skip_reason(contact: Reachability | None, purpose: str, seen_phones: set[str] | None = None) -> str:
    """"" when the contact may be texted (its number then joins `seen_phones`): granted consent
    for the purpose, not opted out since, not suppressed, a number no earlier recipient has."""
    if contact is None:
        return UNKNOWN_CONTACT
    if contact.suppressed:
        return SUPPRESSED
    if not contact.phone:
        return NO_PHONE
    consent = contact.consents.get(purpose)
    if contact.unsubscribed_at is not None and not (
            consent and consent.granted and consent.at and consent.at > contact.unsubscribed_at):
        return UNSUBSCRIBED  # a grant given after the opt-out (a new form) lifts it
    if consent is None or not consent.granted:
        return NO_CONSENT
    if seen_phones is not None:
        if contact.phone in seen_phones:
            return DUPLICATE_PHONE
        seen_phones.add(contact.phone)
    return ""


def check_content(content: SmsContent, field: str = "wave.sms") -> None:
    """A wave's SMS as it is frozen: a template code, variables with valid names whose values are
    merge templates of known fields. Normalizes in place."""
    content.template_code = content.template_code.strip()
    content.sign_name = content.sign_name.strip()
    if not _TEMPLATE_CODE.fullmatch(content.template_code):
        raise InvalidArgument("the provider's template code (letters, digits, _ . -), e.g. SMS_123456789",
                              field=f"{field}.template_code")
    if len(content.sign_name) > 30:
        raise InvalidArgument("a signature name has at most 30 characters", field=f"{field}.sign_name")
    if len(content.params) > MAX_PARAMS:
        raise InvalidArgument(f"at most {MAX_PARAMS} variables", field=f"{field}.params")
    for name, source in content.params.items():
        where = f"{field}.params.{name}"
        if not _VARIABLE.fullmatch(name):
            raise InvalidArgument("a variable name is letters, digits and _", field=where)
        if len(source) > MAX_PARAM_SOURCE:
            raise InvalidArgument(f"at most {MAX_PARAM_SOURCE} characters", field=where)
        try:
            unknown = sorted(meta.find_undeclared_variables(_env.parse(source)) - MERGE_FIELDS)
        except TemplateSyntaxError as exc:
            raise InvalidArgument(f"{where}: {exc.message}", field=where) from None
        if unknown:
            raise InvalidArgument(f"{where}: unknown merge field {unknown[0]}", field=where)


def render_params(content: SmsContent, context: Mapping[str, Any]) -> dict[str, str]:
    """One recipient's variables, or InvalidArgument naming the variable (a missing custom field,
    a value longer than the provider takes)."""
    out: dict[str, str] = {}
    for name, source in sorted(content.params.items()):
        where = f"sms.params.{name}"
        try:
            value = " ".join(_env.from_string(source).render(**context).split())
        except UndefinedError as exc:
            raise InvalidArgument(f"{where}: {exc.message}", field=where) from None
        except (SecurityError, TemplateError) as exc:
            raise InvalidArgument(f"{where}: {exc}", field=where) from None
        except Exception as exc:  # the template's own mistake, never the server's
            raise InvalidArgument(f"{where}: cannot render: {exc}", field=where) from None
        if len(value) > MAX_VALUE:
            raise InvalidArgument(f"{where}: {len(value)} characters, the provider takes {MAX_VALUE}", field=where)
        out[name] = value
    return out
