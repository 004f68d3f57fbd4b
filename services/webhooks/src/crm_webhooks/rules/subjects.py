"""Whom an event is about: the contact ids, emails and phones its payload names, read before the
payload is masked for a subscriber. These are what a data-subject request names a person by
(`crm.privacy.v1.Subject`), so they are how the person's deliveries are found again."""
from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.message import Message

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit.privacy import suppression_hash

CONTACT, EMAIL, PHONE = "contact", "email", "phone"
MAX_REFS = 200  # an event about an account with many contacts: enough, and bounded


def _kind(message: str, field: str) -> str | None:
    """The same field names `crmkit.visibility.masked_message` masks, plus contact ids."""
    if (message == "Phone" and field == "number") or field.endswith(("phone", "phones", "mobile", "mobiles")):
        return PHONE
    if (message == "Email" and field == "address") or field.endswith(("email", "emails")):
        return EMAIL
    if field.endswith(("contact_id", "contact_ids")) or (message == "Contact" and field == "id"):
        return CONTACT
    return None


def _walk(message: Message, found: set[tuple[str, str]]) -> None:
    name = message.DESCRIPTOR.name
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE:
            if field.message_type is None or field.message_type.GetOptions().map_entry:
                continue  # custom fields: free text
            for item in (value if field.is_repeated else [value]):
                _walk(item, found)
        elif field.type == field.TYPE_STRING:
            kind = _kind(name, field.name)
            if kind is not None:
                for item in (value if field.is_repeated else [value]):
                    text = item.strip().lower() if kind == EMAIL else item.strip()
                    if text:
                        found.add((kind, text))


def of(env: EventEnvelope, payload: Message) -> list[tuple[str, str]]:
    """(kind, value) pairs, sorted, at most MAX_REFS."""
    found: set[tuple[str, str]] = set()
    if env.aggregate_type == "contact" and env.aggregate_id:
        found.add((CONTACT, env.aggregate_id))
    _walk(payload, found)
    return sorted(found)[:MAX_REFS]


def hashes(key: bytes, refs: Iterable[tuple[str, str]]) -> list[str]:
    """Keyed hashes of (kind, value) pairs: what the list of erased people holds, not the values."""
    return sorted({suppression_hash(key, kind, value) for kind, value in refs})
