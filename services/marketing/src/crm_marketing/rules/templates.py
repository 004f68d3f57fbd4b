"""Email templates, pure: a sandboxed Jinja engine (no attribute access to Python internals, no
imports, StrictUndefined: an unknown merge field is an error, never an empty hole), html escaped,
one content per language (the contact's, else zh-CN, else the first)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from crm.marketing.v1.marketing_pb2 import Template, TemplateContent
from crmkit.errors import InvalidArgument

LANGUAGES = ("zh-CN", "en")
FALLBACK = "zh-CN"
PARTS = ("subject", "text", "html")
# The merge fields every recipient has (some maybe empty); `custom` holds the contact's custom fields.
CONTACT_FIELDS = ("name", "email", "company", "title", "city", "province", "language", "custom")
MERGE_FIELDS = frozenset({*CONTACT_FIELDS, "campaign_name", "unsubscribe_url"})
MAX_PART = 200_000
TEXT_FIELDS = MERGE_FIELDS - {"custom"}  # plain texts: {{ company.name }} fails for every recipient

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)
_UNDEFINED = re.compile(r"'([^']+)' is undefined")
_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str


def normalize_language(value: str) -> str:
    """zh, zh-cn, zh_Hans → zh-CN; en, en-US → en; anything else stays as given (and falls back)."""
    low = value.strip().lower().replace("_", "-")
    if low.startswith("zh"):
        return "zh-CN"
    if low.startswith("en"):
        return "en"
    return value.strip()


def _env(part: str) -> SandboxedEnvironment:
    return _html_env if part == "html" else _text_env


def _field_error(exc: Exception) -> str:
    message = str(exc)
    found = _UNDEFINED.search(message)
    if found:
        return found.group(1)
    found = _NO_ATTRIBUTE.search(message)
    if found:
        return f"custom.{found.group(1)}"
    return message


def check(template: Template, *, known_fields: bool = True) -> None:
    """A template about to be saved: a name, one content per known language, each part valid
    syntax using only known merge fields (`known_fields=False`: syntax only, for a draft whose
    preview names the unknown field). Normalizes in place."""
    template.name = template.name.strip()
    if not template.name:
        raise InvalidArgument("a template needs a name", field="name")
    if not template.contents:
        raise InvalidArgument("a template needs at least one language (zh-CN or en)", field="contents")
    seen: set[str] = set()
    for i, content in enumerate(template.contents):
        content.language = normalize_language(content.language or FALLBACK)
        if content.language not in LANGUAGES:
            raise InvalidArgument(f"language must be one of {', '.join(LANGUAGES)}", field=f"contents[{i}].language")
        if content.language in seen:
            raise InvalidArgument(f"two contents in {content.language}", field=f"contents[{i}].language")
        seen.add(content.language)
        if not content.subject.strip():
            raise InvalidArgument("a mail needs a subject", field=f"contents[{i}].subject")
        if "\n" in content.subject or "\r" in content.subject:
            raise InvalidArgument("a subject is one line", field=f"contents[{i}].subject")
        if not content.text.strip() and not content.html.strip():
            raise InvalidArgument("a mail needs a text or an html body", field=f"contents[{i}].text")
        for part in PARTS:
            _check_part(getattr(content, part), f"contents[{i}].{part}", part, known_fields)


def _check_part(source: str, field: str, part: str, known_fields: bool) -> None:
    if len(source) > MAX_PART:
        raise InvalidArgument(f"at most {MAX_PART} characters", field=field)
    try:
        tree = _env(part).parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidArgument(f"{field}: {exc.message} (line {exc.lineno})", field=field) from None
    unknown = sorted(meta.find_undeclared_variables(tree) - MERGE_FIELDS)
    if unknown and known_fields:
        raise InvalidArgument(f"{field}: unknown merge field {unknown[0]}", field=field)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        _check_access(node, field, known_fields)


def _check_access(node: nodes.Node, field: str, known_fields: bool) -> None:
    """What the sandbox or every recipient's values would refuse at send time, refused at save:
    Python internals, and a field of a merge field that is text (a text's own methods are fine)."""
    if isinstance(node, nodes.Getattr):
        attr = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        attr = node.arg.value
    else:
        return  # {{ name[0] }}: decided by the recipient's value
    if attr.startswith("_"):
        raise InvalidArgument(f"{field}: not allowed in a template", field=field)
    target = node.node
    if known_fields and isinstance(target, nodes.Name) and target.name in TEXT_FIELDS and not hasattr(str, attr):
        raise InvalidArgument(f"{field}: {target.name} has no field {attr}; write {{{{ {target.name} }}}}",
                              field=field)


def pick(template: Template, language: str) -> TemplateContent:
    """The content for a recipient's language, else zh-CN, else the first."""
    by_language = {c.language: c for c in template.contents}
    return by_language.get(normalize_language(language)) or by_language.get(FALLBACK) or template.contents[0]


@lru_cache(maxsize=512)
def _compiled(part: str, source: str) -> JinjaTemplate:
    return _env(part).from_string(source)


def render(content: TemplateContent, context: Mapping[str, Any]) -> Rendered:
    """The three parts for one recipient, or InvalidArgument naming the part and the field
    ("template.subject: unknown merge field first_name")."""
    out: dict[str, str] = {}
    for part in PARTS:
        source = getattr(content, part)
        field = f"template.{part}"
        try:
            out[part] = _compiled(part, source).render(**context) if source else ""
        except UndefinedError as exc:
            raise InvalidArgument(f"{field}: unknown merge field {_field_error(exc)}", field=field) from None
        except SecurityError:
            raise InvalidArgument(f"{field}: not allowed in a template", field=field) from None
        except TemplateError as exc:
            raise InvalidArgument(f"{field}: {exc}", field=field) from None
        except Exception as exc:  # a template's own mistake ({{ name + 1 }}), never the server's
            raise InvalidArgument(f"{field}: cannot render: {exc}", field=field) from None
    subject = " ".join(out["subject"].split())  # merged values must not break the header
    return Rendered(content.language, subject, out["text"], out["html"])
