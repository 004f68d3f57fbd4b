"""Tracking, pure: signed tokens for the unsubscribe link, the open pixel and click redirects;
rewriting a mail's links into tracked ones with UTM parameters.

A token is `<kind>.<recipient seq, hex>[.<link index>].<mac>`, the MAC an HMAC-SHA256 (128 bits
kept) over everything before it under the service's key: a forged, altered or re-purposed token
(an open token used as a click) fails the check, and a valid one names only what its mail
contained, so the click redirect goes only to a link that was in that mail (no open redirect) and
nothing can be enumerated."""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crm_marketing.rules.settings import ascii_host

UNSUBSCRIBE, OPEN, CLICK = "u", "o", "c"
KINDS = (UNSUBSCRIBE, OPEN, CLICK)
MAC_CHARS = 22  # 128 bits of base64url
MAX_TOKEN = 80
MAX_LINKS = 200
_HREF = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"'\s]+)\2""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"'）」]+""")
_TRAILING = ".,;:!?)]}。，；：！？"


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    recipient: int
    link: int = -1


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_CHARS]


def sign(key: bytes, kind: str, recipient: int, link: int = -1) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    payload = f"{kind}.{recipient:x}" + (f".{link}" if kind == CLICK else "")
    return f"{payload}.{_mac(key, payload)}"


def verify(key: bytes, token: str, kind: str) -> TokenClaims | None:
    """The claims of a genuine token of this kind, else None (whatever was wrong)."""
    # A token we signed is ASCII; compare_digest refuses other text with a TypeError (a 500).
    if not token or len(token) > MAX_TOKEN or not token.isascii():
        return None
    payload, _, mac = token.rpartition(".")
    if not hmac.compare_digest(_mac(key, payload), mac):
        return None
    parts = payload.split(".")
    expected = 3 if kind == CLICK else 2
    if len(parts) != expected or parts[0] != kind:
        return None
    try:
        recipient = int(parts[1], 16)
        link = int(parts[2]) if kind == CLICK else -1
    except ValueError:
        return None
    return TokenClaims(kind, recipient, link)


def add_utm(url: str, params: Mapping[str, str]) -> str:
    """The URL with each UTM parameter it does not carry yet (a link's own utm_* are kept)."""
    return _add_utm(url, tuple(params.items()))


@lru_cache(maxsize=4096)  # a wave's mails share their links: parse and encode each once
def _add_utm(url: str, items: tuple[tuple[str, str], ...]) -> str:
    params = dict(items)
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    query += [(k, v) for k, v in params.items() if v and k not in present]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def utm_params(campaign_slug: str, variant: str) -> dict[str, str]:
    return {"utm_source": "shuniu", "utm_medium": "email", "utm_campaign": campaign_slug, "utm_content": variant}


@dataclass(frozen=True)
class Tracked:
    text: str
    html: str
    links: list[str]  # index → the URL the click redirect goes to (UTM added)


def _split_trailing(url: str) -> tuple[str, str]:
    stripped = url.rstrip(_TRAILING)
    return stripped, url[len(stripped):]


def track_links(text: str, body_html: str, *, own_base: str, click_url: Callable[[int], str],
                utm: Mapping[str, str]) -> Tracked:
    """Every http(s) link of the html (href) and the text becomes `click_url(index)`; the same
    target shares an index. Links to `own_base` (the unsubscribe link) stay as they are."""
    links: list[str] = []
    index_of: dict[str, int] = {}

    def index(target: str) -> int | None:
        if target.startswith(own_base):
            return None
        url = add_utm(target, utm)
        if url not in index_of:
            if len(links) >= MAX_LINKS:
                return None
            index_of[url] = len(links)
            links.append(url)
        return index_of[url]

    def in_html(match: re.Match[str]) -> str:
        i = index(html.unescape(match.group(3)))
        return match.group(0) if i is None else f"{match.group(1)}{match.group(2)}{click_url(i)}{match.group(2)}"

    def in_text(match: re.Match[str]) -> str:
        url, trailing = _split_trailing(match.group(0))
        i = index(url)
        return match.group(0) if i is None else click_url(i) + trailing

    new_html = _HREF.sub(in_html, body_html) if body_html else ""
    new_text = _TEXT_URL.sub(in_text, text) if text else ""
    return Tracked(new_text, new_html, links)


def add_pixel(body_html: str, pixel_url: str) -> str:
    if not body_html:
        return ""
    tag = f'<img src="{pixel_url}" width="1" height="1" alt="" style="display:none">'
    at = body_html.lower().rfind("</body>")
    return body_html[:at] + tag + body_html[at:] if at >= 0 else body_html + tag


def mask_email(email: str) -> str:
    """z***@example.cn: enough for the owner to recognise, nothing for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


@dataclass(frozen=True)
class LinkMaker:
    """The public URLs of one service: `base` is the gateway's public API root
    (PUBLIC_BASE_URL + /api/v1/public), `key` the tracking key."""

    base: str
    key: bytes

    def unsubscribe(self, recipient: int) -> str:
        return f"{self.base}/unsubscribe/{sign(self.key, UNSUBSCRIBE, recipient)}"

    def pixel(self, recipient: int) -> str:
        return f"{self.base}/open/{sign(self.key, OPEN, recipient)}"

    def click(self, recipient: int, link: int) -> str:
        return f"{self.base}/click/{sign(self.key, CLICK, recipient, link)}"


# -- contact tokens: `t.<contact id>.<mac>`, added as crm_ct to the links of a mail that lead to a
# tracked site, so the site's visit intake knows who arrived (a mac of its own domain).

CONTACT_PARAM = "crm_ct"


def _contact_mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, b"contact-token\x00" + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_CHARS]


def sign_contact(key: bytes, contact_id: str) -> str:
    payload = f"t.{contact_id}"
    return f"{payload}.{_contact_mac(key, payload)}"


def verify_contact(key: bytes, token: str) -> str | None:
    """The contact id of a genuine contact token, else None."""
    payload, _, mac = token.strip().rpartition(".")
    kind, _, contact_id = payload.partition(".")
    if len(token) > 120 or kind != "t" or not contact_id or not hmac.compare_digest(_contact_mac(key, payload), mac):
        return None
    return contact_id


def with_contact(url: str, key: bytes, contact_id: str, hosts: frozenset[str]) -> str:
    """The URL with crm_ct when it leads to one of the tracked sites' hosts (never elsewhere)."""
    host = ascii_host(urlsplit(url).hostname or "")
    if not host or not any(host == h or host.endswith("." + h) for h in hosts):
        return url
    return add_utm(url, {CONTACT_PARAM: sign_contact(key, contact_id)})


def tracking_key(secret: str) -> bytes:
    """A key of its own (domain-separated), even when derived from the JWT secret."""
    return hashlib.sha256(b"crm-marketing-tracking\x00" + secret.encode()).digest()
