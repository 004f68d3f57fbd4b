"""Subscriptions: created, changed, paused, deleted and their secret rotated by an admin or an
integration user (each their own). The target URL was resolved and checked against SSRF before
the transaction (the servicer's `prepare`); here it is only stored."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.webhooks.v1 import webhooks_pb2 as pb
from crm_webhooks import store
from crm_webhooks.rules import catalogue, signature, subscriptions, targets
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound
from crmkit.records import bump, check_version, new_id, stamp_new

PATCHABLE = ("target_url", "event_types", "status", "description")


def _subjects(names: Sequence[str]) -> list[str]:
    return [catalogue.CATALOGUE[n].subject for n in names]


def check_fields(sub: pb.Subscription, *, fields: Sequence[str] = PATCHABLE) -> None:
    """The pure checks, before the target is resolved (a bad type is refused without DNS)."""
    if "target_url" in fields:
        targets.parse_target(sub.target_url, "target_url")
    if "event_types" in fields:
        names = catalogue.check_types(sub.event_types, "event_types")
        del sub.event_types[:]
        sub.event_types.extend(names)
    if "status" in fields:
        sub.status = subscriptions.check_status(sub.status, "status")
    if "description" in fields:
        subscriptions.check_description(sub.description)


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, subscription: pb.Subscription,
           sealed: str) -> pb.Subscription:
    """`sealed`: the new secret, sealed (rules/sealing.py). The answer carries it sealed too: the
    servicer opens it for the caller, so the stored idempotency answer and the audit log never
    hold it in clear, and a retry with the same key still gets the secret."""
    subscriptions.check_manager(principal)
    sub = pb.Subscription()
    sub.CopyFrom(subscription)
    check_fields(sub)
    sub.id = new_id()
    sub.owner_id = principal.user_id
    del sub.owner_roles[:]
    sub.owner_roles.extend(principal.roles)
    sub.secret = ""
    stamp_new(sub, now)
    store.insert_subscription(uow.session, sub, sealed, _subjects(sub.event_types))
    sub.secret = sealed  # shown this once, opened by the servicer
    return sub


def _mine(session: Session, principal: Principal, sub_id: str, *, for_update: bool = False) -> pb.Subscription:
    subscriptions.check_manager(principal)
    sub = store.get_subscription(session, sub_id, for_update=for_update) if sub_id else None
    if sub is None or not subscriptions.can_see(principal, sub.owner_id):
        raise NotFound("no such subscription", field="id")
    return sub


def get(session: Session, *, principal: Principal, sub_id: str) -> pb.Subscription:
    return _mine(session, principal, sub_id)


def list_(session: Session, *, principal: Principal, page_size: int,
          page_token: str) -> tuple[list[pb.Subscription], str]:
    subscriptions.check_manager(principal)
    owner = None if principal.is_admin else principal.user_id
    return store.list_subscriptions(session, owner, page_size, page_token)


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, changes: pb.Subscription,
           mask: Sequence[str], expected_version: int) -> pb.Subscription:
    unknown = [p for p in mask if p not in PATCHABLE]
    if unknown:
        raise InvalidArgument(f"cannot change {unknown[0]}", field=unknown[0])
    if not mask:
        raise InvalidArgument("name the fields to change", field="update_mask")
    sub = _mine(uow.session, principal, changes.id, for_update=True)
    check_version(sub.version, expected_version)
    was_status, was_target = sub.status, sub.target_url
    given = pb.Subscription()
    given.CopyFrom(changes)
    check_fields(given, fields=mask)
    for name in mask:
        if name == "event_types":
            del sub.event_types[:]
            sub.event_types.extend(given.event_types)
        else:
            setattr(sub, name, getattr(given, name))
    bump(sub, now)
    store.save_subscription(uow.session, sub, _subjects(sub.event_types))
    resumed = was_status == "paused" and sub.status == "active"
    retargeted = sub.target_url != was_target and sub.status == "active"
    if resumed or retargeted:
        # What waited (paused, or in backoff after the old target failed) goes now, not at its next
        # look a minute later or its next backoff up to an hour away.
        store.wake(uow.session, sub.id, now)
    return sub


def rotate_secret(uow: UnitOfWork, *, principal: Principal, now: datetime, sub_id: str,
                  sealed: str) -> pb.Subscription:
    """A new secret (sealed, as for `create`) takes effect at once (the deliveries still queued are
    signed with it)."""
    sub = _mine(uow.session, principal, sub_id, for_update=True)
    bump(sub, now)
    store.save_subscription(uow.session, sub, _subjects(sub.event_types), secret=sealed)
    sub.secret = sealed
    return sub


def delete(uow: UnitOfWork, *, principal: Principal, sub_id: str, expected_version: int) -> None:
    sub = _mine(uow.session, principal, sub_id, for_update=True)
    check_version(sub.version, expected_version)
    store.delete_subscription(uow.session, sub.id)


def seal_plaintext(uow: UnitOfWork, *, seal: Callable[[str], str]) -> int:
    """Secrets stored in clear before they were sealed (by the first version of this service), sealed
    now; how many. Run at start: a second replica finds none."""
    found = [(sub_id, stored) for sub_id, stored in store.secrets_(uow.session)
             if stored.startswith(signature.SECRET_PREFIX)]
    for sub_id, stored in found:
        store.set_secret(uow.session, sub_id, seal(stored))
    return len(found)


def event_types(*, principal: Principal) -> pb.ListEventTypesResponse:
    subscriptions.check_manager(principal)
    return pb.ListEventTypesResponse(event_types=[
        pb.EventTypeInfo(name=t.name, subject=t.subject, producer=t.producer) for t in catalogue.CATALOGUE.values()])
