"""Crypto-shredding of event payloads: the personal fields of an event travel sealed, under a data
key per personal record that only the producing service keeps; erasing the record deletes the key,
and every copy of its events (stream, replicas, backups) keeps only what routes and counts.

- **What is sealed** (`PERSONAL`, per message type, wherever the type appears in a payload): names,
  emails, phones, addresses, social and WeChat ids, custom field values, consent evidence, and the
  free texts that carry a person's words (an interaction's content, a ticket's subject and
  description, a comment's body, a lead's notes, a task's title). Ids, types, statuses, owners,
  regions, amounts, scores and times stay plain. A company (`Account`) is not a person: its
  events stay plain.
- **Whose key** (`key_id_of`): the event's aggregate (`contacts/contact/<id>`, `sales/lead/<id>`,
  `support/ticket/<id>`), or for an event about a person inside another aggregate (a campaign's
  mail to a contact) the record named by `SUBJECT` (`marketing/contact/<contact id>`).
- **Sealing** (`seal`, called by `crmkit.events.Emitter`): the personal fields move into a message of
  the payload's own type, serialized and encrypted with AES-256-GCM (random 12-byte nonce, the
  event id as associated data) into `EventEnvelope.sealed`. The key is read or created in
  `crm_subject_keys` inside the unit of work that writes the outbox row, so no event is ever
  published under a key that was not committed; with `SUBJECT_KEYS_KEK` (base64 of 32 bytes) it is
  stored wrapped by that key-encryption key.
- **Opening** (`KeyClient`, used by `crmkit.consumer`): a consumer asks the producer's `SubjectKeys`
  service (`<PRODUCER>_SERVICE_ADDR`, service credential) for the keys of a batch, caches them for
  `ttl` seconds, and merges the fields back before handlers see the payload. A key that is gone
  leaves the payload without its personal fields and `sealed.erased` set (`erased(env)`).
- **Erasure** (`destroy`, called by `crmkit.privacy.erase`): deletes the keys of every record the
  service erased or anonymized, in the erasure's transaction; SQLite's file rewrite follows."""
from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from sqlalchemy import LargeBinary, bindparam, delete, select, text
from sqlalchemy.orm import Session

from crm.common.v1 import subject_keys_pb2 as kpb
from crm.common.v1.envelope_pb2 import EventEnvelope, SealedFields
from crm.common.v1.subject_keys_pb2_grpc import SubjectKeysServicer as _SubjectKeysBase
from crm.common.v1.subject_keys_pb2_grpc import SubjectKeysStub, add_SubjectKeysServicer_to_server
from crmkit import logs
from crmkit.config import ConfigError
from crmkit.grpc_client import GrpcPort
from crmkit.runtime_tables import Ts, subject_key_row

log = logs.get("crmkit.shredding")

SERVICE_NAME = kpb.DESCRIPTOR.services_by_name["SubjectKeys"].full_name
KEY_BYTES = 32
NONCE_BYTES = 12
MAX_KEYS_PER_CALL = 500

# The personal fields of each message type, wherever it appears inside a payload.
PERSONAL: Mapping[str, frozenset[str]] = {name: frozenset(fields) for name, fields in {
    "crm.contacts.v1.Contact": ("name", "title", "phones", "emails", "addresses", "social", "social_identities",
                                "custom_fields"),  # a job title, with the name, says who it is (as a lead's does)
    "crm.contacts.v1.Consent": ("evidence",),
    "crm.contacts.v1.Interaction": ("subject", "content"),
    "crm.sales.v1.Lead": ("name", "title", "phone", "email", "notes", "status_reason"),
    "crm.sales.v1.Opportunity": ("name", "decision_maker", "next_step", "description"),  # "<company> - <person>"
    "crm.sales.v1.Quote": ("customer_name", "special_terms", "notes"),
    "crm.sales.v1.Task": ("title", "description"),
    "crm.sales.v1.Reminder": ("message",),
    "crm.support.v1.Ticket": ("subject", "description", "requester_email", "requester_name",
                              "resolution_note", "notice_phone", "attachments"),
    "crm.support.v1.Comment": ("body", "attachments"),
    "crm.support.v1.CsatAnswered": ("comment",),
    "crm.support.v1.ChannelFollowed": ("external_user_id",),
    "crm.marketing.v1.Invitee": ("name", "email", "check_in_code"),
    "crm.marketing.v1.EmailEngagement": ("email",),
    "crm.marketing.v1.FormSubmitted": ("email", "page_url"),
}.items()}

# Payloads whose person is not the event's aggregate: (record type, path of the record's id).
# An empty id falls back to the aggregate.
SUBJECT: Mapping[str, tuple[str, str]] = {
    "crm.marketing.v1.EmailEngagement": ("contact", "contact_id"),
    "crm.marketing.v1.InviteeChanged": ("contact", "invitee.contact_id"),
    "crm.marketing.v1.FormSubmitted": ("contact", "contact_id"),
    "crm.support.v1.ChannelFollowed": ("contact", "contact_id"),
}


class KeysUnavailable(Exception):
    """The producer's SubjectKeys could not be asked: the event waits (never parked for this)."""


# -- splitting a payload into its plain and personal parts ----------------------------------------

# field name -> None (the field is personal, moved whole) | the plan of a message-typed field that
# contains personal fields deeper down.
_Plan = dict[str, "_Plan | None"]
_plans: dict[str, _Plan] = {}


def _plan(descriptor: Any) -> _Plan:  # a Descriptor (pure Python or upb)
    cached = _plans.get(descriptor.full_name)
    if cached is not None:
        return cached
    plan: _Plan = {}
    _plans[descriptor.full_name] = plan  # a recursive type sees itself as planned (possibly empty)
    personal = PERSONAL.get(descriptor.full_name, frozenset())
    for fd in descriptor.fields:
        if fd.name in personal:
            plan[fd.name] = None
        elif fd.message_type is not None and not fd.message_type.GetOptions().map_entry:
            sub = _plan(fd.message_type)
            if sub or fd.message_type.full_name == descriptor.full_name:
                plan[fd.name] = sub
    return plan


def _move(target: Message, fd: FieldDescriptor, value: Any) -> None:
    if fd.is_repeated:
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            getattr(target, fd.name).update(value)
        else:
            getattr(target, fd.name).extend(value)
    elif fd.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(target, fd.name).CopyFrom(value)
    else:
        setattr(target, fd.name, value)


def split(message: Message) -> Message | None:
    """Remove the personal fields from `message` (in place); a message of its type holding them,
    or None when it had none. Repeated messages keep their positions (one part per element)."""
    steps = _steps_of(message.DESCRIPTOR)
    if steps is None:
        return _split(message, _plan(message.DESCRIPTOR))
    return _take(message, steps)


# `split` without ListFields, which builds a wrapper for every field set (a third of sealing an
# event): each planned field is looked at by name, in field-number order, as ListFields lists them.
# A step: (field name, how it is moved, the steps inside a message field with personal fields deeper).
_Step = tuple[str, str, "tuple[_Step, ...]"]
_STEPS: dict[str, tuple[_Step, ...] | None] = {}
_FLOATS = (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE)


def _steps_of(descriptor: Any, compiling: frozenset[str] = frozenset()) -> tuple[_Step, ...] | None:
    """None: the type is recursive or has a float without presence (-0.0 is set but falsy), which
    `_split` handles."""
    name = descriptor.full_name
    if name in _STEPS:
        return _STEPS[name]
    if name in compiling:
        return None
    plan = _plan(descriptor)
    steps: list[_Step] | None = []
    for fd in sorted(descriptor.fields, key=lambda f: f.number):
        if fd.name not in plan or steps is None:
            continue
        sub = plan[fd.name]
        if sub is None:
            if fd.is_repeated:
                how = "map" if fd.message_type is not None and fd.message_type.GetOptions().map_entry else "list"
            elif fd.type == FieldDescriptor.TYPE_MESSAGE:
                how = "message"
            elif fd.has_presence:
                how = "optional"
            elif fd.cpp_type in _FLOATS:
                steps = None
                continue
            else:
                how = "scalar"
            steps.append((fd.name, how, ()))
            continue
        inner = _steps_of(fd.message_type, compiling | {name})
        if inner is None:
            steps = None
            continue
        steps.append((fd.name, "parts" if fd.is_repeated else "part", inner))
    found = None if steps is None else tuple(steps)
    if not compiling:  # a type's answer is final only once its own walk is done
        _STEPS[name] = found
    return found


def _take(message: Message, steps: tuple[_Step, ...]) -> Message | None:
    """`_split` by `_steps_of`: the same fields moved, the same result."""
    personal = type(message)()
    return personal if _take_into(message, steps, personal) else None


def _take_into(message: Message, steps: tuple[_Step, ...], personal: Message) -> bool:
    """Move the personal fields of `message` into `personal` (empty, of its type); whether there
    were any. A message field's personal fields go straight into their place in `personal`:
    taking them apart and copying them in cost another copy of each event's personal data."""
    took = False
    for name, how, inner in steps:
        if how == "scalar":
            value = getattr(message, name)
            if not value:
                continue
            setattr(personal, name, value)
        elif how == "list" or how == "map":
            value = getattr(message, name)
            if not value:
                continue
            if how == "map":
                getattr(personal, name).update(value)
            else:
                getattr(personal, name).extend(value)
        elif how == "message" or how == "optional":
            if not message.HasField(name):
                continue
            if how == "message":
                getattr(personal, name).CopyFrom(getattr(message, name))
            else:
                setattr(personal, name, getattr(message, name))
        elif how == "parts":
            items = getattr(message, name)
            if not items:
                continue
            parts = [_take(item, inner) for item in items]
            if any(p is not None for p in parts):
                took = True
                target = getattr(personal, name)
                for part in parts:
                    element = target.add()
                    if part is not None:
                        element.CopyFrom(part)
            continue
        else:  # "part"
            if message.HasField(name) and _take_into(getattr(message, name), inner, getattr(personal, name)):
                took = True
            continue
        message.ClearField(name)
        took = True
    return took


def _split(message: Message, plan: _Plan) -> Message | None:
    if not plan:
        return None
    personal: Message | None = None
    for fd, value in message.ListFields():
        if fd.name not in plan:
            continue
        sub = plan[fd.name]
        if sub is None:
            personal = personal or type(message)()
            _move(personal, fd, value)
            message.ClearField(fd.name)
        elif fd.is_repeated:
            parts = [_split(item, sub) for item in value]
            if any(p is not None for p in parts):
                personal = personal or type(message)()
                target = getattr(personal, fd.name)
                for part in parts:
                    element = target.add()
                    if part is not None:
                        element.CopyFrom(part)
        else:
            part = _split(value, sub)
            if part is not None:
                personal = personal or type(message)()
                getattr(personal, fd.name).CopyFrom(part)
    return personal


def join(message: Message, personal: Message) -> None:
    """Put the fields `split` removed back into `message`."""
    _join(message, personal, _plan(message.DESCRIPTOR))


def _join(message: Message, personal: Message, plan: _Plan) -> None:
    for fd, value in personal.ListFields():
        if fd.name not in plan:
            continue  # a part made by a contract that sealed more than this one: ignored
        sub = plan[fd.name]
        if sub is None:
            _move(message, fd, value)
        elif fd.is_repeated:
            for target, part in zip(getattr(message, fd.name), value, strict=False):
                _join(target, part, sub)
        else:
            _join(getattr(message, fd.name), value, sub)


def key_id_of(producer: str, aggregate_type: str, aggregate_id: str, payload: Message) -> tuple[str, str]:
    """(key id, record id) of the person an event's personal fields belong to."""
    subject = SUBJECT.get(payload.DESCRIPTOR.full_name)
    if subject is not None:
        record_type, path = subject
        value: Any = payload
        for part in path.split("."):
            value = getattr(value, part)
        if value:
            return f"{producer}/{record_type}/{value}", str(value)
    return f"{producer}/{aggregate_type}/{aggregate_id}", aggregate_id


# -- the keys a producer keeps ---------------------------------------------------------------------


def _kek_from_env(env: Mapping[str, str] | None = None) -> bytes | None:
    env = os.environ if env is None else env
    configured = env.get("SUBJECT_KEYS_KEK", "").strip()
    if not configured:
        return None
    try:
        kek = base64.b64decode(configured, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("SUBJECT_KEYS_KEK must be base64 (of 32 random bytes)") from None
    if len(kek) != KEY_BYTES:
        raise ConfigError("SUBJECT_KEYS_KEK must be base64 of exactly 32 bytes")
    return kek


class _Settings:
    """Read once, at first use: the key-encryption key, and whether producers seal at all (always,
    except in a benchmark measuring what sealing costs)."""

    def __init__(self) -> None:
        self.enabled = True
        self._kek: bytes | None = None
        self._loaded = False
        self._lock = threading.Lock()

    @property
    def kek(self) -> bytes | None:
        if not self._loaded:
            with self._lock:
                self._kek, self._loaded = _kek_from_env(), True
        return self._kek

    def use_kek(self, kek: bytes | None) -> None:
        self._kek, self._loaded = kek, True


settings = _Settings()
_CACHE = "crmkit.shredding.keys"  # the unit of work's keys, by key id, in its session's info


def _wrap(key: bytes, key_id: str, kek: bytes | None) -> tuple[bytes, int]:
    if kek is None:
        return key, 0
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, key, key_id.encode()), 1


def _unwrap(stored: bytes, wrapped: int, key_id: str) -> bytes:
    if not wrapped:
        return stored
    kek = settings.kek
    if kek is None:
        raise ConfigError(f"subject key {key_id} is wrapped: set SUBJECT_KEYS_KEK")
    return AESGCM(kek).decrypt(stored[:NONCE_BYTES], stored[NONCE_BYTES:], key_id.encode())


# Built once: compiling these per create cost more than the encryption (~2 ms against 25 µs).
_GET = select(subject_key_row.c.key_id, subject_key_row.c.key, subject_key_row.c.wrapped).where(
    subject_key_row.c.key_id.in_(bindparam("ids", expanding=True)))
# A key created by two writers at once (an older record's first sealed events): one insert wins and
# both use its key. As text: SQLAlchemy's ON CONFLICT construct has no cache key and was compiled
# again on every execution (~1 ms of CPU per new key).
_INSERT = text('INSERT INTO crm_subject_keys (key_id, record_id, "key", wrapped, created_at) '
               "VALUES (:key_id, :record_id, :key, :wrapped, :created_at) ON CONFLICT (key_id) DO NOTHING"
               ).bindparams(bindparam("key", type_=LargeBinary), bindparam("created_at", type_=Ts))
# PostgreSQL, a batch's keys (a send round's new recipients): all inserted in one statement without
# a read first; RETURNING names those this transaction created, only the others are read.
_INSERT_MANY_PG = text(
    'INSERT INTO crm_subject_keys (key_id, record_id, "key", wrapped, created_at) '
    "SELECT k, r, v, w, :created_at FROM unnest(CAST(:key_ids AS varchar[]), CAST(:record_ids AS varchar[]), "
    "CAST(:keys AS bytea[]), CAST(:wrapped AS integer[])) AS t(k, r, v, w) "
    "ON CONFLICT (key_id) DO NOTHING RETURNING key_id").bindparams(bindparam("created_at", type_=Ts))
_DESTROY = delete(subject_key_row).where(subject_key_row.c.record_id.in_(bindparam("ids", expanding=True)))




def key_for(session: Session, key_id: str, record_id: str) -> bytes:
    """The record's data key, created in this transaction when it has none yet."""
    cache: dict[str, bytes] = session.info.setdefault(_CACHE, {})
    key = cache.get(key_id)
    if key is not None:
        return key
    found = get_keys(session, [key_id])
    key = found.get(key_id)
    if key is None:
        fresh = AESGCM.generate_key(bit_length=256)
        stored, wrapped = _wrap(fresh, key_id, settings.kek)
        result = session.execute(_INSERT, {"key_id": key_id, "record_id": record_id[:100], "key": stored,
                                                    "wrapped": wrapped, "created_at": datetime.now(UTC)})
        key = fresh
        if not getattr(result, "rowcount", 1):  # another writer's insert won: use its key
            key = get_keys(session, [key_id])[key_id]
    cache[key_id] = key
    return key


def key_for_many(session: Session, records: Mapping[str, str]) -> None:
    """`key_for` for a batch (an import): the keys of `records` (key id -> record id) read and the
    missing ones created in two statements (on PostgreSQL one insert of them all, and a read of
    only those that existed), into the unit of work's cache that `seal` reads."""
    cache: dict[str, bytes] = session.info.setdefault(_CACHE, {})
    wanted = {k: r for k, r in records.items() if k not in cache}
    if not wanted:
        return
    if session.get_bind().dialect.name == "postgresql":
        _insert_many_pg(session, wanted, cache)
        return
    found = get_keys(session, list(wanted))
    cache.update(found)
    now, kek = datetime.now(UTC), settings.kek
    rows: list[dict[str, Any]] = []
    for key_id, record_id in wanted.items():
        if key_id not in found:
            key = AESGCM.generate_key(bit_length=256)
            stored, wrapped = _wrap(key, key_id, kek)
            rows.append({"key_id": key_id, "record_id": record_id[:100], "key": stored, "wrapped": wrapped,
                         "created_at": now})
            cache[key_id] = key
    if rows:
        _insert_keys(session, rows)


# _INSERT for the driver's executemany on SQLite: SQLAlchemy built and processed a parameter set
# per key (an import batch makes thousands), more than SQLite took to store it.
_INSERT_SQLITE = ('INSERT INTO crm_subject_keys (key_id, record_id, "key", wrapped, created_at) '
                  "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING")


def _insert_keys(session: Session, rows: list[dict[str, Any]]) -> None:
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite":
        session.execute(_INSERT, rows)
        return
    # each value as _INSERT's typed parameters would send it (the others are untyped: as they are)
    key = LargeBinary().dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    at = Ts.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    # a batch's keys share one created_at (key_for_many's `now`, one object): converted once
    params: list[tuple[Any, ...]] = []
    last: tuple[Any, Any] = (object(), None)
    for r in rows:
        created = r["created_at"]
        if created is not last[0]:
            last = (created, at(created))
        params.append((r["key_id"], r["record_id"], key(r["key"]), r["wrapped"], last[1]))
    conn.exec_driver_sql(_INSERT_SQLITE, params)


def _insert_many_pg(session: Session, wanted: Mapping[str, str], cache: dict[str, bytes]) -> None:
    kek = settings.kek
    fresh = {key_id: AESGCM.generate_key(bit_length=256) for key_id in wanted}
    stored = [_wrap(key, key_id, kek) for key_id, key in fresh.items()]
    created = set(session.execute(_INSERT_MANY_PG, {
        "key_ids": list(fresh), "record_ids": [wanted[k][:100] for k in fresh], "keys": [s for s, _ in stored],
        "wrapped": [w for _, w in stored], "created_at": datetime.now(UTC)}).scalars())
    cache.update((key_id, key) for key_id, key in fresh.items() if key_id in created)
    existing = [key_id for key_id in fresh if key_id not in created]  # older, or a concurrent writer's won
    if existing:
        cache.update(get_keys(session, existing))


def key_for_records(session: Session, producer: str, record_type: str, record_ids: Iterable[str],
                    payload_type: type[Message] | None = None) -> None:
    """`key_for_many` for records of one type, named as `key_id_of` names them: a batch of events
    about many people (an import batch, a send round's `email.sent`) then seals with one read and
    one insert instead of up to three statements per record. With `payload_type`, nothing is made
    when that payload has no personal fields (it would never be sealed)."""
    if not settings.enabled or (payload_type is not None and not _plan(payload_type.DESCRIPTOR)):
        return
    key_for_many(session, {f"{producer}/{record_type}/{r}": r for r in record_ids if r})


def get_keys(session: Session, key_ids: Sequence[str]) -> dict[str, bytes]:
    """The keys this database holds among `key_ids` (an erased one is simply absent)."""
    out: dict[str, bytes] = {}
    ids = sorted(set(key_ids))
    for start in range(0, len(ids), MAX_KEYS_PER_CALL):
        rows = session.execute(_GET, {"ids": ids[start:start + MAX_KEYS_PER_CALL]})
        for key_id, stored, wrapped in rows:
            out[key_id] = _unwrap(stored, wrapped, key_id)
    return out


def destroy(session: Session, record_ids: Iterable[str]) -> int:
    """Delete the keys of these records (erasure): their events' personal fields become unreadable
    everywhere. Repeatable: a second run deletes nothing."""
    ids = sorted({r for r in record_ids if r})
    total = 0
    for start in range(0, len(ids), MAX_KEYS_PER_CALL):
        result = session.execute(_DESTROY, {"ids": ids[start:start + MAX_KEYS_PER_CALL]})
        total += getattr(result, "rowcount", 0) or 0
    return total


# -- sealing and opening -------------------------------------------------------------------------


def seal(session: Session, *, producer: str, event_id: str, aggregate_type: str, aggregate_id: str,
         payload: Message) -> tuple[Message, SealedFields | None]:
    """(the payload without its personal fields, the sealed block) or (payload, None) when it has
    none. `payload` itself is left as it was."""
    if not settings.enabled or not _plan(payload.DESCRIPTOR):
        return payload, None
    plain = type(payload)()
    plain.CopyFrom(payload)
    personal = split(plain)
    if personal is None:
        return payload, None
    key_id, record_id = key_id_of(producer, aggregate_type, aggregate_id, payload)
    key = key_for(session, key_id, record_id)
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, personal.SerializeToString(), event_id.encode())
    return plain, SealedFields(key_id=key_id, nonce=nonce, ciphertext=ciphertext)


def is_sealed(env: EventEnvelope) -> bool:
    return env.HasField("sealed") and bool(env.sealed.ciphertext)


def erased(env: EventEnvelope) -> bool:
    """The event's personal fields are gone for good (their record was erased): what the payload
    still has is ids, types, statuses, amounts and times."""
    return env.HasField("sealed") and env.sealed.erased


def open_envelope(env: EventEnvelope, key: bytes | None) -> None:
    """Merge the sealed fields back into `env.payload` (in place), or, without the key, mark the
    event erased. A key that does not open the block (tampered, or not this event's) raises."""
    if not is_sealed(env):
        return
    if key is None:
        key_id = env.sealed.key_id
        env.sealed.Clear()
        env.sealed.key_id, env.sealed.erased = key_id, True
        return
    try:
        data = AESGCM(key).decrypt(env.sealed.nonce, env.sealed.ciphertext, env.event_id.encode())
    except InvalidTag:
        raise ValueError(f"sealed fields of event {env.event_id} do not open with key {env.sealed.key_id}") from None
    if not _appends(env.payload.TypeName(), data):
        from crmkit.events import unpack_payload  # events imports this module

        payload = unpack_payload(env)
        join(payload, type(payload).FromString(data))
        env.payload.Pack(payload)
    else:
        env.payload.value += data
    env.ClearField("sealed")


def _appends(type_name: str, data: bytes) -> bool:
    """Whether the sealed block joins its payload by appending its bytes to the payload's: a
    message parsed from two serialized halves is their merge (scalars and whole fields set, nested
    messages merged, lists and maps extended), which is `join` for every field `split` moves whole.
    Not for a repeated message split element by element ("parts": a consent's evidence), which
    merging would append as new elements: when the block holds such parts, `join` it is. Opening
    by bytes skips unpacking and packing the payload, most of a consumer's cost per event."""
    from crmkit.events import message_class  # events imports this module

    kind = message_class(type_name)
    steps = _steps_of(kind.DESCRIPTOR)
    if steps is None:  # recursive, or a float without presence: the general way
        return False
    with_parts = _WITH_PARTS.get(type_name)
    if with_parts is None:
        with_parts = _WITH_PARTS[type_name] = _with_parts(steps)
    return not with_parts or not _parts_in(kind.FromString(data), steps)


_WITH_PARTS: dict[str, bool] = {}  # by payload type: whether its split can make parts at all


def _with_parts(steps: tuple[_Step, ...]) -> bool:
    return any(how == "parts" or (how == "part" and _with_parts(inner)) for _, how, inner in steps)


def _parts_in(message: Message, steps: tuple[_Step, ...]) -> bool:
    for name, how, inner in steps:
        if how == "parts" and len(getattr(message, name)):
            return True
        if how == "part" and message.HasField(name) and _parts_in(getattr(message, name), inner):
            return True
    return False


def open_local(session: Session, data: bytes) -> bytes:
    """The envelope bytes with the sealed fields opened from this database's own keys (a service
    reading its own events: contacts' search index fed by its relay)."""
    env = EventEnvelope.FromString(data)
    if not is_sealed(env):
        return data
    open_envelope(env, get_keys(session, [env.sealed.key_id]).get(env.sealed.key_id))
    return env.SerializeToString()


# -- the SubjectKeys service and its client --------------------------------------------------------


class SubjectKeysServicer(_SubjectKeysBase):
    """Served by every service beside its own API: another service's consumer (and only a service:
    the `service` role of a service credential, not an admin) asks for the keys of its batch."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def GetSubjectKeys(self, request: kpb.GetSubjectKeysRequest, context: Any) -> kpb.GetSubjectKeysResponse:  # noqa: N802
        from crmkit.auth import current_principal
        from crmkit.errors import InvalidArgument, PermissionDenied

        if "service" not in current_principal().roles:
            raise PermissionDenied("subject keys are for services only")
        if len(request.key_ids) > MAX_KEYS_PER_CALL:
            raise InvalidArgument(f"at most {MAX_KEYS_PER_CALL} key ids per call", field="key_ids")
        with self.db.read() as session:
            keys = get_keys(session, list(request.key_ids))
        return kpb.GetSubjectKeysResponse(
            keys=[kpb.SubjectKey(key_id=k, key=v) for k, v in sorted(keys.items())],
            erased=sorted(set(request.key_ids) - set(keys)))


def registration(db: Any) -> Callable[[grpc.Server], None]:
    def register(server: grpc.Server) -> None:
        add_SubjectKeysServicer_to_server(SubjectKeysServicer(db), server)
    return register


class _KeysPort(GrpcPort):
    stub = SubjectKeysStub


# Services started in this process (tests run several in one), by name: where to ask when the
# environment names no `<PRODUCER>_SERVICE_ADDR`.
local_addresses: dict[str, str] = {}


def producer_of(key_id: str) -> str:
    return key_id.split("/", 1)[0]


class KeyClient:
    """A consumer's keys: asked of each producer in one call per batch, kept `ttl` seconds (an
    erased key is forgotten by every consumer within that time), the answer "erased" included."""

    def __init__(self, authorization: Callable[[], str], *, env: Mapping[str, str] | None = None,
                 ttl: float = 30.0, timeout: float = 3.0, retry_after: float = 2.0) -> None:
        self._authorization = authorization
        self._env = os.environ if env is None else env
        self.ttl = ttl
        self.timeout = timeout
        self._ports: dict[str, _KeysPort] = {}
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        # A producer that just failed is not asked again for `retry_after` seconds: its events wait
        # (nak) at once instead of each spending `timeout` on the call, so a consumer whose stream
        # holds many of them keeps applying everything else.
        self.retry_after = retry_after
        self._down_until: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self.calls = 0  # how many times a producer was asked (tests and metrics read it)

    def cached(self, key_ids: Iterable[str]) -> tuple[dict[str, bytes | None], list[str]]:
        """(the keys known and fresh, the key ids to ask for)."""
        now = time.monotonic()
        known: dict[str, bytes | None] = {}
        missing: list[str] = []
        with self._lock:
            for key_id in key_ids:
                hit = self._cache.get(key_id)
                if hit is not None and hit[0] > now:
                    known[key_id] = hit[1]
                elif key_id not in missing:
                    missing.append(key_id)
        return known, missing

    def fetch(self, key_ids: Sequence[str]) -> dict[str, bytes | None]:
        """Keys by id, None for an erased one; KeysUnavailable when a producer cannot be asked."""
        known, missing = self.cached(key_ids)
        by_producer: dict[str, list[str]] = {}
        for key_id in missing:
            by_producer.setdefault(producer_of(key_id), []).append(key_id)
        for producer, ids in by_producer.items():
            for start in range(0, len(ids), MAX_KEYS_PER_CALL):
                known.update(self._ask(producer, ids[start:start + MAX_KEYS_PER_CALL]))
        return known

    def _port(self, producer: str) -> _KeysPort:
        port = self._ports.get(producer)
        if port is None:
            addr = self._env.get(f"{producer.upper()}_SERVICE_ADDR") or local_addresses.get(producer)
            if not addr:
                raise KeysUnavailable(f"{producer.upper()}_SERVICE_ADDR is not set: cannot open {producer}'s events")
            port = self._ports[producer] = _KeysPort(addr, timeout=self.timeout)
        return port

    def _ask(self, producer: str, ids: list[str]) -> dict[str, bytes | None]:
        down = self._down_until.get(producer)
        if down is not None and down[0] > time.monotonic():
            raise KeysUnavailable(down[1])
        try:
            answer = self._port(producer).client.call(
                "GetSubjectKeys", kpb.GetSubjectKeysRequest(key_ids=ids),
                metadata=(("authorization", self._authorization()),))
        except grpc.RpcError as exc:
            reason = f"{producer} SubjectKeys: {exc.code().name}"
            self._down_until[producer] = (time.monotonic() + self.retry_after, reason)
            raise KeysUnavailable(reason) from None
        self._down_until.pop(producer, None)
        self.calls += 1
        out: dict[str, bytes | None] = dict.fromkeys(ids)
        out.update({k.key_id: k.key for k in answer.keys})
        expires = time.monotonic() + self.ttl
        with self._lock:
            for key_id, key in out.items():
                self._cache[key_id] = (expires, key)
            if len(self._cache) > 100_000:  # bounded: drop what expired
                now = time.monotonic()
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return out

    def open_all(self, envs: Sequence[EventEnvelope]) -> None:
        """Open every sealed envelope of a batch in place (one call per producer at most)."""
        sealed = [e for e in envs if is_sealed(e)]
        if not sealed:
            return
        keys = self.fetch([e.sealed.key_id for e in sealed])
        for env in sealed:
            open_envelope(env, keys.get(env.sealed.key_id))
