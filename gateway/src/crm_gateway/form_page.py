"""A marketing lead-capture form as a visitor meets it: the HTML page (embeddable in an iframe of
the form's allowed origins), and the pages its post answers with (thank you, the form again with
each problem next to its field, too many tries, gone).

Rendering only: the fields, the consent wording and the signed form token come from marketing
(`PublicForm`); every value a visitor typed is escaped. No script runs here, and the page tells the
browser so (Content-Security-Policy)."""
from __future__ import annotations

import html
from collections.abc import Mapping

from flask import Response

from crm.marketing.v1 import marketing_pb2 as pb

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:34rem;margin:1.5rem auto;padding:0 1rem;line-height:1.5}"
          "label{display:block;margin:.8rem 0 .2rem}input,select,textarea{width:100%;padding:.4rem;box-sizing:border-box}"
          "input[type=checkbox]{width:auto;margin-right:.4rem}textarea{min-height:5rem}"
          ".consent{display:flex;align-items:flex-start;margin-top:1rem}.error{color:#b00020;font-size:.9rem}"
          "button{margin-top:1.2rem;padding:.6rem 1.6rem}.hp{position:absolute;left:-10000px;top:auto;width:1px;"
          "height:1px;overflow:hidden}")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_SUBMIT = pb.LocalizedText(zh="提交", en="Submit")
_REQUIRED = pb.LocalizedText(zh="（必填）", en=" (required)")


def language_of(requested: str, accept_language: str, default: str) -> str:
    """zh-CN or en: `?lang=`, else the browser's first choice of the two, else the form's."""
    for candidate in (requested, *[part.split(";")[0].strip() for part in accept_language.split(",")]):
        low = candidate.lower()
        if low.startswith("en"):
            return "en"
        if low.startswith("zh"):
            return "zh-CN"
    return default or "zh-CN"


def text_in(value: pb.LocalizedText, language: str) -> str:
    first, second = (value.en, value.zh) if language == "en" else (value.zh, value.en)
    return first or second


def headers(embed_origins: list[str]) -> dict[str, str]:
    """Framable by the form's origins (any when it names none); no script, no plugins."""
    ancestors = " ".join(embed_origins) if embed_origins else "*"
    return {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                   f"base-uri 'none'; frame-ancestors {ancestors}",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def page(title: str, body: str, language: str, status: int = 200, embed_origins: list[str] | None = None) -> Response:
    lang = "en" if language == "en" else "zh-CN"
    doc = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" '
           f'content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
           f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>")
    return Response(doc, status=status, mimetype="text/html", headers=headers(embed_origins or []))


def _input(field: pb.FormField, value: str, language: str) -> str:
    name = html.escape(field.name, quote=True)
    required = " required" if field.required else ""
    placeholder = text_in(field.placeholder, language)
    extra = f' placeholder="{html.escape(placeholder, quote=True)}"' if placeholder else ""
    limit = field.max_length or (4000 if field.type == "textarea" else 200)
    if field.type == "textarea":
        return (f'<textarea id="f-{name}" name="{name}" maxlength="{limit}"{required}{extra}>'
                f"{html.escape(value)}</textarea>")
    if field.type == "select":
        choose = "请选择" if language != "en" else "Choose"
        options = "".join(
            f'<option value="{html.escape(o, quote=True)}"{" selected" if o == value else ""}>{html.escape(o)}</option>'
            for o in field.options)
        return f'<select id="f-{name}" name="{name}"{required}><option value="">{choose}</option>{options}</select>'
    if field.type == "checkbox":
        checked = " checked" if value.lower() in ("1", "true", "on", "yes") else ""
        return f'<input id="f-{name}" type="checkbox" name="{name}" value="yes"{checked}{required}>'
    kind = {"email": "email", "tel": "tel"}.get(field.type, "text")
    return (f'<input id="f-{name}" type="{kind}" name="{name}" value="{html.escape(value, quote=True)}" '
            f'maxlength="{limit}"{required}{extra}>')


def form_page(form: pb.PublicForm, *, language: str, hidden: Mapping[str, str], values: Mapping[str, str] | None = None,
              errors: Mapping[str, str] | None = None, consent: bool = False, status: int = 200,
              token: str = "", action: str = "") -> Response:
    """The form; after a refused post, with the visitor's values and each problem by its field.
    `action` is relative to the page's URL (behind any proxy prefix): "<id>/submissions" from the
    form's own URL, "submissions" from the submissions URL a refused post answers on."""
    values, errors = values or {}, errors or {}
    title = text_in(form.title, language) or ("Form" if language == "en" else "表单")
    parts = [f"<h1>{html.escape(title)}</h1>"]
    description = text_in(form.description, language)
    if description:
        parts.append(f"<p>{html.escape(description)}</p>")
    if errors.get("form_token"):
        parts.append(f'<p class="error">{html.escape(errors["form_token"])}</p>')
    target = action or f"{form.form_id}/submissions"
    parts.append('<form method="post" action="' + html.escape(target, quote=True) + '">')
    required = text_in(_REQUIRED, language)
    for field in form.fields:
        label = html.escape(text_in(field.label, language) or field.name)
        mark = html.escape(required) if field.required else ""
        parts.append(f'<label for="f-{html.escape(field.name, quote=True)}">{label}{mark}</label>')
        parts.append(_input(field, values.get(field.name, ""), language))
        if errors.get(field.name):
            parts.append(f'<div class="error">{html.escape(errors[field.name])}</div>')
    if form.consent.enabled:
        ticked = " checked" if consent else ""
        need = " required" if form.consent.required else ""
        parts.append(f'<label class="consent"><input type="checkbox" name="consent" value="yes"{ticked}{need}>'
                     f"<span>{html.escape(text_in(form.consent.text, language))}</span></label>")
        if errors.get("consent"):
            parts.append(f'<div class="error">{html.escape(errors["consent"])}</div>')
    honeypot = html.escape(form.honeypot_field or "homepage", quote=True)
    parts.append(f'<div class="hp" aria-hidden="true"><label>Leave this empty<input type="text" name="{honeypot}" '
                 'tabindex="-1" autocomplete="off"></label></div>')
    fields = {"form_token": token or form.form_token, "language": language, **hidden}
    parts += [f'<input type="hidden" name="{html.escape(k, quote=True)}" value="{html.escape(v, quote=True)}">'
              for k, v in fields.items() if v]
    submit = text_in(form.submit_label, language) or text_in(_SUBMIT, language)
    parts.append(f'<button type="submit">{html.escape(submit)}</button></form>')
    return page(title, "".join(parts), language, status, list(form.embed_origins))


def message_page(title: pb.LocalizedText, message: pb.LocalizedText, language: str, status: int,
                 embed_origins: list[str] | None = None) -> Response:
    heading = text_in(title, language)
    return page(heading, f"<h1>{html.escape(heading)}</h1><p>{html.escape(text_in(message, language))}</p>",
                language, status, embed_origins)
