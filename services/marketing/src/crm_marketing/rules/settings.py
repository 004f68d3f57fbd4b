"""The automation settings document, pure: its defaults (what applies until someone saves it)
and the checks a saved one passes."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from crm.marketing.v1.marketing_pb2 import AutomationSettings, ScoringWeights, TrackingSite
from crmkit.errors import InvalidArgument

_SITE_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_HOST = re.compile(r"^[a-z0-9.-]+$")


def defaults() -> AutomationSettings:
    return AutomationSettings(
        weights=ScoringWeights(open=1, click=3, visit=2, form=10), half_life_days=30, mql_threshold=50,
        mql_enabled=True, ab_significance=0.05, form_limit_per_address=20, form_limit_per_email=5,
        form_min_seconds=2, visit_limit_per_visitor=60)


def check(settings: AutomationSettings) -> None:
    w = settings.weights
    for name in ("open", "click", "visit", "form"):
        value = getattr(w, name)
        if not 0 <= value <= 1000:
            raise InvalidArgument("a weight is between 0 and 1000 points", field=f"weights.{name}")
    if not 0 <= settings.half_life_days <= 3650:
        raise InvalidArgument("half_life_days is between 0 (no decay) and 3650", field="half_life_days")
    if settings.mql_threshold <= 0:
        raise InvalidArgument("the threshold is a positive score", field="mql_threshold")
    if not 0 < settings.ab_significance < 0.5:
        raise InvalidArgument("a significance level is between 0 and 0.5, e.g. 0.05", field="ab_significance")
    for name in ("form_limit_per_address", "form_limit_per_email", "visit_limit_per_visitor"):
        if getattr(settings, name) < 1:
            raise InvalidArgument("a limit is at least 1", field=name)
    if not 0 <= settings.form_min_seconds <= 600:
        raise InvalidArgument("form_min_seconds is between 0 and 600", field="form_min_seconds")
    keys: set[str] = set()
    for i, site in enumerate(settings.sites):
        _check_site(site, f"sites[{i}]", keys)


def _check_site(site: TrackingSite, at: str, keys: set[str]) -> None:
    site.key = site.key.strip()
    if not _SITE_KEY.match(site.key):
        raise InvalidArgument("a site key is 8 to 64 letters, digits, _ or -", field=f"{at}.key")
    if site.key in keys:
        raise InvalidArgument(f"two sites with the key {site.key}", field=f"{at}.key")
    keys.add(site.key)
    cleaned = []
    for j, domain in enumerate(site.domains):
        host = ascii_host(domain.strip()).removeprefix("www.")
        if not host or not _HOST.match(host):
            raise InvalidArgument("a domain is a host name like example.cn", field=f"{at}.domains[{j}]")
        cleaned.append(host)
    del site.domains[:]
    site.domains.extend(cleaned)


def ascii_host(host: str) -> str:
    """A host name as browsers send it: lower case, a Chinese (IDN) label in its xn-- form
    ("例子.中国" → "xn--fsqu00a.xn--fiqs8s"); "" for one that has none."""
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return ""


def site_for(settings: AutomationSettings, key: str) -> TrackingSite | None:
    return next((s for s in settings.sites if s.key == key), None)


def url_allowed(site: TrackingSite, url: str) -> bool:
    """A URL of the site's domains (a subdomain counts), any http(s) URL when it names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = ascii_host(parts.hostname)
    return not site.domains or any(host == d or host.endswith("." + d) for d in site.domains)
