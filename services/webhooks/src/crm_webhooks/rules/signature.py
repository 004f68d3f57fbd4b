"""Signing a delivery: HMAC-SHA256 over `<timestamp>.<body>` with the subscription's secret.

The timestamp is signed with the body so a receiver that refuses old timestamps (`verify`'s
`tolerance`) also refuses a captured request played again later."""
from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "v1"
SECRET_PREFIX = "whsec_"
TOLERANCE = 300  # seconds a receiver should accept between our timestamp and its clock

HEADER_ID = "Crm-Webhook-Id"
HEADER_TIMESTAMP = "Crm-Webhook-Timestamp"
HEADER_SIGNATURE = "Crm-Webhook-Signature"
HEADER_EVENT = "Crm-Webhook-Event"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex>`: the value of the Crm-Webhook-Signature header."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def headers(*, secret: str, delivery_id: str, event_type: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        HEADER_ID: delivery_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, body),
        HEADER_EVENT: event_type,
    }


def verify(secret: str, *, timestamp: str, body: bytes, signature: str, now: float,
           tolerance: float = TOLERANCE) -> bool:
    """What a receiver does: the timestamp is recent and the signature matches (compared in
    constant time). Several comma-separated signatures are accepted (a rotation in progress)."""
    if not timestamp.isascii() or not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = sign(secret, int(timestamp), body)
    return any(hmac.compare_digest(expected, given.strip()) for given in signature.split(","))
