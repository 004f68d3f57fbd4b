"""The composition root: nothing built at import, one search index per process shared by the
servicer, the outbox relay and the runtime (as a worker), and event types from the contracts."""
from __future__ import annotations

from pathlib import Path

from crm_contacts import bootstrap, handlers
from crm_contacts.events import CONTACTS, SALES, SUPPORT
from crm_contacts.jobs.imports import ImportRunner
from crm_contacts.rules import timeline as feed
from crm_contacts.search.customer_search import INDEXED, CustomerSearch
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker
from crmkit.testing import in_process_settings


def test_the_spec_describes_the_service_without_building_anything() -> None:
    spec = bootstrap.spec()
    assert (spec.name, tuple(spec.consumes), spec.produces) == ("contacts", ("sales", "support"), True)
    assert spec.service_names == ["crm.contacts.v1.ContactsService", "crm.privacy.v1.DataSubject",
                                  "crm.contacts.v1.ContactImports", "crm.contacts.v1.PicklistAdmin"]
    assert (spec.migrations / "versions").is_dir()
    assert spec.wants is handlers.wants


def test_compose_shares_one_search_index_between_relay_servicer_and_runtime(db: Database, tmp_path: Path) -> None:
    settings = in_process_settings("contacts", db.url, "nats://127.0.0.1:1", tmp_path, "x" * 32)
    parts = bootstrap.spec().compose(db, settings)
    [search, importer, pool_worker] = parts.workers  # the import worker and the pool's scan beside the index
    assert isinstance(search, CustomerSearch) and isinstance(importer, ImportRunner)
    assert isinstance(pool_worker, PeriodicWorker) and pool_worker.name == "contacts-pool"
    assert parts.on_published.__self__ is search  # type: ignore[union-attr]
    assert parts.handler is not None and len(parts.servicers) == 1
    search.start()
    search.stop()
    assert not (tmp_path / "search" / "customers.open").exists(), "a clean stop clears the marker"


def test_event_types_come_from_the_contracts() -> None:
    # consents, segments and the picklist vocabulary change nothing a search document holds
    unindexed = {CONTACTS.INTERACTION_LOGGED, CONTACTS.CONSENT_CHANGED, CONTACTS.PICKLIST_UPDATED,
                 *CONTACTS.of_aggregate("segment")}
    assert set(INDEXED) == CONTACTS.all - unindexed
    assert set(feed.RULES) <= SALES.all | SUPPORT.all
    assert {t for t in SALES.all | SUPPORT.all | CONTACTS.all if handlers.wants(t)} == {
        *feed.RULES, SALES.OWNERSHIP_TRANSFERRED, SALES.OPPORTUNITY_UPDATED, SALES.OPPORTUNITY_STAGE_CHANGED,
        SALES.DELEGATION_CREATED, SALES.DELEGATION_ENDED, SALES.SETTINGS_POOL_RULES_CHANGED}
