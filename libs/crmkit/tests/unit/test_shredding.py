"""Crypto-shredding (crmkit.shredding): what leaves a producer carries no readable personal field,
the key opens exactly its own event, and without the key a consumer gets the rest of the payload
and the marker."""
from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1 import events_pb2 as cev
from crm.marketing.v1 import events_pb2 as mev
from crm.support.v1 import events_pb2 as sev
from crm.support.v1 import support_pb2 as spb
from crmkit import shredding
from crmkit.auth import Principal
from crmkit.db import Database
from crmkit.events import Emitter, EventTypes, parse_envelope, unpack_payload
from crmkit.runtime_tables import create_runtime_tables, subject_key_row
from crmkit.testing import fresh_postgres_database, postgres_reachable

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
emit = Emitter("contacts", EventTypes(cev.EventType))
PERSONAL_BYTES = (b"li.lei@tjport.example", "李雷".encode(), b"+8613800138000", "滨海新区".encode(), "港务总监".encode())


def _contact(contact_id: str = "c-0001") -> cpb.Contact:
    return cpb.Contact(id=contact_id, name="李雷", title="港务总监", owner_id="rep.north.1", region="north", version=1,
                       emails=[cpb.Email(address="li.lei@tjport.example")],
                       phones=[cpb.Phone(number="+8613800138000", kind="mobile")],
                       addresses=[cpb.Address(city="天津", street="滨海新区 港湾路 1 号")],
                       consents=[cpb.Consent(purpose="marketing_email", granted=True, evidence="ip 10.1.2.3")],
                       tags=["vip"])


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Both engines: on PostgreSQL a batch's keys take another path (one insert, RETURNING)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'producer.db'}"
        elif postgres_reachable():
            url = stack.enter_context(fresh_postgres_database("crm_shredding"))
        else:
            pytest.skip("PostgreSQL not reachable")
        database = Database(url)
        create_runtime_tables(database.engine)
        yield database
        database.dispose()


@pytest.fixture(autouse=True)
def _no_kek() -> Iterator[None]:
    shredding.settings.use_kek(None)
    yield
    shredding.settings.use_kek(None)


def _emit(db: Database, payload: cev.ContactCreated, aggregate_id: str = "c-0001") -> bytes:
    with db.unit_of_work() as uow:
        envelope = emit(uow, REP, "crm.contacts.contact.created", aggregate_id, 1, payload, NOW)
        uow.commit()
    with db.read() as session:  # what the outbox holds, i.e. what the relay publishes
        from crmkit.runtime_tables import outbox_row
        return session.execute(select(outbox_row.c.payload).where(outbox_row.c.event_id == envelope.event_id)
                               ).scalar_one()


def _keys(db: Database) -> dict[str, bytes]:
    with db.read() as session:
        return {r.key_id: r.key for r in session.execute(select(subject_key_row))}


def test_the_outbox_row_holds_no_personal_field_and_the_key_opens_it(db: Database) -> None:
    original = cev.ContactCreated(contact=_contact())
    data = _emit(db, original)

    for needle in PERSONAL_BYTES + (b"ip 10.1.2.3",):
        assert needle not in data
    env = parse_envelope(data)
    assert env.sealed.key_id == "contacts/contact/c-0001"
    plain = unpack_payload(env)
    assert isinstance(plain, cev.ContactCreated)
    # what routes and counts stays readable
    assert (plain.contact.id, plain.contact.owner_id, plain.contact.region, list(plain.contact.tags)) == (
        "c-0001", "rep.north.1", "north", ["vip"])
    assert plain.contact.consents[0].purpose == "marketing_email" and plain.contact.consents[0].granted
    assert not plain.contact.name and not plain.contact.emails

    keys = _keys(db)
    assert list(keys) == ["contacts/contact/c-0001"]
    shredding.open_envelope(env, keys["contacts/contact/c-0001"])
    assert unpack_payload(env) == original and not env.HasField("sealed")


def test_one_key_per_record_across_its_events(db: Database) -> None:
    _emit(db, cev.ContactCreated(contact=_contact()))
    _emit(db, cev.ContactCreated(contact=_contact()))
    _emit(db, cev.ContactCreated(contact=_contact("c-0002")), aggregate_id="c-0002")
    assert sorted(_keys(db)) == ["contacts/contact/c-0001", "contacts/contact/c-0002"]


def test_a_tampered_block_a_wrong_key_or_another_event_s_block_is_refused(db: Database) -> None:
    env = parse_envelope(_emit(db, cev.ContactCreated(contact=_contact())))
    key = _keys(db)["contacts/contact/c-0001"]

    tampered = EventEnvelope()
    tampered.CopyFrom(env)
    flipped = bytearray(tampered.sealed.ciphertext)
    flipped[3] ^= 0x01
    tampered.sealed.ciphertext = bytes(flipped)
    with pytest.raises(ValueError, match="do not open"):
        shredding.open_envelope(tampered, key)

    wrong = EventEnvelope()
    wrong.CopyFrom(env)
    with pytest.raises(ValueError, match="do not open"):
        shredding.open_envelope(wrong, b"\x00" * 32)

    moved = EventEnvelope()  # the sealed block copied onto another event (the event id is the AD)
    moved.CopyFrom(env)
    moved.event_id = "another-event"
    with pytest.raises(ValueError, match="do not open"):
        shredding.open_envelope(moved, key)


def test_after_the_key_is_destroyed_the_event_opens_to_the_rest_and_the_marker(db: Database) -> None:
    data = _emit(db, cev.ContactCreated(contact=_contact()))
    with db.unit_of_work() as uow:
        assert shredding.destroy(uow.session, ["c-0001"]) == 1
        assert shredding.destroy(uow.session, ["c-0001"]) == 0  # idempotent
        uow.commit()
    assert _keys(db) == {}

    env = parse_envelope(data)
    with db.read() as session:
        opened = parse_envelope(shredding.open_local(session, data))
    for got in (opened, env):
        if got is env:
            shredding.open_envelope(env, None)
        assert shredding.erased(got) and got.sealed.key_id == "contacts/contact/c-0001"
        assert not got.sealed.ciphertext
        payload = unpack_payload(got)
        assert payload.contact.id == "c-0001" and payload.contact.region == "north"
        assert not payload.contact.name and not payload.contact.emails and not payload.contact.phones


def test_nested_and_repeated_personal_fields_keep_their_places() -> None:
    ticket = spb.Ticket(id="t-1", status="open", requester_email="li.lei@tjport.example", requester_name="李雷",
                        subject="集装箱 延误", priority="high")
    event = sev.TicketCommented(ticket=ticket, comment=spb.Comment(id="m-1", body="我是李雷, 电话 13800138000"))
    plain = sev.TicketCommented()
    plain.CopyFrom(event)
    personal = shredding.split(plain)
    assert personal is not None
    assert plain.ticket.status == "open" and plain.ticket.priority == "high" and plain.comment.id == "m-1"
    assert b"13800138000" not in plain.SerializeToString() and "李雷".encode() not in plain.SerializeToString()
    shredding.join(plain, personal)
    assert plain == event

    merged = cev.ContactsMerged(survivor=_contact(), merged_ids=["c-9"])
    plain_merged = cev.ContactsMerged()
    plain_merged.CopyFrom(merged)
    part = shredding.split(plain_merged)
    assert part is not None and list(plain_merged.merged_ids) == ["c-9"]
    shredding.join(plain_merged, part)
    assert plain_merged == merged

    nothing = cev.SegmentCreated(segment=cpb.Segment(id="s-1", name="天津 VIP"))
    assert shredding.split(nothing) is None  # a segment names no person: sent as it is


@pytest.mark.parametrize("consents", [False, True], ids=["appended", "joined by parts"])
def test_an_event_opens_to_exactly_what_it_was_sealed_from(db: Database, consents: bool) -> None:
    # Without consents the block is appended to the payload as bytes; with them (a consent's evidence
    # sealed element by element) it is joined field by field. Both must give the payload as sent.
    contact = _contact()
    contact.social["wechat"] = "lilei_tj"
    contact.custom_fields.update({"vip_since": "2019", "score": 7.0})
    contact.social_identities.add(platform="wechat", app_id="wx1", kind="openid", value="o-abc")
    if not consents:
        del contact.consents[:]
    sent = cev.ContactCreated(contact=contact)
    env = parse_envelope(_emit(db, sent))
    assert shredding.is_sealed(env) and b"lilei_tj" not in env.SerializeToString()
    shredding.open_envelope(env, _keys(db)[env.sealed.key_id])
    assert not env.HasField("sealed")
    opened = unpack_payload(env)
    assert opened == sent
    assert list(opened.contact.consents) == list(contact.consents)  # no element twice, none lost


def test_a_person_inside_another_aggregate_gets_the_person_s_key(db: Database) -> None:
    marketing = Emitter("marketing", EventTypes(mev.EventType))
    mail = mev.EmailEngagement(wave_id="w-1", campaign_id="camp-1", contact_id="c-0001", email="li.lei@tjport.example")
    with db.unit_of_work() as uow:
        envelope = marketing(uow, REP, "crm.marketing.email.sent", "w-1", 1, mail, NOW)
        uow.commit()
    env = parse_envelope(envelope.data)
    assert env.sealed.key_id == "marketing/contact/c-0001" and env.aggregate_id == "w-1"
    assert b"li.lei" not in envelope.data
    with db.unit_of_work() as uow:  # erasing the contact destroys it, the wave's other mails stay
        assert shredding.destroy(uow.session, ["c-0001"]) == 1
        uow.commit()


def test_with_a_kek_the_stored_key_is_wrapped_and_still_opens(db: Database) -> None:
    kek = bytes(range(32))
    shredding.settings.use_kek(kek)
    data = _emit(db, cev.ContactCreated(contact=_contact()))
    with db.read() as session:
        row = session.execute(select(subject_key_row)).one()
        assert row.wrapped == 1 and len(row.key) == 12 + 32 + 16
        opened = parse_envelope(shredding.open_local(session, data))
    assert unpack_payload(opened).contact.name == "李雷"

    shredding.settings.use_kek(None)  # a wrapped key without the KEK is a configuration error
    with db.read() as session, pytest.raises(Exception, match="SUBJECT_KEYS_KEK"):
        shredding.open_local(session, data)


def test_a_malformed_kek_fails_fast_naming_the_variable() -> None:
    from crmkit.config import ConfigError

    with pytest.raises(ConfigError, match="SUBJECT_KEYS_KEK"):
        shredding._kek_from_env({"SUBJECT_KEYS_KEK": base64.b64encode(b"short").decode()})
    assert shredding._kek_from_env({"SUBJECT_KEYS_KEK": base64.b64encode(b"k" * 32).decode()}) == b"k" * 32


def test_the_unit_of_work_hands_its_events_opened_and_the_outbox_keeps_them_sealed(db: Database) -> None:
    with db.unit_of_work() as uow:
        emit(uow, REP, "crm.contacts.contact.created", "c-0001", 1, cev.ContactCreated(contact=_contact()), NOW)
        uow.commit()
    [event] = uow.events
    assert unpack_payload(parse_envelope(event.data)).contact.name == "李雷"


def test_keys_for_a_batch_are_the_ones_each_event_then_uses(db: Database) -> None:
    with db.unit_of_work() as uow:
        shredding.key_for(uow.session, "contacts/contact/c-0001", "c-0001")  # one exists already
        uow.commit()
    before = _keys(db)["contacts/contact/c-0001"]
    with db.unit_of_work() as uow:
        shredding.key_for_many(uow.session, {f"contacts/contact/c-000{i}": f"c-000{i}" for i in range(1, 4)})
        for i in range(1, 4):
            emit(uow, REP, "crm.contacts.contact.created", f"c-000{i}", 1,
                 cev.ContactCreated(contact=_contact(f"c-000{i}")), NOW)
        uow.commit()
    keys = _keys(db)
    assert sorted(keys) == [f"contacts/contact/c-000{i}" for i in range(1, 4)] and keys["contacts/contact/c-0001"] == before
    with db.read() as session:
        from crmkit.runtime_tables import outbox_row
        for data in session.execute(select(outbox_row.c.payload)).scalars():
            assert unpack_payload(parse_envelope(shredding.open_local(session, data))).contact.name == "李雷"


def test_a_batch_s_new_keys_are_wrapped_under_the_kek_and_open_their_events(db: Database) -> None:
    shredding.settings.use_kek(bytes(range(32)))
    with db.unit_of_work() as uow:
        shredding.key_for(uow.session, "contacts/contact/c-0001", "c-0001")  # one exists already
        uow.commit()
    with db.unit_of_work() as uow:
        shredding.key_for_records(uow.session, "contacts", "contact", [f"c-000{i}" for i in range(1, 5)])
        for i in range(1, 5):
            emit(uow, REP, "crm.contacts.contact.created", f"c-000{i}", 1,
                 cev.ContactCreated(contact=_contact(f"c-000{i}")), NOW)
        uow.commit()
    with db.read() as session:
        rows = list(session.execute(select(subject_key_row)))
        assert len(rows) == 4 and all(r.wrapped == 1 and r.record_id == r.key_id.rsplit("/", 1)[1] for r in rows)
        from crmkit.runtime_tables import outbox_row
        opened = [unpack_payload(parse_envelope(shredding.open_local(session, data)))
                  for data in session.execute(select(outbox_row.c.payload)).scalars()]
    assert sorted(e.contact.id for e in opened) == [f"c-000{i}" for i in range(1, 5)]
    assert all(e.contact.name == "李雷" for e in opened)
