"""Imports from CSV or xlsx as jobs, the part no entity owns (used by contacts, sales and support):

- `files`: reading a file's rows as text, streaming (CSV: UTF-8 or GB18030, delimiter sniffed;
  xlsx: read-only), blank lines skipped;
- `mapping`: a ColumnMapping applied to a header, picklist values mapped, kept or refused;
- `cells`: what no importer can take from a row (a NUL, a typed cell under no column name);
- `tables` / `store`: the job (its ImportJob snapshot, `rows_done` the checkpoint), the uploaded
  chunks, rejected rows with every reason, the mapping remembered per source;
- `jobs`: the use cases every service's import RPCs share (create, idempotent on the file's hash
  and the options; upload; start; progress with rate and ETA; the report; the caller's jobs listed);
- `listing`: how that list pages (newest first, its cursor), shared with the gateway's merged list;
- `runner`: the worker that runs a started job a batch per transaction and resumes after a
  restart from the checkpoint, calling the service's `Importer` for the rows themselves.

The messages are crm.common.v1's (proto/crm/common/v1/imports.proto)."""
