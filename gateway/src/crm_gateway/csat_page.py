"""The satisfaction survey as a person meets it: the link in the survey mail support sends
(`GET /api/v1/public/csat/<token>`) opens a small HTML form, which posts to
`/api/v1/public/csat/<token>/answer` as a browser form and gets an HTML answer. The JSON route
(`POST /api/v1/public/csat/<token>`) stays the API's.

Opening the page answers nothing and asks no service (a mail scanner that follows links cannot
answer a survey, and the page reveals nothing about the token); only the form's POST calls
AnswerCsat, as the public principal, rate limited per address. No script runs on these pages,
and they tell the browser so (Content-Security-Policy), send no Referer (the token is in the URL)
and may not be framed."""
from __future__ import annotations

import html

import grpc
from flask import Response, request

from crm.support.v1 import support_pb2 as pb
from crm_gateway.public import public_call
from crm_gateway.routing import Call

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
RATINGS = ((5, "非常满意 Very happy"), (4, "满意 Happy"), (3, "一般 OK"), (2, "不满意 Unhappy"),
           (1, "非常不满意 Very unhappy"))
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
          "label{display:block;margin:.3rem 0}textarea{width:100%;min-height:5rem}button{margin-top:1rem;padding:.5rem 1.5rem}")
# What a failed answer tells the visitor, by the status the service gave.
_FAILED = {
    grpc.StatusCode.NOT_FOUND: (404, "找不到这份问卷，链接可能不完整。 We could not find this survey; the link may be incomplete."),
    grpc.StatusCode.ALREADY_EXISTS: (409, "这份问卷已经提交过了，感谢您！ This survey was already answered. Thank you!"),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "请选择一个评分。 Please choose a rating."),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "请求过于频繁，请稍后再试。 Too many tries; please try again later."),
}


def _page(title: str, body: str, status: int = 200) -> Response:
    doc = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
           f'content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
           f"<style>{_STYLE}</style></head><body>{body}</body></html>")
    return Response(doc, status=status, mimetype="text/html", headers=HEADERS)


def survey_form(c: Call, token: str) -> Response:
    choices = "".join(f'<label><input type="radio" name="rating" value="{n}" required> {html.escape(label)}</label>'
                      for n, label in RATINGS)
    action = html.escape(f"{token}/answer", quote=True)  # relative: works behind any proxy prefix
    return _page("服务评价 Rate our support", (
        "<h1>您对本次服务满意吗？<br>How did we do?</h1>"
        f'<form method="post" action="{action}">{choices}'
        '<label>留言（可选） Comment (optional)<br><textarea name="comment" maxlength="4000"></textarea></label>'
        '<button type="submit">提交 Send</button></form>'))


def survey_answer(c: Call, token: str) -> Response:
    raw = request.form.get("rating", "")
    rating = int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 1 else 0
    try:
        answer = public_call("support", "AnswerCsat", pb.AnswerCsatRequest(
            token=token, rating=rating, comment=request.form.get("comment", "")))
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        if code not in _FAILED:
            raise  # the gateway's problem+json: 503 when support is down
        status, message = _FAILED[code]
        if code == grpc.StatusCode.INVALID_ARGUMENT and exc.details():  # the service names the problem
            message = f"{exc.details()} — {message}"
        return _page("服务评价 Rate our support", f"<p>{html.escape(message)}</p>", status)
    return _page("谢谢 Thank you", f"<h1>谢谢您的评价！ Thank you!</h1><p>{html.escape(answer.ticket_number)}: "
                 f"{'★' * answer.rating}{'☆' * (5 - answer.rating)}</p>", 201)
