"""The import worker: crmkit.imports' runner (a PeriodicWorker whose tick runs every queued or
interrupted import to its end, a batch of usecases.imports.BATCH_ROWS rows per transaction) with
contacts' rows (usecases.imports.ContactImporter). The job's checkpoint commits with its rows, so
after a restart the tick finds the job still `running`, reads the file again from the database,
skips the rows already done and goes on."""
from __future__ import annotations

from crm_contacts.usecases import imports
from crmkit.db import Database
from crmkit.imports import runner
from crmkit.privacy import SuppressionList
from crmkit.servicer import Clock


class ImportRunner(runner.ImportRunner):
    def __init__(self, db: Database, clock: Clock, *, batch_rows: int = imports.BATCH_ROWS,
                 interval: float = 1.0, suppression: SuppressionList | None = None, backpressure: bool = False) -> None:
        """`suppression`: erased people's emails and phones are rejected rows; `backpressure`: wait
        for the outbox relay between batches (the service's own runner)."""
        super().__init__("contacts-imports", db, clock, kind=imports.KIND,
                         importer=imports.ContactImporter(suppression), batch_rows=batch_rows, interval=interval,
                         backpressure=backpressure)
