"""Event-triggered actions: rules "when <event> happened N times within D days, and no <other
event> in them → send template T / enrol in sequence S", on a campaign (its visibility). A
contact's new touch (usecases/engagement.py) evaluates the active rules its kind triggers, in the
touch's transaction; a rule fires at most once per contact per window (`within_days`), each
firing a round whose mail goes to the rule's wave of that round."""
from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import AutomationRule
from crm_marketing.events import MARKETING, emit
from crm_marketing.metrics import RULES_FIRED
from crm_marketing.rules import access
from crm_marketing.rules import triggers as rules
from crm_marketing.store import engagement as touch_store
from crm_marketing.store import records
from crm_marketing.store import sending as send_store
from crm_marketing.store import sequences as sequence_store
from crm_marketing.store import triggers as store
from crm_marketing.tables import automation_rules as rule_table
from crm_marketing.tables import campaigns as campaign_table
from crm_marketing.usecases import campaigns, sequences, waves
from crmkit import logs
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound
from crmkit.fields import patchable
from crmkit.records import bump, check_version, new_id, stamp_new

log = logs.get("crm_marketing.rules")
UPDATABLE = patchable(AutomationRule)
_MESSAGES = ("trigger",)
_LISTS = ("unless",)


def _with_counts(session: Session, items: list[AutomationRule]) -> list[AutomationRule]:
    counts = store.fired_counts(session, [r.id for r in items])
    for rule in items:
        rule.fired = counts.get(rule.id, 0)
    return items


def get(session: Session, *, principal: Principal, rule_id: str) -> AutomationRule:
    rule = store.load(session, rule_id) if rule_id else None
    if rule is None:
        raise NotFound(f"rule {rule_id} not found", field="id")
    campaigns.get(session, principal=principal, campaign_id=rule.campaign_id, field="id")  # visibility
    return _with_counts(session, [rule])[0]


def list_rules(session: Session, *, principal: Principal, campaign_id: str, page_size: int,
               page_token: str) -> tuple[list[AutomationRule], str]:
    access.require_reader(principal)
    where: list[ColumnElement[bool]] = [access.CAMPAIGNS.clause(principal, campaign_table)]
    if campaign_id:
        where.append(rule_table.c.campaign_id == campaign_id)
    items, token = store.list_rules(session, where, page_size, page_token)
    return _with_counts(session, items), token


def _check_action(session: Session, rule: AutomationRule) -> None:
    if rule.template_id and records.load_template(session, rule.template_id) is None:
        raise NotFound(f"template {rule.template_id} not found", field="template_id")
    if rule.sequence_id:
        sequence = sequence_store.load(session, rule.sequence_id)
        if sequence is None or sequence.status == "archived":
            raise NotFound(f"no live sequence {rule.sequence_id}", field="sequence_id")


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, rule: AutomationRule,
           default_sender: str) -> AutomationRule:
    campaigns.for_write(uow, principal, rule.campaign_id, field="campaign_id")
    rules.check(rule)
    rule.sender = waves.check_sender(rule.sender, default_sender, "sender")
    _check_action(uow.session, rule)
    rule.id = new_id()
    rule.created_by = principal.user_id
    stamp_new(rule, now)
    store.save(uow.session, rule, new=True)
    emit(uow, principal, MARKETING.RULE_CREATED, rule.id, rule.version, ev.RuleChanged(rule=rule), now)
    return rule


def _for_write(uow: UnitOfWork, principal: Principal, rule_id: str, expected_version: int) -> AutomationRule:
    rule = store.load(uow.session, rule_id, for_update=True) if rule_id else None
    if rule is None:
        raise NotFound(f"rule {rule_id} not found", field="id")
    campaigns.for_write(uow, principal, rule.campaign_id)
    check_version(rule.version, expected_version)
    return rule


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: AutomationRule, paths: Seq[str],
           expected_version: int, default_sender: str) -> AutomationRule:
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} cannot be changed here", field=path)
    rule = _for_write(uow, principal, patch.id, expected_version)
    for path in paths:
        current, given = getattr(rule, path), getattr(patch, path)
        if path in _LISTS:
            del current[:]
            current.extend(given)
        elif path in _MESSAGES:
            current.CopyFrom(given)
        else:
            setattr(rule, path, given)
    rules.check(rule)
    if "sender" in paths:
        rule.sender = waves.check_sender(rule.sender, default_sender, "sender")
    _check_action(uow.session, rule)
    bump(rule, now)
    store.save(uow.session, rule, new=False)
    emit(uow, principal, MARKETING.RULE_UPDATED, rule.id, rule.version, ev.RuleChanged(rule=rule), now)
    return _with_counts(uow.session, [rule])[0]


def delete(uow: UnitOfWork, *, principal: Principal, now: datetime, rule_id: str, expected_version: int) -> None:
    """Its firings stay (history); its waves stop taking recipients."""
    rule = _for_write(uow, principal, rule_id, expected_version)
    for wave_id in store.waves_of(uow.session, rule.id):
        waves.close(uow, principal=principal, now=now, wave_id=wave_id)
    store.remove(uow.session, rule.id)
    emit(uow, principal, MARKETING.RULE_DELETED, rule.id, rule.version + 1, ev.RuleChanged(rule=rule), now)


def referenced_types(session: Session) -> frozenset[str]:
    """The event types the active rules count (the consumer hands these to marketing)."""
    return rules.referenced(store.active(session))


# -- evaluation


def on_touch(uow: UnitOfWork, *, contact_id: str, kinds: set[str], now: datetime, at: datetime) -> int:
    """Evaluate the active rules the new touches trigger for this contact; how many fired."""
    session = uow.session
    candidates = store.active_triggered_by(session, sorted(kinds))
    if not candidates:
        return 0
    longest = max(r.within_days for r in candidates)
    kinds_counted = sorted({k for r in candidates for k in rules.kinds_of(r)})
    seen = [rules.Seen(t.kind, t.url, t.at) for t in touch_store.touches_of(
        session, contact_id, since=at - timedelta(days=longest), kinds=kinds_counted)]
    fired = 0
    for rule in candidates:
        last = store.last_firing(session, rule.id, contact_id)
        if not rules.may_fire_again(store.fired_at(last) if last else None, rule, at) or not rules.fires(rule, seen, at):
            continue
        round_ = (int(last.round) if last else 0) + 1
        try:
            with session.begin_nested():  # a concurrent touch of the same contact fired it first
                store.add_firing(session, rule.id, contact_id, round_, at)
        except IntegrityError:
            continue
        _act(uow, rule, contact_id, round_, now)
        event = ev.RuleFired(rule=rule, contact_id=contact_id, round=round_)
        event.at.FromDatetime(at)
        emit(uow, SYSTEM, MARKETING.RULE_FIRED, rule.id, round_, event, now)
        RULES_FIRED.labels("template" if rule.template_id else "sequence").inc()
        fired += 1
    return fired


def _act(uow: UnitOfWork, rule: AutomationRule, contact_id: str, round_: int, now: datetime) -> None:
    if rule.sequence_id:
        sequence = sequence_store.load(uow.session, rule.sequence_id)
        if sequence is None or sequence.status != "active":
            log.info("rule %s fired for %s but sequence %s is not active", rule.id, contact_id, rule.sequence_id)
            return
        sequences.enrol_one(uow, sequence=sequence, contact_id=contact_id, source=f"rule:{rule.id}", now=now)
        return
    wave_id = _wave(uow, rule, round_, now)
    if wave_id:
        waves.enqueue(uow, wave_id=wave_id, contact_id=contact_id, purpose=rule.purpose)


def _wave(uow: UnitOfWork, rule: AutomationRule, round_: int, now: datetime) -> str:
    """The rule's wave of this round, with its template as it is at the round's first firing (a
    new one when the rule names another template since)."""
    session = uow.session
    existing = store.wave_of(session, rule.id, round_)
    if existing:
        wave = send_store.load_wave(session, existing)
        if wave is not None and wave.template_id == rule.template_id and wave.status == "sending":
            return existing
    template = records.load_template(session, rule.template_id)
    if template is None:
        log.warning("rule %s fired but its template %s is gone", rule.id, rule.template_id)
        return ""
    wave = waves.create_for(uow, principal=SYSTEM, now=now, campaign_id=rule.campaign_id, template=template,
                            purpose=rule.purpose, sender=rule.sender, variant=f"rule-{round_}", kind="rule",
                            source_id=rule.id)
    store.set_wave(session, rule.id, round_, wave.id, new=existing is None)
    return str(wave.id)
