"""What bounds one request: the documented maxima (crmkit.limits), NUL refused in any string of a
request, field names that survive the trip through gRPC trailers in any script, the caller's
deadline checked before a commit, and JWT secrets nobody can guess."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.protobuf.struct_pb2 import Struct
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from crm.contacts.v1.contacts_pb2 import Contact, CreateContactRequest
from crm.sales.v1.sales_pb2 import Lead
from crmkit import deadlines, limits
from crmkit.config import DEV_JWT_SECRET, AuthSettings, ConfigError, ServiceSettings
from crmkit.db import Database
from crmkit.errors import DeadlineExceeded, InvalidArgument, decode_field, encode_field
from crmkit.runtime_tables import create_runtime_tables

rows = MetaData()
things = Table("limit_things", rows, Column("seq", Integer, primary_key=True, autoincrement=True),
               Column("value", String(200), nullable=False))


def test_a_list_over_its_maximum_is_refused_naming_the_field():
    limits.check_count("phones", ["1"] * limits.MAX_PHONES, limits.MAX_PHONES)  # the maximum itself is fine
    with pytest.raises(InvalidArgument) as refused:
        limits.check_count("phones", ["1"] * (limits.MAX_PHONES + 1), limits.MAX_PHONES)
    assert refused.value.field == "phones" and refused.value.details["maximum"] == limits.MAX_PHONES
    assert f"at most {limits.MAX_PHONES}" in refused.value.message


def test_a_text_over_its_maximum_length_is_refused_counting_characters_not_bytes():
    limits.check_length("notes", "备" * limits.MAX_NOTES, limits.MAX_NOTES)  # 3 bytes each, still fine
    limits.check_length("notes", None, limits.MAX_NOTES)
    with pytest.raises(InvalidArgument) as refused:
        limits.check_length("notes", "x" * (limits.MAX_NOTES + 1), limits.MAX_NOTES)
    assert refused.value.field == "notes"


def test_nul_in_any_string_of_a_request_is_found_by_its_path():
    assert limits.nul_field(Contact(name="李雷", social={"wechat": "li"})) is None
    assert limits.nul_field(Contact(name="a\x00b")) == "name"
    contact = Contact(name="ok")
    contact.phones.add(number="123")
    contact.phones.add(number="1\x002")
    assert limits.nul_field(CreateContactRequest(contact=contact)) == "contact.phones[1].number"
    tagged = Contact(tags=["vip", "x\x00"])
    assert limits.nul_field(tagged) == "tags[1]"
    assert limits.nul_field(Contact(social={"wechat": "l\x00i"})) == "social.wechat"


def test_nul_inside_custom_fields_names_the_key():
    custom = Struct()
    custom.update({"行业": "制造\x00业", "nested": {"deep": ["a", "b\x00"]}})
    contact = Contact(name="ok")
    contact.custom_fields.CopyFrom(custom)
    assert limits.nul_field(contact) in ("custom_fields.行业", "custom_fields.nested.deep[1]")  # map order
    del contact.custom_fields["行业"]
    with pytest.raises(InvalidArgument) as refused:
        limits.refuse_nul(contact)
    assert refused.value.field == "custom_fields.nested.deep[1]"
    assert limits.nul_field(Lead(name="王", company="公司")) is None


@pytest.mark.parametrize("name", ["budget", "custom_fields.键", "custom_fields.100%", "a b\nc", "phones[2].number"])
def test_a_field_name_survives_the_trailer_in_any_script(name):
    wire = encode_field(name)
    assert wire.isascii() and all(0x20 <= ord(c) < 0x7F for c in wire)
    assert decode_field(wire) == name
    assert decode_field(None) == "" and decode_field(b"bin") == ""


def test_an_ascii_field_name_reads_the_same_on_the_wire():
    assert encode_field("contact.phones[0].number") == "contact.phones[0].number"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.engine.begin() as conn:
        create_runtime_tables(conn)
        rows.create_all(conn)
    yield database
    database.dispose()


def _count(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(things)).scalar_one())


def test_a_write_whose_caller_gave_up_is_rolled_back_not_committed(db: Database):
    token = deadlines.set_deadline(-0.01)  # the caller's deadline has passed while we worked
    try:
        with pytest.raises(DeadlineExceeded), db.unit_of_work() as uow:
            uow.session.execute(insert(things), {"value": "late"})
            uow.commit()
    finally:
        deadlines.reset_deadline(token)
    assert _count(db) == 0


def test_a_write_with_time_left_or_without_a_deadline_commits(db: Database):
    token = deadlines.set_deadline(30.0)
    try:
        with db.unit_of_work() as uow:
            uow.session.execute(insert(things), {"value": "in time"})
            uow.commit()
    finally:
        deadlines.reset_deadline(token)
    with db.unit_of_work() as uow:  # an event handler or a job: no caller, no deadline
        uow.session.execute(insert(things), {"value": "background"})
        uow.commit()
    assert _count(db) == 2 and deadlines.remaining() is None


@pytest.mark.parametrize("secret", ["short", "x" * 31, DEV_JWT_SECRET, "CHANGE-ME"])
def test_a_guessable_jwt_secret_stops_the_process_at_start(secret):
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        AuthSettings.from_env({"JWT_SECRET": secret})


def test_a_generated_jwt_secret_is_accepted():
    secret = "k" * 32
    assert AuthSettings.from_env({"JWT_SECRET": secret}).jwt_secret == secret
    assert AuthSettings.from_env({"JWT_JWKS_URL": "https://idp.example/jwks"}).jwt_secret is None


def test_a_service_does_not_start_with_the_published_development_secret():
    env = {"DATABASE_URL": "sqlite:///x.db", "NATS_URL": "nats://127.0.0.1:4222", "JWT_SECRET": DEV_JWT_SECRET}
    with pytest.raises(ConfigError, match="example secret"):
        ServiceSettings.from_env("contacts", env)
    assert ServiceSettings.from_env("contacts", {**env, "JWT_SECRET": "g" * 48}).auth.jwt_secret == "g" * 48
