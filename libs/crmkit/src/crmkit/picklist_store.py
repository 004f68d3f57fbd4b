"""Where a service keeps the picklist vocabulary (apart from crmkit.picklists, which the gateway
imports and whose image carries no SQLAlchemy)."""
from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from crm.common.v1.picklists_pb2 import Picklists
from crmkit.picklists import DEFAULTS, Vocabulary, completed
from crmkit.settings_store import SettingsDocument


class PicklistStore:
    """The vocabulary in a service's (key, version, data) settings table: the owner's document, or
    a projection of `crm.contacts.picklist.updated` elsewhere. Durable, so a restarted replica
    checks writes against the last vocabulary it heard of (the defaults before any change). The
    parsed vocabulary is kept while the stored bytes stay the same: a write costs one
    primary-key read."""

    def __init__(self, table: Table, key: str = "picklists") -> None:
        self._document = SettingsDocument(table, key, Picklists)
        self._data = select(table.c.data).where(table.c.key == key)
        self._cached: tuple[bytes, Vocabulary] = (b"", DEFAULTS)

    def load(self, session: Session) -> Picklists:
        return completed(self._document.load(session))

    def current(self, session: Session) -> Vocabulary:
        data = session.execute(self._data).scalar_one_or_none()
        if data is None:
            return DEFAULTS
        cached_data, cached = self._cached
        if data == cached_data:
            return cached
        fresh = Vocabulary(Picklists.FromString(data))
        self._cached = (data, fresh)
        return fresh

    def save(self, session: Session, document: Picklists) -> None:
        self._document.save(session, document)

    def apply(self, session: Session, document: Picklists) -> bool:
        """An event's document, when it is newer than the one kept (events may come twice or out
        of order); True when it replaced it."""
        stored = self._document.load(session)
        if stored is not None and stored.version >= document.version:
            return False
        self._document.save(session, document)
        return True
