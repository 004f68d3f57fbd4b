"""The public pool of customers' worker tick: every held account its team's rule takes back goes
to the pool, each in its own transaction that checks the rule again under the row lock, so an
account returns once whatever the restarts and replicas (the lease lets one replica scan at a
time; the check makes a second scan harmless)."""
from __future__ import annotations

from datetime import datetime

from crm_contacts.usecases import pool
from crmkit import logs
from crmkit.db import Database

log = logs.get("crm_contacts.jobs.pool")


def return_stale_accounts(db: Database, now: datetime, limit: int = 500) -> int:
    with db.read() as session:
        stale = pool.stale_accounts(session, now=now, limit=limit)
    returned = 0
    for account_id in stale:
        try:
            with db.unit_of_work() as uow:
                if pool.return_if_stale(uow, now=now, account_id=account_id):
                    uow.commit()
                    returned += 1
        except Exception:
            log.exception("returning account %s to the pool failed; the next tick tries again", account_id)
    if returned:
        log.info("%d customers returned to their team's pool", returned)
    return returned
