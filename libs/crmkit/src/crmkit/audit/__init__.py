"""The audit log every service keeps: append-only, hash-chained, in the service's own database.

- `record(uow, principal, action, record_type, record_id, details=...)`: an explicit entry in the
  change's transaction (most changes need none: the commit records one entry per event emitted).
- `Personal(Message)`: a message type whose reads are audited (`ServicerBase.personal_data`).
- `chain.verify(session)` / `python -m crmkit.audit verify <svc>`: the first broken row.
- `api.list_entries`, `api.entries_about`, `api.AuditLogServicer` (registered by crmkit.service).
- `schema.install(op.get_bind())`: the tables and, on PostgreSQL, the append-only trigger.

Modules here never import crmkit.db at run time: its unit of work calls `append_pending`."""
from __future__ import annotations

from crmkit.audit.chain import Entry, Verification, append, verify
from crmkit.audit.record import Personal, append_pending, read_entries, record, stage_call

__all__ = ["Entry", "Personal", "Verification", "append", "append_pending", "read_entries", "record",
           "stage_call", "verify"]
