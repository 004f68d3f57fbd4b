"""The SMS worker of support's notices (its own thread, like the mail worker): claim a due SMS
('sending') in one transaction, hand it to the provider (crmkit.sms), record it in another. A
provider that is away or refuses for now leaves it for later (1, 2, 4 ... 60 minutes); a
permanent refusal (a bad number) fails it with the provider's code. Without SMS_URL the worker
does nothing and notices wait, kept."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_support.usecases import sms_notices
from crmkit import logs
from crmkit.db import Database
from crmkit.scheduler import PeriodicWorker
from crmkit.sms import SmsRejected, SmsSender, SmsUnavailable

log = logs.get("crm_support.sms")
INTERVAL = 2.0


def send_sms(db: Database, sender: SmsSender | None, *, now: datetime, template: str, sign_name: str,
             clock: Callable[[], datetime]) -> int:
    """Hand over what is due; returns how many the provider took."""
    if sender is None:
        return 0
    with db.read() as session:
        seqs = sms_notices.due(session, now=now)
    taken = 0
    for seq in seqs:
        with db.unit_of_work() as uow:
            message = sms_notices.claim(uow, seq=seq, now=clock(), template=template, sign_name=sign_name)
            uow.commit()
        if message is None:
            continue
        try:
            accepted = sender.send(message)
        except (SmsRejected, SmsUnavailable) as exc:
            permanent = isinstance(exc, SmsRejected) and exc.permanent
            with db.unit_of_work() as uow:
                status = sms_notices.failed(uow, seq=seq, now=clock(), error=str(exc), permanent=permanent)
                uow.commit()
            log.warning("ticket SMS %s not sent (%s): %s", seq, status, exc)
            if isinstance(exc, SmsUnavailable):
                break  # the provider is away: the rest waits for the next tick
            continue
        with db.unit_of_work() as uow:
            sms_notices.sent(uow, seq=seq, now=clock(), provider_id=accepted.provider_id)
            uow.commit()
        taken += 1
    return taken


def worker(db: Database, sender: SmsSender | None, clock: Callable[[], datetime], *, template: str,
           sign_name: str, interval: float = INTERVAL) -> PeriodicWorker:
    return PeriodicWorker("support-sms", lambda now: send_sms(db, sender, now=now, template=template,
                                                             sign_name=sign_name, clock=clock),
                          clock, interval)
