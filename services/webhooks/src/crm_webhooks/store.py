"""SQLAlchemy reads and writes of subscriptions and deliveries, rows ↔ protobuf messages."""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.webhooks.v1 import webhooks_pb2 as pb
from crm_webhooks.rules.subjects import CONTACT, EMAIL, PHONE
from crm_webhooks.tables import deliveries, delivery_subjects, erased_subjects, subscription_types, subscriptions
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.privacy import blob_contains
from crmkit.records import aware

d, s = deliveries.c, subscriptions.c


@dataclass(frozen=True)
class Listener:
    """What the event handler needs of a subscription an event matches."""

    id: str
    owner_id: str
    owner_roles: tuple[str, ...]


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what sending it needs."""

    id: str
    subscription_id: str
    event_type: str
    body: bytes
    attempts: int
    retry_until: datetime
    target_url: str
    secret: str          # sealed (rules/sealing.py)
    active: bool


# Hot statements, built once (a statement built per call defeats SQLAlchemy's compiled cache and
# cost more CPU than its SQL): the handler runs them per batch of events, the worker per delivery.
_LISTENERS = (select(subscription_types.c.event_type, s.id, s.owner_id, s.data)
              .join(subscription_types, subscription_types.c.subscription_id == s.id)
              .where(subscription_types.c.event_type.in_(bindparam("subjects", expanding=True)))
              .order_by(subscription_types.c.event_type, subscription_types.c.subscription_id))
_SUBSCRIBED = select(subscription_types.c.event_type).distinct()
_KNOWN_DELIVERIES = select(d.id).where(d.id.in_(bindparam("ids", expanding=True)))
_ERASED = select(erased_subjects.c.hash).where(erased_subjects.c.hash.in_(bindparam("hashes", expanding=True)))
_HASHES_A_QUERY = 5000  # well below SQLite's and PostgreSQL's limits on bound parameters
_CLAIM = (update(deliveries).where(d.id == bindparam("delivery_id"), d.status == "pending",
                                   d.next_attempt_at <= bindparam("now"))
          .values(next_attempt_at=bindparam("lease_until")))


# -- subscriptions ------------------------------------------------------------------------------

def insert_subscription(session: Session, sub: pb.Subscription, secret: str, subjects: Sequence[str]) -> None:
    session.execute(insert(subscriptions).values(
        id=sub.id, owner_id=sub.owner_id, status=sub.status, target_url=sub.target_url, secret=secret,
        version=sub.version, data=_without_secret(sub)))
    _set_types(session, sub.id, subjects)


def save_subscription(session: Session, sub: pb.Subscription, subjects: Sequence[str], secret: str = "") -> None:
    values: dict[str, object] = {"status": sub.status, "target_url": sub.target_url, "version": sub.version,
                                 "data": _without_secret(sub)}
    if secret:
        values["secret"] = secret
    session.execute(update(subscriptions).where(s.id == sub.id).values(**values))
    _set_types(session, sub.id, subjects)


def _set_types(session: Session, sub_id: str, subjects: Sequence[str]) -> None:
    session.execute(delete(subscription_types).where(subscription_types.c.subscription_id == sub_id))
    session.execute(insert(subscription_types), [{"event_type": t, "subscription_id": sub_id} for t in subjects])


def _without_secret(sub: pb.Subscription) -> bytes:
    clone = pb.Subscription()
    clone.CopyFrom(sub)
    clone.secret = ""
    return clone.SerializeToString()


def get_subscription(session: Session, sub_id: str, *, for_update: bool = False) -> pb.Subscription | None:
    query = select(s.data).where(s.id == sub_id)
    data = session.execute(query.with_for_update() if for_update else query).scalar()
    return pb.Subscription.FromString(data) if data is not None else None


def list_subscriptions(session: Session, owner_id: str | None, requested: int,
                       token: str) -> tuple[list[pb.Subscription], str]:
    size = page_size(requested)
    query = select(s.seq, s.data).order_by(s.seq.desc()).limit(size + 1)
    if owner_id is not None:
        query = query.where(s.owner_id == owner_id)
    if token:
        query = query.where(s.seq < decode_cursor(token))
    rows = session.execute(query).all()
    items = [pb.Subscription.FromString(r.data) for r in rows[:size]]
    return items, encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def delete_subscription(session: Session, sub_id: str) -> None:
    session.execute(delete(subscription_types).where(subscription_types.c.subscription_id == sub_id))
    session.execute(delete(subscriptions).where(s.id == sub_id))
    # Nothing more goes out for it; the log stays until retention removes it.
    session.execute(update(deliveries).where(d.subscription_id == sub_id, d.status == "pending")
                    .values(status="parked", next_attempt_at=None, last_error="subscription deleted"))


def listeners(session: Session, subject: str) -> list[Listener]:
    return listeners_of(session, [subject]).get(subject, [])


def listeners_of(session: Session, subjects: Collection[str]) -> dict[str, list[Listener]]:
    """The subscriptions to each of `subjects` (full event types), active or paused, as they are in
    this transaction; a subject nobody subscribed to is absent. One query, whatever the count."""
    if not subjects:
        return {}
    found: dict[str, list[Listener]] = {}
    roles: dict[str, tuple[str, ...]] = {}  # a subscription to several of the types is read once
    for row in session.execute(_LISTENERS, {"subjects": sorted(subjects)}):
        if row.id not in roles:
            roles[row.id] = tuple(pb.Subscription.FromString(row.data).owner_roles)
        found.setdefault(row.event_type, []).append(Listener(row.id, row.owner_id, roles[row.id]))
    return found


def subscribed_types(session: Session) -> set[str]:
    """The event types (full subjects) at least one subscription names, active or paused."""
    return set(session.execute(_SUBSCRIBED).scalars())


# -- deliveries ---------------------------------------------------------------------------------

def insert_deliveries(session: Session, rows: list[dict[str, object]],
                      refs: Sequence[tuple[str, str]] = ()) -> int:
    """New deliveries, each with the people it is about (`refs`: (kind, value) of its event); one
    that exists already (the same event again) is left as it is. How many were new."""
    if not rows:
        return 0
    known = set(session.execute(_KNOWN_DELIVERIES, {"ids": [r["id"] for r in rows]}).scalars())
    fresh = [r for r in rows if r["id"] not in known]
    if fresh:
        session.execute(insert(deliveries), fresh)
        about = [{"delivery_id": r["id"], "contact_id": value if kind == CONTACT else "",
                  "email": value if kind == EMAIL else "", "phone": value if kind == PHONE else ""}
                 for r in fresh for kind, value in refs]
        if about:
            session.execute(insert(delivery_subjects), about)
    return len(fresh)


def purge_old(session: Session, cutoff: datetime, limit: int) -> int:
    """Retention: delivered and parked deliveries created before `cutoff`, with whom they were about."""
    ids = list(session.execute(select(d.id).where(d.created_at < cutoff, d.status != "pending")
                               .order_by(d.created_at).limit(limit)).scalars())
    return delete_deliveries(session, ids)


def delete_deliveries(session: Session, ids: Sequence[str]) -> int:
    if not ids:
        return 0
    session.execute(delete(delivery_subjects).where(delivery_subjects.c.delivery_id.in_(ids)))
    result = session.execute(delete(deliveries).where(d.id.in_(ids)))
    return int(getattr(result, "rowcount", 0) or 0)


def deliveries_about(session: Session, ids: Sequence[str], needles: Sequence[bytes]) -> list[Row[Any]]:
    """The deliveries named by id (found through whom they are about) or whose body carries one
    of `needles` (an admin's unmasked body naming the person in a way no field said)."""
    clauses: list[ColumnElement[bool]] = [d.id.in_(sorted(ids))] if ids else []
    clauses += [blob_contains(d.body, n) for n in needles]
    if not clauses:
        return []
    return list(session.execute(select(deliveries).where(or_(*clauses)).order_by(d.seq)))


def erased_among(session: Session, hashes: Collection[str]) -> set[str]:
    """Which of `hashes` name a person erased here: one query for a batch's events (more only past
    _HASHES_A_QUERY)."""
    wanted = sorted(set(hashes))
    found: set[str] = set()
    for i in range(0, len(wanted), _HASHES_A_QUERY):
        found.update(session.execute(_ERASED, {"hashes": wanted[i:i + _HASHES_A_QUERY]}).scalars())
    return found


def add_erased(session: Session, hashes: Sequence[str], now: datetime) -> None:
    known = set(session.execute(select(erased_subjects.c.hash).where(erased_subjects.c.hash.in_(hashes))).scalars())
    fresh = [{"hash": h, "erased_at": now} for h in hashes if h not in known]
    if fresh:
        session.execute(insert(erased_subjects), fresh)


def secrets_(session: Session) -> list[tuple[str, str]]:
    """(id, stored secret) of every subscription."""
    return [(r.id, r.secret) for r in session.execute(select(s.id, s.secret))]


def set_secret(session: Session, sub_id: str, sealed: str) -> None:
    session.execute(update(subscriptions).where(s.id == sub_id).values(secret=sealed))


def due(session: Session, now: datetime, limit: int) -> list[str]:
    query = (select(d.id).where(d.status == "pending", d.next_attempt_at <= now)
             .order_by(d.next_attempt_at).limit(limit))
    return list(session.execute(query).scalars())


def claim(session: Session, delivery_id: str, now: datetime, lease_until: datetime) -> Due | None:
    """Take a due delivery for the lease (another replica, or this one after a crash, takes it
    again once the lease ran out: at least once)."""
    result = session.execute(_CLAIM, {"delivery_id": delivery_id, "now": now, "lease_until": lease_until})
    if not getattr(result, "rowcount", 0):
        return None
    row = session.execute(
        select(d.id, d.subscription_id, d.event_type, d.body, d.attempts, d.retry_until, s.target_url, s.secret,
               s.status).join(subscriptions, subscriptions.c.id == d.subscription_id)
        .where(d.id == delivery_id)).first()
    if row is None:
        return None
    return Due(row.id, row.subscription_id, row.event_type, row.body, row.attempts, aware(row.retry_until),
               row.target_url, row.secret, row.status == "active")


def record_attempt(session: Session, delivery_id: str, *, status: str, attempts: int, code: int, error: str,
                   at: datetime, next_at: datetime | None) -> None:
    """An attempt's outcome; a delivery another attempt delivered meanwhile (its target fixed or
    its subscription resumed while this one still waited on the old answer) stays delivered."""
    session.execute(update(deliveries).where(d.id == delivery_id, d.status != "delivered").values(
        status=status, attempts=attempts, last_status_code=code, last_error=error[:2000], last_attempt_at=at,
        next_attempt_at=next_at, delivered_at=at if status == "delivered" else None))


def reschedule(session: Session, delivery_id: str, at: datetime) -> None:
    """A paused subscription's delivery waits, without an attempt counted."""
    session.execute(update(deliveries).where(d.id == delivery_id).values(next_attempt_at=at))


def wake(session: Session, sub_id: str, now: datetime) -> None:
    """A resumed subscription's pending deliveries are due now."""
    session.execute(update(deliveries).where(d.subscription_id == sub_id, d.status == "pending",
                                             d.next_attempt_at > now).values(next_attempt_at=now))


def replay(session: Session, sub_id: str, delivery_id: str, now: datetime, retry_until: datetime) -> bool:
    result = session.execute(update(deliveries).where(d.id == delivery_id, d.subscription_id == sub_id).values(
        status="pending", next_attempt_at=now, retry_until=retry_until))
    return bool(getattr(result, "rowcount", 0))


def get_delivery(session: Session, delivery_id: str) -> pb.Delivery | None:
    row = session.execute(select(deliveries).where(d.id == delivery_id)).first()
    return _delivery(row) if row is not None else None


def list_deliveries(session: Session, sub_id: str, status: str, requested: int,
                    token: str) -> tuple[list[pb.Delivery], str]:
    size = page_size(requested)
    query = select(deliveries).where(d.subscription_id == sub_id).order_by(d.seq.desc()).limit(size + 1)
    if status:
        query = query.where(d.status == status)
    if token:
        query = query.where(d.seq < decode_cursor(token))
    rows = session.execute(query).all()
    return [_delivery(r) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def queue_state(session: Session) -> tuple[int, datetime | None]:
    """Pending deliveries and the creation time of the oldest."""
    count, oldest = session.execute(
        select(func.count(), func.min(d.created_at)).where(d.status == "pending")).one()
    return int(count), aware(oldest)


def _delivery(r: Row[Any]) -> pb.Delivery:
    out = pb.Delivery(id=r.id, subscription_id=r.subscription_id, event_id=r.event_id, event_type=r.event_type,
                      status=r.status, attempts=r.attempts, last_status_code=r.last_status_code,
                      last_error=r.last_error)
    for name in ("next_attempt_at", "created_at", "delivered_at", "last_attempt_at"):
        value = aware(getattr(r, name))
        if value is not None and not (name == "next_attempt_at" and r.status != "pending"):
            getattr(out, name).FromDatetime(value)
    return out
