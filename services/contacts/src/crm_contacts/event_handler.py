"""The contacts consumer's handler for the SALES and SUPPORT streams: entries on a customer's
timeline, and customers following their rep's work when sales transfers it. Runs inside the
consumer's unit of work, so the inbox row commits with the effect; every effect is also
idempotent by itself. (Its own events feed the search index from the outbox relay:
CustomerSearch.apply_published.)

Other services' payload types are imported lazily: a producer whose generated code is not in
this build (support, while it is being written) is skipped, never an error."""
from __future__ import annotations

import importlib
import threading
from typing import Any

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm_contacts import timeline_feed, usecases
from crmkit import logs
from crmkit.auth import Principal
from crmkit.consumer import Handler
from crmkit.db import UnitOfWork
from crmkit.events import unpack_payload

log = logs.get("crm_contacts.events")
OWNERSHIP_TRANSFERRED = "crm.sales.ownership.transferred"
PAYLOAD_MODULES = ("crm.sales.v1.events_pb2", "crm.support.v1.events_pb2")
_imported: set[str] = set()
_import_lock = threading.Lock()


def _register_payload_types() -> None:
    if len(_imported) == len(PAYLOAD_MODULES):
        return
    with _import_lock:
        for module in PAYLOAD_MODULES:
            if module in _imported:
                continue
            try:
                importlib.import_module(module)
            except ImportError as exc:
                log.info("event payloads of %s are not available: %s", module, exc)
            _imported.add(module)  # tried: a missing module stays missing in this process


def unpack(env: EventEnvelope) -> Any | None:
    """The event's payload message, or None when its type is unknown to this build."""
    _register_payload_types()
    try:
        return unpack_payload(env)
    except KeyError:
        log.debug("skipping %s: payload type %s is unknown here", env.event_type, env.payload.TypeName())
        return None


def wants(event_type: str) -> bool:
    """The events `make_handler`'s handler acts on; the consumer acks the others untouched."""
    return event_type == OWNERSHIP_TRANSFERRED or timeline_feed.wanted(event_type)


def make_handler() -> Handler:
    def handle(uow: UnitOfWork, env: EventEnvelope) -> None:
        event_type = env.event_type
        if event_type == OWNERSHIP_TRANSFERRED:
            transfer_customers(uow, env)
        elif timeline_feed.wanted(event_type):
            add_to_timeline(uow, env)

    return handle


def add_to_timeline(uow: UnitOfWork, env: EventEnvelope) -> bool:
    payload = unpack(env)
    entry = timeline_feed.timeline_entry(env, payload) if payload is not None else None
    return entry is not None and usecases.add_foreign_timeline_entry(uow.session, entry)


def actor_principal(env: EventEnvelope) -> Principal:
    """Who caused the event, for the audit row and the actor of our own events."""
    actor = env.actor
    return Principal(actor.user_id or env.producer or "system", tuple(actor.roles), actor.team, actor.region)


def transfer_customers(uow: UnitOfWork, env: EventEnvelope) -> int:
    """crm.sales.ownership.transferred: the listed accounts and contacts go to the new owner."""
    payload = unpack(env)
    if payload is None:
        return 0
    from_user, to_user = payload.from_user_id, payload.to_user_id
    if not from_user or not to_user or from_user == to_user:
        return 0
    principal = actor_principal(env)
    reason = f"sales transfer {payload.transfer_id}" + (f": {payload.reason}" if payload.reason else "")
    moved = 0
    for entity, ids in (("account", payload.account_ids), ("contact", payload.contact_ids)):
        for record_id in dict.fromkeys(ids):
            if not usecases.transfer_owner(uow, principal, entity, record_id, from_user, to_user, reason=reason):
                continue
            moved += 1
            if entity == "contact":
                usecases.add_foreign_timeline_entry(
                    uow.session, timeline_feed.owner_changed_entry(env, record_id, from_user, to_user))
    if moved:
        log.info("moved %d customers from %s to %s (sales transfer %s)", moved, from_user, to_user,
                 payload.transfer_id)
    return moved
