"""A settings document is None until saved, then round-trips, and a second save replaces it."""
from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, create_engine
from sqlalchemy.orm import Session

from crm.common.v1.types_pb2 import Money
from crmkit.settings_store import SettingsDocument

metadata = MetaData()
settings = Table("settings", metadata, Column("key", String(20), primary_key=True),
                 Column("version", Integer, nullable=False), Column("data", LargeBinary, nullable=False))


def test_a_settings_document_is_absent_until_saved_and_a_second_save_replaces_the_first() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    document = SettingsDocument(settings, "demo", Money)
    other = SettingsDocument(settings, "other", Money)
    with Session(engine) as session:
        assert document.load(session) is None
        document.save(session, Money(currency_code="CNY", amount="1.00"))
        document.save(session, Money(currency_code="EUR", amount="2.50"))
        other.save(session, Money(currency_code="USD", amount="9"))
        assert document.load(session) == Money(currency_code="EUR", amount="2.50")
        assert other.load(session) == Money(currency_code="USD", amount="9")
        assert len(session.execute(settings.select()).all()) == 2
