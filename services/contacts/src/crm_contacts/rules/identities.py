"""Social identities (WeChat openid / unionid, WeCom external_userid), pure: validation, the key
duplicates and lookups match on, and merging. An openid is only unique within its app, so the
key carries the app id; a unionid spans the apps of one open-platform account and carries none."""
from __future__ import annotations

import re
from collections.abc import Iterable

from crm.contacts.v1.contacts_pb2 import Contact, SocialIdentity
from crmkit.errors import InvalidArgument

PLATFORMS = ("wechat", "wecom")
KINDS = ("openid", "unionid", "external_userid")
MAX_IDENTITIES = 20  # as many as phones: one person, a few apps
MAX_VALUE = 128      # openids are 28 characters, external_userids 32; room to spare, never a paragraph
MAX_APP_ID = 64
MAX_SOURCE = 200
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.@]+$")


def key(identity: SocialIdentity) -> str:
    """What the identities table keeps (kind 'social'): never looks like a phone or an email."""
    return f"{identity.platform}:{identity.kind}:{identity.app_id}:{identity.value}"


def check(identity: SocialIdentity, field: str) -> SocialIdentity:
    """A normalized copy, or INVALID_ARGUMENT naming the sub-field."""
    platform, kind = identity.platform.strip().lower(), identity.kind.strip().lower()
    value, app_id = identity.value.strip(), identity.app_id.strip()
    if platform not in PLATFORMS:
        raise InvalidArgument(f"platform must be one of {', '.join(PLATFORMS)}", field=f"{field}.platform")
    if kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}", field=f"{field}.kind")
    if not value or len(value) > MAX_VALUE or not _TOKEN.match(value):
        raise InvalidArgument(f"value is 1 to {MAX_VALUE} letters, digits, _ - . @", field=f"{field}.value")
    if len(app_id) > MAX_APP_ID or (app_id and not _TOKEN.match(app_id)):
        raise InvalidArgument(f"app_id is at most {MAX_APP_ID} letters, digits, _ - . @", field=f"{field}.app_id")
    if kind == "unionid":
        app_id = ""  # one unionid for every app of the account
    elif not app_id:
        raise InvalidArgument(f"an {kind} belongs to one app: give its app_id (appid / corpid)",
                              field=f"{field}.app_id")
    if len(identity.verified_source) > MAX_SOURCE:
        raise InvalidArgument(f"verified_source is at most {MAX_SOURCE} characters", field=f"{field}.verified_source")
    checked = SocialIdentity(platform=platform, kind=kind, value=value, app_id=app_id,
                             verified_source=identity.verified_source.strip() or "api")
    if identity.HasField("verified_at"):
        checked.verified_at.CopyFrom(identity.verified_at)
    return checked


def normalize(contact: Contact) -> None:
    if not contact.social_identities:  # most contacts (every import row): nothing to check or rebuild
        return
    if len(contact.social_identities) > MAX_IDENTITIES:
        raise InvalidArgument(f"at most {MAX_IDENTITIES} social identities", field="social_identities")
    seen: dict[str, SocialIdentity] = {}
    for i, identity in enumerate(contact.social_identities):
        checked = check(identity, f"social_identities[{i}]")
        seen.setdefault(key(checked), checked)
    del contact.social_identities[:]
    contact.social_identities.extend(seen.values())


def values(identities: Iterable[SocialIdentity]) -> list[tuple[str, str]]:
    return [("social", key(i)) for i in identities]


def merge(survivor: Contact, other: Contact) -> bool:
    """The other contact's identities the survivor lacks, added; True when any was."""
    known = {key(i) for i in survivor.social_identities}
    added = False
    for identity in other.social_identities:
        if key(identity) not in known and len(survivor.social_identities) < MAX_IDENTITIES:
            known.add(key(identity))
            survivor.social_identities.append(identity)
            added = True
    return added
