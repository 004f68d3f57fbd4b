"""The customer search index of this process: a read model of contacts and accounts.

Fed by the outbox relay of this service (bootstrap hands `apply_published` to it, and runs the
index as a worker: started before the relay, stopped after it): a published contact or account
event says which record changed, and `apply_published` indexes that record as the database holds it now (or removes it when it is gone, deleted or merged away).
Reading the current state rather than the event's snapshot makes a redelivered or late event
harmless (the last event of a record always writes its latest state) and shares one mapping
with `rebuild`, which re-reads every live record and swaps in a fresh index atomically.

Writes made while a rebuild runs land in the old index only, so after the swap the rebuild
writes again what this process touched meanwhile and what the database says changed (updated_at,
which also covers other replicas' writes when they share an OpenSearch index). The embedded engine commits about once a second: a crash can
lose the last second of writes that the outbox relay already handed over, so a marker file
says "open" (search/index_directory.py); if it is still there at start, the last run did not close
cleanly and the index is rebuilt in the background (also when the index is missing, was built
for another schema or from another database)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from crm.common.v1.envelope_pb2 import EventEnvelope
from crm.contacts.v1.contacts_pb2 import Account, Contact, RebuildSearchIndexResponse, SearchCustomersResponse
from crm_contacts import store
from crm_contacts.events import CONTACTS
from crm_contacts.rules.search_docs import SCHEMA, Record, customer_document, search_query, to_hit
from crm_contacts.search.index_directory import IndexDirectory, database_identity
from crmkit import logs
from crmkit.auth import Principal
from crmkit.config import ServiceSettings
from crmkit.db import Database
from crmkit.errors import Conflict, PermissionDenied
from crmkit.events import parse_envelope
from crmkit.leases import Lease
from crmkit.search import IndexSchemaMismatch, SearchIndex, SearchUnavailable, open_index
from crmkit.servicer import Clock, system_clock

log = logs.get("crm_contacts.search")
ENTITIES = ("contact", "account")
_REPLAY_CHUNK = 500
REPLAY_MARGIN = timedelta(seconds=60)  # clock skew between replicas writing updated_at
# A shared index: a replica's start indexes again what changed this long ago or later.
CATCH_UP = timedelta(minutes=15)
MAX_RETRY = 100_000  # index writes kept for a retry; beyond that the index is rebuilt instead
# The advisory lock the embedded index's owner holds on the contacts database (one replica only).
EMBEDDED_OWNER_LEASE = "contacts-embedded-search"
INCREMENTAL_WRITER_HEAP = 16_000_000  # tantivy wants at least 15 MB per indexing thread


@dataclass(frozen=True)
class RebuildStats:
    contacts: int
    accounts: int
    replayed: int
    seconds: float


# Event type → the entity whose index document it may change (every contact and account event;
# interactions change no document).
INDEXED: dict[str, str] = {subject: subject.split(".")[2] for subject in CONTACTS.of_aggregate(*ENTITIES)}


def record_of_event(env: EventEnvelope) -> tuple[str, str] | None:
    """(entity, id) whose index document a contacts event may change; None for other events."""
    entity = INDEXED.get(env.event_type)
    return None if entity is None else (entity, env.aggregate_id)


class CustomerSearch:
    def __init__(self, db: Database, index: SearchIndex, directory: IndexDirectory | None = None, *,
                 clock: Clock = system_clock, sole_owner: bool = False, catch_up: bool = False) -> None:
        """`sole_owner`: the service's own embedded index, which refuses to start when another
        replica runs one on the same PostgreSQL database (`from_settings` sets it). `catch_up`: an
        index shared by the replicas (the database engine): at start, index again what changed
        in the last CATCH_UP. The relay feeds the index before it marks rows published (a replica
        killed in between leaves them to be relayed and indexed again); this covers the writes a
        stopped replica still owed (the index unreachable when it died)."""
        self.catch_up = catch_up
        self.db = db
        self.clock = clock  # the one that stamps updated_at, which a rebuild's replay compares with
        self.index = index
        self.directory = directory  # embedded engine only: ownership, clean close, source
        self.sole_owner = sole_owner
        self._lock = threading.Lock()  # closed flag, pending set, and writes against close
        self._rebuild_lock = threading.Lock()
        self._pending: set[tuple[str, str]] | None = None  # touched while a rebuild runs
        self._closed = False
        self._owned = True
        self._recovery: threading.Thread | None = None
        self._retry: set[tuple[str, str]] = set()  # (entity, id) whose index write failed
        self._owner_lease: Lease | None = None  # embedded on PostgreSQL: this replica owns the index

    @classmethod
    def from_settings(cls, db: Database, settings: ServiceSettings, *, clock: Clock = system_clock) -> CustomerSearch:
        data_dir = settings.data_dir / "search"
        if settings.opensearch_url:
            return cls(db, open_index(SCHEMA, opensearch_url=settings.opensearch_url, data_dir=data_dir),
                       clock=clock)
        if settings.search_engine == "database":  # SEARCH_ENGINE=database: shared by every replica
            return cls(db, open_index(SCHEMA, opensearch_url=None, data_dir=data_dir,
                                      database_url=settings.database_url), clock=clock, catch_up=True)
        from crmkit.search.embedded import EmbeddedSearchIndex

        # Customers change a few at a time: one indexing thread with a small arena holds ~40 MB
        # less than the default 128 MB budget (two threads here). Rebuilds use their own writer.
        index = EmbeddedSearchIndex(SCHEMA, data_dir, writer_heap_bytes=INCREMENTAL_WRITER_HEAP)
        return cls(db, index, IndexDirectory(data_dir, SCHEMA.name), clock=clock, sole_owner=True)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the index, and rebuild it in the background when it cannot be trusted."""
        directory, reason = self.directory, ""
        source = database_identity(self.db.url)
        if self.sole_owner and not self.db.is_sqlite:
            self._refuse_a_second_replica()
        if directory is not None:
            if not directory.acquire():
                self._owned = False
                log.error("customer search index %s is owned by another process (a shared DATA_DIR?): "
                          "this process neither writes nor searches it", directory.lock_path.parent)
                return
            if directory.left_open():
                reason = "the last run did not close it cleanly"
            elif directory.built_from() not in ("", source):
                reason = "it was built from another database"
        try:
            self.index.ensure()
            if not reason and self.index.count() == 0 and self._any_customer():
                reason = "it is empty and the database is not"
        except IndexSchemaMismatch:
            reason = "it was built for another schema"
        except SearchUnavailable as exc:  # OpenSearch away: writes fail and are retried meanwhile
            log.warning("customer search index not reachable at start: %s", exc)
        if directory is not None:
            directory.opened(source)
        if reason:
            log.warning("rebuilding the customer search index: %s", reason)
            self._schedule_rebuild()
        elif self.catch_up:
            self._recovery = threading.Thread(target=self._catch_up, name="customer-search-catch-up", daemon=True)
            self._recovery.start()

    def _catch_up(self) -> None:
        try:
            since = self.clock() - CATCH_UP
            with Session(bind=self.db.engine) as session:
                for entity in ENTITIES:
                    ids = sorted(store.ids_updated_since(session, entity, since))
                    for at in range(0, len(ids), _REPLAY_CHUNK):
                        self.project(session, entity, ids[at:at + _REPLAY_CHUNK])
        except Exception:
            log.exception("customer search: catching up with recent changes failed (an admin rebuild heals it)")

    def _refuse_a_second_replica(self) -> None:
        """The embedded index is per process: a second replica on the same database would index
        only its own writes. Its owner holds a PostgreSQL advisory lock (crmkit.leases) on the
        service's database for as long as it runs; a replica that cannot take it does not start."""
        from crmkit.leases import AdvisoryLease

        lease = AdvisoryLease(self.db.url, EMBEDDED_OWNER_LEASE)
        if not lease.acquire():
            lease.release()
            raise RuntimeError(
                "contacts: another replica already runs the embedded search index on this database; "
                "the embedded engine is per process, so contacts runs at one replica with it. "
                "Set OPENSEARCH_URL (the production overlay does) or SEARCH_ENGINE=database to run several replicas.")
        self._owner_lease = lease

    def _schedule_rebuild(self) -> None:
        self._recovery = threading.Thread(target=self._recover, name="customer-search-rebuild", daemon=True)
        self._recovery.start()

    def stop(self) -> None:
        """Commit and release the index. Call it after the outbox relay stopped (the runtime stops
        workers after it): writes still owed (failed and not yet retried) leave the index marked
        open, so the next start rebuilds."""
        with self._lock:
            self._closed = True
            owed = bool(self._retry)
        if self._owner_lease is not None:
            self._owner_lease.release()
            self._owner_lease = None
        if not self._owned:
            return
        rebuilding = self._rebuild_lock.locked()
        self.index.close()
        if self.directory is not None:
            if not rebuilding and not owed:  # an unfinished rebuild, or owed writes: rebuild next start
                self.directory.closed_cleanly()
            self.directory.release()

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

    def _not_owned(self) -> SearchUnavailable:
        return SearchUnavailable("customer search is unavailable: its index is owned by another process")

    def _any_customer(self) -> bool:
        with self.db.read() as session:
            return store.any_live_record(session)

    # --- writes --------------------------------------------------------------------------------

    def apply_published(self, published: Sequence[tuple[str, bytes]]) -> None:
        """Index the records that a batch of just-published contacts events changed, as the
        database holds them now (the outbox relay calls this; reads only, idempotent). What cannot
        be written now (OpenSearch away, a rebuild swapping the index) is tried again with the
        next batch; a process that stops with such writes left makes the next start rebuild."""
        targets: dict[str, dict[str, None]] = {entity: {} for entity in ENTITIES}
        with self._lock:
            retry, self._retry = self._retry, set()
        for entity, record_id in retry:
            targets[entity][record_id] = None
        for subject, payload in published:
            if subject in INDEXED:  # the subject is the event type: no parse for the others
                target = record_of_event(parse_envelope(payload))
                if target is not None:
                    targets[target[0]][target[1]] = None
        if not any(targets.values()):
            return
        try:
            with self.db.read() as session:
                for entity, ids in targets.items():
                    self.project(session, entity, ids)
                for account_id in targets["account"]:  # its contacts without a company show its name
                    self.project(session, "contact", store.contacts_named_by_account(session, account_id))
        except Exception as exc:
            with self._lock:
                self._retry.update((entity, i) for entity, ids in targets.items() for i in ids)
                owed = len(self._retry)
                if owed > MAX_RETRY:
                    self._retry = set()
                    self._schedule_rebuild()
            log.warning("customer search: %d index writes deferred to the next batch: %s", owed, exc)

    def project(self, session: Session, entity: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        if not ids or not self._owned:
            return
        docs: list[dict[str, Any]] = []
        gone: list[str] = []
        records = store.load_many(session, store.KINDS[entity], ids)
        accounts = store.load_many(session, Account, sorted({
            r.account_id for r in records.values() if isinstance(r, Contact) and not r.company_name and r.account_id}))
        for record_id in ids:
            record = records.get(record_id)
            if record is None or record.deleted:
                gone.append(record_id)
            else:
                docs.append(customer_document(record, account_name=_account_name(record, accounts)))
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

    # --- rebuild -------------------------------------------------------------------------------

    def rebuild(self) -> RebuildStats:
        if not self._owned:
            raise self._not_owned()
        if not self._rebuild_lock.acquire(blocking=False):
            raise Conflict("the customer search index is being rebuilt already")
        try:
            started = time.monotonic()
            since = self.clock() - REPLAY_MARGIN
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
            # Changes made meanwhile reached the old index only: what this process wrote, and what
            # the database says changed (other replicas' writes, with OpenSearch).
            with Session(bind=self.db.engine) as session:
                for entity in ENTITIES:
                    pending.update((entity, i) for i in store.ids_updated_since(session, entity, since))
                for entity in ENTITIES:
                    ids = sorted(i for e, i in pending if e == entity)
                    for at in range(0, len(ids), _REPLAY_CHUNK):
                        self.project(session, entity, ids[at:at + _REPLAY_CHUNK])
                        if entity == "account":
                            for account_id in ids[at:at + _REPLAY_CHUNK]:
                                self.project(session, "contact", store.contacts_named_by_account(session, account_id))
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

    def search(self, principal: Principal, text: str, kind: str, limit: int, offset: int, *,
               highlight: bool = True) -> SearchCustomersResponse:
        query = search_query(principal, text, kind, limit, offset, highlight=highlight)
        if query is None:
            return SearchCustomersResponse()
        if not self._owned:
            raise self._not_owned()
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


def _account_name(record: Record, accounts: Mapping[str, Account]) -> str:
    """The name a contact without a company of its own shows: its live account's."""
    if not isinstance(record, Contact) or record.company_name or not record.account_id:
        return ""
    account = accounts.get(record.account_id)
    return account.name if account is not None and not account.deleted else ""
