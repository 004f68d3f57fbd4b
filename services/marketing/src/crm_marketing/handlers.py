"""Events from other services' streams (the consumer owns the transaction and the inbox, so each
event takes effect once):

- CONTACTS: every contact event carries the snapshot after the change, consent changes included,
  so one rule serves them all: the newest version wins in marketing's projection (a consumer
  batch's runs of snapshots in bulk: `batch_handler`);
- SALES: a lead sent back for nurturing joins the nurturing sequences; a lead converted or an
  opportunity won ends the contact's sequences (converted);
- SUPPORT: a ticket opened by email ends the contact's sequences (replied); a WeChat follower who
  came through a campaign's QR code (its scene value: the campaign's slug or id) is a touch of
  that campaign (kind wechat_follow, or wechat_scan for a follower's scan);
- and any event type an active rule counts (RuleTypes): a touch for each contact it is about,
  which evaluates the rules in the same transaction."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import events_pb2 as ce
from crm.sales.v1 import events_pb2 as se
from crm.support.v1 import events_pb2 as te
from crm_marketing.metrics import NURTURE_UNMATCHED
from crm_marketing.rules import sequences as sequence_rules
from crm_marketing.rules import triggers
from crm_marketing.store import projection as projection_store
from crm_marketing.store import records as records_store
from crm_marketing.usecases import automation_rules, engagement, projection, sequences
from crmkit import logs
from crmkit.db import Database, UnitOfWork
from crmkit.event_runs import BatchHandler, Handler, in_runs
from crmkit.events import EventTypes, unpack_payload
from crmkit.records import dt

log = logs.get("crm_marketing.handlers")
STREAMS = ("contacts", "sales", "support")  # the producers whose streams marketing consumes (durable marketing)
# Importing the modules also registers the payload types for unpacking.
CONTACTS, SALES, SUPPORT = EventTypes(ce.EventType), EventTypes(se.EventType), EventTypes(te.EventType)
SNAPSHOTS = frozenset({CONTACTS.CONTACT_CREATED, CONTACTS.CONTACT_UPDATED, CONTACTS.CONTACT_TAGGED,
                       CONTACTS.CONTACT_DELETED, CONTACTS.CONSENT_CHANGED})
CONTACT_EVENTS = SNAPSHOTS | {CONTACTS.CONTACT_MERGED}
EXITS = frozenset({SALES.LEAD_CONVERTED, SALES.OPPORTUNITY_WON, SUPPORT.TICKET_CREATED})
WANTED = CONTACT_EVENTS | EXITS | {SALES.LEAD_NURTURING, SUPPORT.CHANNEL_FOLLOWED}
_SNAPSHOT_PAYLOADS = (ce.ContactCreated, ce.ContactUpdated, ce.ContactTagged, ce.ContactDeleted, ce.ConsentChanged)


def _contact_event(uow: UnitOfWork, kind: str, env: EventEnvelope, now: datetime) -> None:
    payload = unpack_payload(env)
    if isinstance(payload, ce.ContactsMerged):
        projection.apply_contact(uow.session, payload.survivor, now)
        projection.merged_away(uow.session, [i for i in payload.merged_ids if i != payload.survivor.id], now)
        return
    if not isinstance(payload, _SNAPSHOT_PAYLOADS):
        raise ValueError(f"{kind} carries a {type(payload).__name__}, not a contact snapshot")
    projection.apply_contact(uow.session, payload.contact, now, deleted=kind == CONTACTS.CONTACT_DELETED)


def _snapshot_run(uow: UnitOfWork, envs: Sequence[EventEnvelope], now: datetime, counted: frozenset[str]) -> None:
    """`handle` of a run of snapshots, each contact once (crmkit.event_runs): the projection in bulk,
    then each event's touch in stream order. A touch reads only its own contact's row, which
    holds by then what it held after that event one by one."""
    snapshots = []
    for env in envs:
        payload = unpack_payload(env)
        if not isinstance(payload, _SNAPSHOT_PAYLOADS):
            raise ValueError(f"{env.event_type} carries a {type(payload).__name__}, not a contact snapshot")
        snapshots.append((payload.contact, env.event_type == CONTACTS.CONTACT_DELETED))
    projection.apply_snapshots(uow.session, snapshots, now)
    for env in envs:
        if env.event_type in counted:
            _touch(uow, env, now)


def _known(uow: UnitOfWork, contact_id: str, email: str) -> list[str]:
    """The marketing contacts an event names: its contact id, and the contact of its email."""
    found = [contact_id] if contact_id else []
    by_email = projection_store.contact_by_email(uow.session, email) if email else None
    if by_email and by_email not in found:
        found.append(by_email)
    return found


def _nurturing(uow: UnitOfWork, payload: se.LeadSentToNurturing, now: datetime) -> None:
    lead = payload.lead
    contact_ids = _known(uow, lead.converted_contact_id, lead.email)
    if not contact_ids:  # a lead marketing cannot mail: nobody to nurture here
        NURTURE_UNMATCHED.inc()
        log.info("lead %s sent to nurturing has no contact marketing knows", lead.id)
        return
    for contact_id in contact_ids:
        sequences.enrol_nurturing(uow, contact_id=contact_id, lead_id=lead.id, now=now)


def _exit(uow: UnitOfWork, kind: str, env: EventEnvelope, now: datetime) -> None:
    payload = unpack_payload(env)
    if isinstance(payload, se.LeadConverted):
        ids, reason = _known(uow, payload.contact_id, payload.lead.email), sequence_rules.CONVERTED
    elif isinstance(payload, se.OpportunityClosed):
        ids, reason = _known(uow, payload.opportunity.contact_id, ""), sequence_rules.CONVERTED
    elif isinstance(payload, te.TicketCreated):
        if payload.ticket.channel != "email":
            return
        ids, reason = _known(uow, payload.ticket.contact_id, payload.ticket.requester_email), sequence_rules.REPLIED
    else:
        raise ValueError(f"{kind} carries a {type(payload).__name__}")
    for contact_id in ids:
        sequences.exit_contact(uow, contact_id=contact_id, reason=reason, now=now)


def _followed(uow: UnitOfWork, env: EventEnvelope, now: datetime) -> None:
    payload = unpack_payload(env)
    if not isinstance(payload, te.ChannelFollowed):
        raise ValueError(f"{env.event_type} carries a {type(payload).__name__}")
    if not payload.scene:
        return  # followed without a campaign's code
    campaign_id = records_store.campaign_by_scene(uow.session, payload.scene)
    if campaign_id is None:
        log.info("WeChat scene %r names no campaign", payload.scene)
        return
    at = dt(payload.at) if payload.HasField("at") else now
    engagement.record(uow, now=now, kind="wechat_follow" if payload.new_follower else "wechat_scan",
                      contact_id=payload.contact_id, visitor_id=f"wx:{payload.external_user_id}"[:64],
                      campaign_id=campaign_id, ref=env.event_id, at=at)


def handle(uow: UnitOfWork, env: EventEnvelope, *, now: datetime, counted: frozenset[str] = frozenset()) -> None:
    kind = env.event_type
    if kind in CONTACT_EVENTS:
        _contact_event(uow, kind, env, now)
    elif kind == SALES.LEAD_NURTURING:
        payload = unpack_payload(env)
        if not isinstance(payload, se.LeadSentToNurturing):
            raise ValueError(f"{kind} carries a {type(payload).__name__}")
        _nurturing(uow, payload, now)
    elif kind in EXITS:
        _exit(uow, kind, env, now)
    elif kind == SUPPORT.CHANNEL_FOLLOWED:
        _followed(uow, env, now)
    if kind in counted:
        _touch(uow, env, now)


def _touch(uow: UnitOfWork, env: EventEnvelope, now: datetime) -> None:
    """A touch of each contact the event is about, at the time it happened."""
    ids, emails = triggers.about(unpack_payload(env))
    found = list(ids)
    for email in emails:
        by_email = projection_store.contact_by_email(uow.session, email)
        if by_email and by_email not in found:
            found.append(by_email)
    at = dt(env.occurred_at) if env.HasField("occurred_at") else now
    for contact_id in found:
        engagement.record(uow, now=now, kind=env.event_type, contact_id=contact_id, ref=env.event_id, at=at)


class RuleTypes:
    """The event types the active rules count, re-read at most every `ttl` seconds (and at once
    after this process saved a rule). Built by `spec()`, bound to the database by `compose`."""

    def __init__(self, ttl: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._monotonic = ttl, monotonic
        self._db: Database | None = None
        self._types: frozenset[str] = frozenset()
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def bind(self, db: Database) -> RuleTypes:
        self._db, self._read_at = db, None
        return self

    def invalidate(self) -> None:
        self._read_at = None

    def get(self) -> frozenset[str]:
        if self._db is None:
            return frozenset()
        with self._lock:
            if self._read_at is None or self._monotonic() - self._read_at > self.ttl:
                with self._db.read() as session:
                    self._types = automation_rules.referenced_types(session) & triggers.OTHERS
                self._read_at = self._monotonic()
            return self._types

    def wants(self, event_type: str) -> bool:
        """The events `handle` acts on; the consumer acks the others untouched."""
        return event_type in WANTED or event_type in self.get()


def wants(event_type: str) -> bool:
    """The events `handle` acts on whatever the rules (tests)."""
    return event_type in WANTED


def handler(clock: Callable[[], datetime], types: RuleTypes | None = None) -> Handler:
    def handle_one(uow: UnitOfWork, env: EventEnvelope) -> None:
        handle(uow, env, now=clock(), counted=types.get() if types is not None else frozenset())
    return handle_one


def batch_handler(clock: Callable[[], datetime], types: RuleTypes | None = None) -> BatchHandler:
    """A consumer batch at once: runs of SNAPSHOTS in bulk, the rest one by one. A merge stays out:
    it suppresses contacts other than its aggregate, which a run does not keep apart."""
    one = handler(clock, types)

    def many(uow: UnitOfWork, envs: Sequence[EventEnvelope]) -> None:
        _snapshot_run(uow, envs, clock(), types.get() if types is not None else frozenset())

    return in_runs(one, many, SNAPSHOTS)
