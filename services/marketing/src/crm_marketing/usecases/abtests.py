"""A/B tests of a wave: created, the test freezes its audience (segments from contacts in
`prepare`, like a wave) and splits it; started, each variant is mailed as its own wave (variant
name = utm_content) to its share; once `wait_hours` passed and the variants are mailed, the
automation worker decides (`advance`) by a two-proportion z-test and mails the winner to the rest;
the test completes when the winner's wave does."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import AbTest, AbVariant, SendWave, Template
from crm_marketing.events import MARKETING, emit
from crm_marketing.ports import ContactsPort
from crm_marketing.rules import abtest as rules
from crm_marketing.rules import campaigns as campaign_rules
from crm_marketing.rules import templates as template_rules
from crm_marketing.store import abtests as store
from crm_marketing.store import records
from crm_marketing.store import sending as send_store
from crm_marketing.usecases import automation_settings, campaigns, waves
from crm_marketing.usecases.waves import Members
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound
from crmkit.records import bump, check_version, new_id, stamp_new


def _emit(uow: UnitOfWork, principal: Principal, kind: str, test: AbTest, now: datetime) -> None:
    emit(uow, principal, kind, test.id, test.version, ev.AbTestChanged(test=_with_counts(uow.session, test)), now)


def _with_counts(session: Session, test: AbTest) -> AbTest:
    out = AbTest()
    out.CopyFrom(test)
    for variant in out.variants:
        if variant.wave_id:
            variant.counts.CopyFrom(send_store.counts(session, [variant.wave_id]))
            hits = variant.counts.opened if test.metric == "open" else variant.counts.clicked
            variant.rate = round(hits / variant.counts.delivered, 4) if variant.counts.delivered else 0.0
    if out.winner_wave_id:
        out.winner_counts.CopyFrom(send_store.counts(session, [out.winner_wave_id]))
    return out


def get(session: Session, *, principal: Principal, test_id: str) -> AbTest:
    test = store.load(session, test_id) if test_id else None
    if test is None:
        raise NotFound(f"A/B test {test_id} not found", field="id")
    campaigns.get(session, principal=principal, campaign_id=test.campaign_id, field="id")  # visibility
    return _with_counts(session, test)


def list_tests(session: Session, *, principal: Principal, campaign_id: str, page_size: int,
               page_token: str) -> tuple[list[AbTest], str]:
    campaign = campaigns.get(session, principal=principal, campaign_id=campaign_id, field="campaign_id")
    items, token = store.list_tests(session, campaign.id, page_size, page_token)
    return [_with_counts(session, t) for t in items], token


def prepare(session: Session, contacts: ContactsPort | None, *, principal: Principal, test: AbTest,
            project: waves.Project | None = None) -> Members:
    """Before the transaction, as for a wave: the segments' members from contacts."""
    return waves.prepare(session, contacts, principal=principal,
                         wave=SendWave(campaign_id=test.campaign_id, audience=test.audience), prefix="",
                         project=project)


def _variant_template(session: Session, test: AbTest, variant: AbVariant, at: str) -> Template:
    template = records.load_template(session, variant.template_id)
    if template is None:
        raise NotFound(f"template {variant.template_id} not found", field=f"{at}.template_id")
    shaped = rules.with_subject(template, variant.subject)
    if variant.subject:
        try:
            template_rules.check(shaped)
        except InvalidArgument as exc:
            raise InvalidArgument(exc.message.replace("contents[0].subject", f"{at}.subject"),
                                  field=f"{at}.subject") from None
    return shaped


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, test: AbTest, members: Members,
           default_sender: str) -> AbTest:
    session = uow.session
    campaign = campaigns.for_write(uow, principal, test.campaign_id, field="campaign_id")
    campaign_rules.require_live(campaign, "mail")
    if not test.template_id or records.load_template(session, test.template_id) is None:
        raise NotFound(f"template {test.template_id} not found", field="template_id")
    rules.check(test, default_significance=automation_settings.current(session).ab_significance)
    test.sender = waves.check_sender(test.sender, default_sender, "sender")
    for i, variant in enumerate(test.variants):
        _variant_template(session, test, variant, f"variants[{i}]")
        variant.wave_id = ""
    audience = waves.choose_audience(test.audience, campaign.audience, "audience")
    test.audience.CopyFrom(audience)
    waves.apply_members(uow, members, now)
    contact_ids = waves.evaluate_audience(session, audience, members)
    test.id = new_id()
    groups = rules.split(test.id, contact_ids, [v.name for v in test.variants], test.test_percent)
    store.add_members(session, test.id, groups)
    test.test_size = sum(1 for g in groups.values() if g != rules.REST)
    test.rest_size = len(groups) - test.test_size
    test.status = "ready"
    test.created_by = principal.user_id
    stamp_new(test, now)
    store.save(session, test, new=True)
    _emit(uow, principal, MARKETING.ABTEST_CREATED, test, now)
    return test


def _for_write(uow: UnitOfWork, principal: Principal, test_id: str, expected_version: int) -> AbTest:
    test = store.load(uow.session, test_id, for_update=True) if test_id else None
    if test is None:
        raise NotFound(f"A/B test {test_id} not found", field="id")
    campaigns.for_write(uow, principal, test.campaign_id)
    check_version(test.version, expected_version)
    return test


def start(uow: UnitOfWork, *, principal: Principal, now: datetime, test_id: str, expected_version: int,
          mail_enabled: bool) -> AbTest:
    test = _for_write(uow, principal, test_id, expected_version)
    if test.status != "ready":
        raise FailedPrecondition(f"the test is {test.status}; only a ready one starts", field="id")
    if not mail_enabled:
        raise FailedPrecondition("this marketing service sends no mail: set SMTP_URL", field="id")
    for i, variant in enumerate(test.variants):
        template = _variant_template(uow.session, test, variant, f"variants[{i}]")
        wave = waves.create_for(uow, principal=principal, now=now, campaign_id=test.campaign_id, template=template,
                                purpose=test.purpose, sender=test.sender, variant=variant.name, kind="ab_variant",
                                source_id=test.id, contact_ids=store.members(uow.session, test.id, variant.name))
        variant.wave_id = wave.id
    test.status = "testing"
    test.started_at.FromDatetime(now)
    test.decide_at.FromDatetime(now + timedelta(hours=test.wait_hours))
    bump(test, now)
    store.save(uow.session, test, new=False)
    _emit(uow, principal, MARKETING.ABTEST_STARTED, test, now)
    return _with_counts(uow.session, test)


def cancel(uow: UnitOfWork, *, principal: Principal, now: datetime, test_id: str, expected_version: int) -> AbTest:
    """What was not mailed yet stays unmailed (variants and winner alike)."""
    test = _for_write(uow, principal, test_id, expected_version)
    if test.status in ("completed", "cancelled"):
        raise FailedPrecondition(f"the test is {test.status} already", field="id")
    for wave_id in [v.wave_id for v in test.variants] + [test.winner_wave_id]:
        if wave_id:
            waves.close(uow, principal=principal, now=now, wave_id=wave_id)
    test.status = "cancelled"
    bump(test, now)
    store.save(uow.session, test, new=False)
    _emit(uow, principal, MARKETING.ABTEST_CANCELLED, test, now)
    return _with_counts(uow.session, test)


# -- the automation worker's part


def advance(uow: UnitOfWork, *, now: datetime, limit: int = 20, skip_locked: bool = False) -> int:
    """Decide the tests whose wait is over and whose variants are all mailed; complete those whose
    winner went out. How many moved."""
    moved = 0
    for test_id in store.due(uow.session, now, limit, skip_locked=skip_locked):
        test = store.load(uow.session, test_id)
        if test is None:
            continue
        if test.status == "testing":
            moved += _decide(uow, test, now)
        elif test.status == "sending_winner":
            wave = send_store.load_wave(uow.session, test.winner_wave_id)
            if wave is None or wave.status in ("completed", "cancelled"):
                moved += _complete(uow, test, now)
    return moved


def _decide(uow: UnitOfWork, test: AbTest, now: datetime) -> int:
    session = uow.session
    if any(send_store.unfinished(session, v.wave_id) for v in test.variants):
        return 0  # still mailing a variant: its rate is not known yet
    counted = _with_counts(session, test)
    arms = [rules.Arm(v.name, v.counts.opened if test.metric == "open" else v.counts.clicked, v.counts.delivered)
            for v in counted.variants]
    decision = rules.decide(arms, alpha=test.significance, default=test.default_variant, metric=test.metric)
    test.winner, test.significant = decision.winner, decision.significant
    test.z, test.p_value, test.decision = round(decision.z, 4), round(decision.p_value, 6), decision.text
    test.decided_at.FromDatetime(now)
    rest = store.members(session, test.id, rules.REST)
    if rest:
        index = next(i for i, v in enumerate(test.variants) if v.name == decision.winner)
        template = _variant_template(session, test, test.variants[index], f"variants[{index}]")
        wave = waves.create_for(uow, principal=SYSTEM, now=now, campaign_id=test.campaign_id, template=template,
                                purpose=test.purpose, sender=test.sender, variant=decision.winner, kind="ab_winner",
                                source_id=test.id, contact_ids=rest)
        test.winner_wave_id = wave.id
        test.status = "sending_winner"
    else:
        test.status = "completed"
    bump(test, now)
    store.save(session, test, new=False)
    _emit(uow, SYSTEM, MARKETING.ABTEST_DECIDED, test, now)
    if test.status == "completed":
        _emit(uow, SYSTEM, MARKETING.ABTEST_COMPLETED, test, now)
    return 1


def _complete(uow: UnitOfWork, test: AbTest, now: datetime) -> int:
    test.status = "completed"
    bump(test, now)
    store.save(uow.session, test, new=False)
    _emit(uow, SYSTEM, MARKETING.ABTEST_COMPLETED, test, now)
    return 1
