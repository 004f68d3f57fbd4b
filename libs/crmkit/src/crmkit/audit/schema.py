"""The audit tables in a service's migration: `install(op.get_bind())`.

Creates the log and its head (idempotent), and on PostgreSQL the trigger that refuses UPDATE,
DELETE and TRUNCATE on the log; the one DELETE it lets through is retention's pruning of the
chain's oldest rows, in a transaction that set `crmkit.audit_prune` and only up to the anchor
it moved first (crmkit.audit.chain.prune). A service that kept its own audit table before
(`legacy`) has its rows copied into the chain, oldest first, once."""
from __future__ import annotations

from datetime import UTC

from sqlalchemy import BigInteger, Connection, DateTime, String, Text, insert, inspect, select, table, text
from sqlalchemy import column as col

from crmkit.audit import chain
from crmkit.runtime_tables import audit_head_row, audit_row

_FUNCTION = """
CREATE OR REPLACE FUNCTION crm_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_setting('crmkit.audit_prune', true) = 'on'
       AND OLD.seq <= (SELECT anchor_seq FROM crm_audit_head WHERE id = 1) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'crm_audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""
_TRIGGERS = (
    "DROP TRIGGER IF EXISTS crm_audit_append_only ON crm_audit_log",
    "CREATE TRIGGER crm_audit_append_only BEFORE UPDATE OR DELETE ON crm_audit_log "
    "FOR EACH ROW EXECUTE FUNCTION crm_audit_append_only()",
    "DROP TRIGGER IF EXISTS crm_audit_no_truncate ON crm_audit_log",
    "CREATE TRIGGER crm_audit_no_truncate BEFORE TRUNCATE ON crm_audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION crm_audit_append_only()",
)


def install(bind: Connection, *, legacy: str | None = None) -> None:
    audit_row.create(bind, checkfirst=True)
    audit_head_row.create(bind, checkfirst=True)
    if bind.execute(select(audit_head_row.c.id).where(audit_head_row.c.id == chain.HEAD_ID)).first() is None:
        bind.execute(insert(audit_head_row), {"id": chain.HEAD_ID, "seq": 0, "hash": chain.GENESIS,
                                              "anchor_seq": 0, "anchor_hash": chain.GENESIS})
    if legacy and legacy in inspect(bind).get_table_names():
        _copy_legacy(bind, legacy)
    if bind.dialect.name == "postgresql":
        bind.execute(text(_FUNCTION))
        for statement in _TRIGGERS:
            bind.execute(text(statement))


def uninstall(bind: Connection) -> None:
    if bind.dialect.name == "postgresql":
        bind.execute(text("DROP TRIGGER IF EXISTS crm_audit_append_only ON crm_audit_log"))
        bind.execute(text("DROP TRIGGER IF EXISTS crm_audit_no_truncate ON crm_audit_log"))
        bind.execute(text("DROP FUNCTION IF EXISTS crm_audit_append_only()"))
    audit_head_row.drop(bind, checkfirst=True)
    audit_row.drop(bind, checkfirst=True)


def _copy_legacy(bind: Connection, name: str) -> None:
    """The rows of a service's earlier audit table (seq, at, actor, action, entity, entity_id,
    detail), appended to an empty chain in their order."""
    if bind.execute(select(audit_row.c.seq).limit(1)).first() is not None:
        return
    old = table(name, col("seq", BigInteger), col("at", DateTime(timezone=True)), col("actor", String),
                col("action", String), col("entity", String), col("entity_id", String), col("detail", Text))
    last = 0
    while True:
        rows = bind.execute(select(old).where(old.c.seq > last).order_by(old.c.seq).limit(1000)).all()
        if not rows:
            return
        last = rows[-1].seq
        chain.append(bind, [chain.Entry(
            at=row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC), actor=row.actor, action=row.action,
            record_type=row.entity, record_id=row.entity_id, method="migrated",
            details={"note": row.detail} if row.detail else {},
        ) for row in rows])
