"""The customer search index of this process: a read model of contacts and accounts.

Fed by the consumer: a crm.contacts.* event says which record changed, and `apply` indexes that
record as the database holds it now (or removes it when it is gone, deleted or merged away).
Reading the current state rather than the event's snapshot makes a redelivered or late event
harmless (the last event of a record always writes its latest state) and shares one mapping
with `rebuild`, which re-reads every live record and swaps in a fresh index atomically.

Writes made while a rebuild runs would land in the old index only, so their ids are collected
and written again after the swap. The embedded engine commits about once a second: a crash can
lose the last second of writes that the consumer's inbox already counts as done, so a marker file
says "open"; if it is still there at start, the last run did not close cleanly and the index is
rebuilt in the background (also when the index is missing or was built for another schema)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1.contacts_pb2 import Contact, RebuildSearchIndexResponse, SearchCustomersResponse
from crm_contacts import store
from crm_contacts.search_docs import SCHEMA, Record, customer_document, search_query, to_hit
from crmkit import logs
from crmkit.auth import Principal
from crmkit.config import ServiceSettings
from crmkit.db import Database
from crmkit.errors import Conflict, PermissionDenied
from crmkit.search import IndexSchemaMismatch, SearchIndex, SearchUnavailable, open_index

log = logs.get("crm_contacts.search")
ENTITIES = ("contact", "account")
_REPLAY_CHUNK = 500


@dataclass(frozen=True)
class RebuildStats:
    contacts: int
    accounts: int
    replayed: int
    seconds: float


def record_of_event(env: EventEnvelope) -> tuple[str, str] | None:
    """(entity, id) whose index document a contacts event may change; None for other events."""
    parts = env.event_type.split(".")
    if len(parts) != 4 or parts[:2] != ["crm", "contacts"] or parts[2] not in ENTITIES:
        return None
    if parts[3] not in ("created", "updated", "tagged", "deleted", "merged"):
        return None
    return parts[2], env.aggregate_id


class CustomerSearch:
    def __init__(self, db: Database, index: SearchIndex, marker: Path | None = None) -> None:
        self.db = db
        self.index = index
        self.marker = marker  # embedded engine only: present while the index is open
        self._lock = threading.Lock()  # closed flag, pending set, and writes against close
        self._rebuild_lock = threading.Lock()
        self._pending: set[tuple[str, str]] | None = None  # touched while a rebuild runs
        self._closed = False
        self._recovery: threading.Thread | None = None

    @classmethod
    def from_settings(cls, db: Database, settings: ServiceSettings) -> CustomerSearch:
        data_dir = settings.data_dir / "search"
        index = open_index(SCHEMA, opensearch_url=settings.opensearch_url, data_dir=data_dir)
        marker = None if settings.opensearch_url else data_dir / f"{SCHEMA.name}.open"
        return cls(db, index, marker)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        reason = ""
        if self.marker is not None and self.marker.exists():
            reason = "the last run did not close it cleanly"
        try:
            self.index.ensure()
            if not reason and self.index.count() == 0 and self._any_customer():
                reason = "it is empty and the database is not"
        except IndexSchemaMismatch:
            reason = "it was built for another schema"
        except SearchUnavailable as exc:  # OpenSearch away: writes fail and are retried meanwhile
            log.warning("customer search index not reachable at start: %s", exc)
        if self.marker is not None:
            self.marker.parent.mkdir(parents=True, exist_ok=True)
            self.marker.touch()
        if reason:
            log.warning("rebuilding the customer search index: %s", reason)
            self._recovery = threading.Thread(target=self._recover, name="customer-search-rebuild", daemon=True)
            self._recovery.start()

    def close(self) -> None:
        """Commit and release the index; later writes fail (the consumer retries them next run)."""
        with self._lock:
            self._closed = True
        rebuilding = self._rebuild_lock.locked()
        self.index.close()
        if self.marker is not None and not rebuilding:  # an unfinished rebuild runs again next start
            self.marker.unlink(missing_ok=True)

    def wait_recovered(self, timeout: float) -> None:
        if self._recovery is not None:
            self._recovery.join(timeout)

    def _recover(self) -> None:
        try:
            stats = self.rebuild()
            log.info("customer search index rebuilt: %d contacts, %d accounts in %.1fs",
                     stats.contacts, stats.accounts, stats.seconds)
        except Exception:
            log.exception("rebuilding the customer search index failed")

    def _any_customer(self) -> bool:
        with self.db.read() as session:
            return store.any_live_record(session)

    # --- writes --------------------------------------------------------------------------------

    def apply(self, session: Session, env: EventEnvelope) -> None:
        """Index what a crm.contacts.* event changed; runs in the consumer's unit of work."""
        target = record_of_event(env)
        if target is None:
            return
        entity, record_id = target
        self.project(session, entity, [record_id])
        if entity == "account":  # its contacts without a company of their own show its name
            self.project(session, "contact", store.contacts_named_by_account(session, record_id))

    def project(self, session: Session, entity: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        if not ids:
            return
        docs: list[dict[str, Any]] = []
        gone: list[str] = []
        for record_id in ids:
            record = store.load(session, entity, record_id)
            if record is None or record.deleted:
                gone.append(record_id)
            else:
                docs.append(customer_document(record, account_name=self._account_name(session, record)))
        with self._lock:
            if self._closed:
                raise SearchUnavailable("the customer search index is closed (shutting down)")
            pending = self._pending
            if pending is not None:
                pending.update((entity, i) for i in ids)
            try:
                if docs:
                    self.index.upsert(docs)
                if gone:
                    self.index.delete(gone)
            except Exception as exc:
                if pending is None:
                    raise
                log.info("write during a rebuild deferred to the replay: %s", exc)

    @staticmethod
    def _account_name(session: Session, record: Record) -> str:
        if not isinstance(record, Contact) or record.company_name or not record.account_id:
            return ""
        account = store.load(session, "account", record.account_id)
        return account.name if account is not None and not account.deleted else ""

    # --- rebuild -------------------------------------------------------------------------------

    def rebuild(self) -> RebuildStats:
        if not self._rebuild_lock.acquire(blocking=False):
            raise Conflict("the customer search index is being rebuilt already")
        try:
            started = time.monotonic()
            counts = dict.fromkeys(ENTITIES, 0)
            with self._lock:
                self._pending = set()
            try:
                # Its own connection and transaction: one consistent read, never blocking writers.
                with Session(bind=self.db.engine) as session:
                    self.index.rebuild(self._documents(session, counts))
            finally:
                with self._lock:
                    pending, self._pending = self._pending or set(), None
            with Session(bind=self.db.engine) as session:
                for entity in ENTITIES:
                    ids = sorted(i for e, i in pending if e == entity)
                    for at in range(0, len(ids), _REPLAY_CHUNK):
                        self.project(session, entity, ids[at:at + _REPLAY_CHUNK])
            self.index.refresh()
            return RebuildStats(counts["contact"], counts["account"], len(pending), time.monotonic() - started)
        finally:
            self._rebuild_lock.release()

    @staticmethod
    def _documents(session: Session, counts: dict[str, int]) -> Iterator[dict[str, Any]]:
        names = store.live_account_names(session)
        for entity in ENTITIES:
            for record in store.live_records(session, entity):
                counts[entity] += 1
                account_name = ""
                if isinstance(record, Contact) and not record.company_name:
                    account_name = names.get(record.account_id, "")
                yield customer_document(record, account_name=account_name)

    # --- use cases -----------------------------------------------------------------------------

    def search(self, principal: Principal, text: str, kind: str, limit: int, offset: int) -> SearchCustomersResponse:
        query = search_query(principal, text, kind, limit, offset)
        if query is None:
            return SearchCustomersResponse()
        try:
            result = self.index.search(query)
        except IndexSchemaMismatch:
            raise SearchUnavailable("the customer search index is being rebuilt; try again shortly") from None
        return SearchCustomersResponse(hits=[to_hit(h) for h in result.hits], total=result.total)

    def rebuild_as(self, principal: Principal) -> RebuildSearchIndexResponse:
        if not principal.is_admin:
            raise PermissionDenied("only an admin can rebuild the search index")
        stats = self.rebuild()
        log.info("customer search index rebuilt by %s: %d contacts, %d accounts, %d replayed in %.1fs",
                 principal.user_id, stats.contacts, stats.accounts, stats.replayed, stats.seconds)
        return RebuildSearchIndexResponse(contacts=stats.contacts, accounts=stats.accounts,
                                          replayed=stats.replayed, seconds=stats.seconds)
