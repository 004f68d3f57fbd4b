"""Signing secrets at rest: sealed in the database under WEBHOOKS_SECRET_KEY, opened only to sign;
a service without the key (or with a guessable one) does not start; secrets stored in clear by
the first version are sealed at start; a secret sealed under another key is refused, not sent."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_webhooks import bootstrap, jobs, tables
from crm_webhooks.rules import signature
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.rules.sealing import SealingError, SecretBox
from crm_webhooks.usecases import subscriptions as subs
from crmkit.config import ConfigError
from crmkit.db import Database
from crmkit.testing import ManualClock

from ..fakes import BOX, FakeResolver, FakeSender
from .test_deliveries import arrive, log_of, subscribe, won_event


def stored_secret(db: Database, sub_id: str) -> str:
    with db.read() as session:
        return session.execute(select(tables.subscriptions.c.secret)
                               .where(tables.subscriptions.c.id == sub_id)).scalar_one()


def test_the_database_holds_only_the_sealed_secret(db: Database) -> None:
    sub = subscribe(db)
    stored = stored_secret(db, sub.id)
    assert sub.secret.startswith("whsec_") and sub.secret not in stored and BOX.open(stored) == sub.secret


def test_no_key_or_a_guessable_one_refuses_to_start() -> None:
    for env, says in (({}, "set WEBHOOKS_SECRET_KEY"), ({"WEBHOOKS_SECRET_KEY": "CHANGE-ME"}, "example"),
                      ({"WEBHOOKS_SECRET_KEY": "short"}, "at least 32 bytes")):
        with pytest.raises(ConfigError, match=says):
            bootstrap.secret_box(env)


def test_a_rotated_key_still_opens_what_the_old_one_sealed() -> None:
    old, new = "old-webhooks-key-0123456789abcdefghij", "new-webhooks-key-0123456789abcdefghij"
    sealed = SecretBox(old).seal("whsec_x")
    both = SecretBox(f"{new},{old}")
    assert both.open(sealed) == "whsec_x" and SecretBox(new).open(both.reseal(sealed)) == "whsec_x"
    with pytest.raises(SealingError):
        SecretBox(new).open(sealed)


def test_secrets_stored_in_clear_are_sealed_at_start(db: Database) -> None:
    sub = subscribe(db)
    with db.unit_of_work() as uow:  # as the first version stored it
        uow.session.execute(tables.subscriptions.update().values(secret=sub.secret))
        uow.commit()
    with db.unit_of_work() as uow:
        assert subs.seal_plaintext(uow, seal=BOX.seal) == 1
        uow.commit()
    assert BOX.open(stored_secret(db, sub.id)) == sub.secret
    with db.unit_of_work() as uow:
        assert subs.seal_plaintext(uow, seal=BOX.seal) == 0


def test_a_secret_sealed_under_another_key_is_refused_not_sent(db: Database, clock: ManualClock) -> None:
    sub = subscribe(db)
    arrive(db, won_event())
    sender = FakeSender()
    other = jobs.Delivering(box=SecretBox("another-webhooks-key-0123456789abcdefgh"), schedule=Schedule(base=30.0),
                            resolver=FakeResolver(), sender=sender, jitter=lambda: 0.5)
    jobs.run_due(db, other, clock(), clock)
    (delivery,) = log_of(db, sub)
    assert sender.sent == [] and delivery.status == "pending" and "WEBHOOKS_SECRET_KEY" in delivery.last_error
    assert signature.SECRET_PREFIX not in delivery.last_error
