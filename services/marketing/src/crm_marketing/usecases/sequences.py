"""Drip / nurture sequences: define them on a campaign (its visibility), activate them (each step
gets its continuous send wave, the template frozen as it is), enrol contacts (by hand, from a
wave's mailed recipients, from a rule, or when sales sends a lead back for nurturing), fire each
step once per enrolment (`fire_due`, driven by the automation worker), and end enrolments when
the contact converts, unsubscribes or replies."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence as Seq
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row
from sqlalchemy.orm import Session

from crm.marketing.v1 import events_pb2 as ev
from crm.marketing.v1.marketing_pb2 import EnrollContactsResponse, Enrollment, Sequence, SequenceStep
from crm_marketing.events import MARKETING, emit
from crm_marketing.metrics import SEQUENCE_STEPS
from crm_marketing.rules import access
from crm_marketing.rules import campaigns as campaign_rules
from crm_marketing.rules import sequences as rules
from crm_marketing.rules.eligibility import skip_reason
from crm_marketing.store import projection, records
from crm_marketing.store import sending as send_store
from crm_marketing.store import sequences as store
from crm_marketing.tables import campaigns as campaign_table
from crm_marketing.tables import sequences as sequence_table
from crm_marketing.usecases import campaigns, sms, waves
from crmkit.auth import SYSTEM, Principal
from crmkit.db import UnitOfWork
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound
from crmkit.fields import patchable
from crmkit.records import aware, bump, check_version, new_id, stamp_new

UPDATABLE = patchable(Sequence)
DRAFT_ONLY = frozenset({"steps", "purpose", "sender"})  # what its step waves froze
MAX_PER_CALL = 5000


def _emit(uow: UnitOfWork, principal: Principal, kind: str, sequence: Sequence, now: datetime,
          from_status: str = "") -> None:
    emit(uow, principal, kind, sequence.id, sequence.version,
         ev.SequenceChanged(sequence=sequence, from_status=from_status), now)


def _emit_enrolment(uow: UnitOfWork, kind: str, sequence: Sequence, contact_id: str, now: datetime) -> None:
    row = store.enrolment(uow.session, sequence.id, contact_id)
    if row is not None:
        emit(uow, SYSTEM, kind, f"{sequence.id}/{contact_id}", 1 + int(row.steps_done),
             ev.EnrollmentChanged(enrollment=store.to_message(row), campaign_id=sequence.campaign_id), now)


def get(session: Session, *, principal: Principal, sequence_id: str, field: str = "id") -> Sequence:
    sequence = store.load(session, sequence_id) if sequence_id else None
    if sequence is None:
        raise NotFound(f"sequence {sequence_id} not found", field=field)
    campaigns.get(session, principal=principal, campaign_id=sequence.campaign_id, field=field)  # visibility
    sequence.counts.CopyFrom(store.counts(session, sequence.id))
    return sequence


def list_sequences(session: Session, *, principal: Principal, campaign_id: str, status: str, page_size: int,
                   page_token: str) -> tuple[list[Sequence], str]:
    access.require_reader(principal)
    where: list[ColumnElement[bool]] = [access.CAMPAIGNS.clause(principal, campaign_table)]
    if campaign_id:
        where.append(sequence_table.c.campaign_id == campaign_id)
    if status:
        if status not in rules.STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(rules.STATUSES)}", field="status")
        where.append(sequence_table.c.status == status)
    items, token = store.list_sequences(session, where, page_size, page_token)
    for sequence in items:
        sequence.counts.CopyFrom(store.counts(session, sequence.id))
    return items, token


def _check_templates(session: Session, steps: Seq[SequenceStep]) -> None:
    for i, step in enumerate(steps):
        if step.channel != "sms" and records.load_template(session, step.template_id) is None:
            raise NotFound(f"template {step.template_id} not found", field=f"steps[{i}].template_id")


def create(uow: UnitOfWork, *, principal: Principal, now: datetime, sequence: Sequence,
           default_sender: str) -> Sequence:
    campaigns.for_write(uow, principal, sequence.campaign_id, field="campaign_id")
    rules.check(sequence)
    sequence.sender = waves.check_sender(sequence.sender, default_sender, "sender")
    _check_templates(uow.session, sequence.steps)
    for step in sequence.steps:
        step.wave_id = ""
    sequence.id = new_id()
    sequence.status = "draft"
    sequence.created_by = principal.user_id
    stamp_new(sequence, now)
    store.save(uow.session, sequence, new=True)
    _emit(uow, principal, MARKETING.SEQUENCE_CREATED, sequence, now)
    return sequence


def _for_write(uow: UnitOfWork, principal: Principal, sequence_id: str, expected_version: int) -> Sequence:
    sequence = store.load(uow.session, sequence_id, for_update=True) if sequence_id else None
    if sequence is None:
        raise NotFound(f"sequence {sequence_id} not found", field="id")
    campaigns.for_write(uow, principal, sequence.campaign_id)
    check_version(sequence.version, expected_version)
    return sequence


def update(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Sequence, paths: Seq[str],
           expected_version: int, default_sender: str) -> Sequence:
    if not paths:
        raise InvalidArgument("update_mask names no field", field="update_mask")
    for path in paths:
        if path not in UPDATABLE:
            raise InvalidArgument(f"{path} cannot be changed here", field=path)
    sequence = _for_write(uow, principal, patch.id, expected_version)
    if sequence.status != "draft" and (frozen := sorted(set(paths) & DRAFT_ONLY)):
        raise FailedPrecondition(f"{frozen[0]} is fixed once a sequence is active; make a new sequence",
                                 field=frozen[0])
    for path in paths:
        if path == "steps":
            del sequence.steps[:]
            sequence.steps.extend(patch.steps)
        else:
            setattr(sequence, path, getattr(patch, path))
    rules.check(sequence)
    if "sender" in paths:
        sequence.sender = waves.check_sender(sequence.sender, default_sender, "sender")
    if "steps" in paths:
        _check_templates(uow.session, sequence.steps)
    bump(sequence, now)
    store.save(uow.session, sequence, new=False)
    _emit(uow, principal, MARKETING.SEQUENCE_UPDATED, sequence, now)
    sequence.counts.CopyFrom(store.counts(uow.session, sequence.id))
    return sequence


def delete(uow: UnitOfWork, *, principal: Principal, now: datetime, sequence_id: str, expected_version: int) -> None:
    sequence = _for_write(uow, principal, sequence_id, expected_version)
    if sequence.status != "draft":
        raise FailedPrecondition("only a draft sequence is deleted; archive this one", field="id")
    store.remove(uow.session, sequence.id)
    bump(sequence, now)
    _emit(uow, principal, MARKETING.SEQUENCE_DELETED, sequence, now)


def change_status(uow: UnitOfWork, *, principal: Principal, now: datetime, sequence_id: str, status: str,
                  expected_version: int, mail_enabled: bool) -> Sequence:
    sequence = _for_write(uow, principal, sequence_id, expected_version)
    old = sequence.status
    rules.check_transition(old, status)
    if status == "active" and old == "draft":
        campaign_rules.require_live(campaigns.for_write(uow, principal, sequence.campaign_id), "sequences")
        if not mail_enabled:
            raise FailedPrecondition("this marketing service sends no mail: set SMTP_URL", field="status")
        _activate(uow, principal, now, sequence)
    if status == "archived":
        for contact_id in store.active_in(uow.session, sequence.id):
            _finish(uow, sequence, contact_id, status="exited", reason=rules.ARCHIVED, now=now)
        for step in sequence.steps:
            if step.wave_id:
                waves.close(uow, principal=principal, now=now, wave_id=step.wave_id)
    sequence.status = status
    bump(sequence, now)
    store.save(uow.session, sequence, new=False)
    _emit(uow, principal, MARKETING.SEQUENCE_STATUS_CHANGED, sequence, now, from_status=old)
    sequence.counts.CopyFrom(store.counts(uow.session, sequence.id))
    return sequence


def _activate(uow: UnitOfWork, principal: Principal, now: datetime, sequence: Sequence) -> None:
    """Each step's wave, with its template as it is now (later edits change no mail of it)."""
    for i, step in enumerate(sequence.steps):
        if step.channel == "sms":  # texted: its own continuous sms wave
            step.wave_id = sms.create_for(uow, principal=principal, now=now, campaign_id=sequence.campaign_id,
                                          content=step.sms, variant=f"step-{i + 1}", kind="sequence",
                                          source_id=sequence.id).id
            continue
        template = records.load_template(uow.session, step.template_id)
        if template is None:
            raise NotFound(f"template {step.template_id} not found", field=f"steps[{i}].template_id")
        wave = waves.create_for(uow, principal=principal, now=now, campaign_id=sequence.campaign_id,
                                template=template, purpose=sequence.purpose, sender=sequence.sender,
                                variant=f"step-{i + 1}", kind="sequence", source_id=sequence.id)
        step.wave_id = wave.id


# -- enrolments


def enrol_one(uow: UnitOfWork, *, sequence: Sequence, contact_id: str, source: str, now: datetime) -> str:
    """"" when enrolled now, else why not: already_enrolled, unknown_contact, suppressed."""
    session = uow.session
    if store.enrolment(session, sequence.id, contact_id) is not None:
        return "already_enrolled"
    contact = projection.get(session, contact_id)
    if contact is None:
        return "unknown_contact"
    if contact.suppressed:
        return "suppressed"
    store.enrol(session, sequence_id=sequence.id, contact_id=contact_id, source=source, now=now,
                first_due=rules.due_at(now, sequence.steps[0].day))
    _emit_enrolment(uow, MARKETING.ENROLLMENT_STARTED, sequence, contact_id, now)
    return ""


def enroll(uow: UnitOfWork, *, principal: Principal, now: datetime, sequence_id: str, contact_ids: Seq[str],
           wave_id: str) -> EnrollContactsResponse:
    sequence = _for_write(uow, principal, sequence_id, 0)
    if sequence.status != "active":
        raise FailedPrecondition(f"the sequence is {sequence.status}; contacts join an active one", field="sequence_id")
    wanted = list(dict.fromkeys(c.strip() for c in contact_ids if c.strip()))
    if len(wanted) > MAX_PER_CALL:
        raise InvalidArgument(f"at most {MAX_PER_CALL} contacts per call", field="contact_ids")
    source = "api"
    if wave_id:
        wave = waves.get(uow.session, principal=principal, wave_id=wave_id, field="wave_id")
        wanted = list(dict.fromkeys([*wanted, *send_store.mailed(uow.session, wave.id)]))
        source = f"wave:{wave.id}"
    if not wanted:
        raise InvalidArgument("name contacts, or a wave that mailed someone", field="contact_ids")
    outcome: Counter[str] = Counter()
    for contact_id in wanted:
        outcome[enrol_one(uow, sequence=sequence, contact_id=contact_id, source=source, now=now) or "enrolled"] += 1
    answer = EnrollContactsResponse(enrolled=outcome.pop("enrolled", 0),
                                    already_enrolled=outcome.pop("already_enrolled", 0))
    answer.skipped.update(outcome)
    return answer


def list_enrollments(session: Session, *, principal: Principal, sequence_id: str, status: str, page_size: int,
                     page_token: str) -> tuple[list[Enrollment], str]:
    sequence = get(session, principal=principal, sequence_id=sequence_id, field="sequence_id")
    if status and status not in ("active", "completed", "exited"):
        raise InvalidArgument("status must be one of active, completed, exited", field="status")
    return store.list_enrollments(session, sequence.id, status, page_size, page_token)


def remove(uow: UnitOfWork, *, principal: Principal, now: datetime, sequence_id: str, contact_id: str) -> Enrollment:
    sequence = _for_write(uow, principal, sequence_id, 0)
    row = store.enrolment(uow.session, sequence.id, contact_id, for_update=True) if contact_id else None
    if row is None:
        raise NotFound(f"contact {contact_id} is not in this sequence", field="contact_id")
    if row.status == "active":
        _finish(uow, sequence, contact_id, status="exited", reason=rules.REMOVED, now=now)
    found = store.enrolment(uow.session, sequence.id, contact_id)
    assert found is not None
    return store.to_message(found)


def _finish(uow: UnitOfWork, sequence: Sequence, contact_id: str, *, status: str, reason: str, now: datetime) -> None:
    store.finish(uow.session, sequence.id, contact_id, status=status, reason=reason, now=now)
    _emit_enrolment(uow, MARKETING.ENROLLMENT_FINISHED, sequence, contact_id, now)


def exit_contact(uow: UnitOfWork, *, contact_id: str, reason: str, now: datetime) -> int:
    """The contact leaves every sequence it is in (converted, unsubscribed, replied); how many."""
    rows = store.active_of(uow.session, contact_id)
    for row in rows:
        sequence = store.load(uow.session, row.sequence_id)
        if sequence is not None:
            _finish(uow, sequence, contact_id, status="exited", reason=reason, now=now)
    return len(rows)


def enrol_nurturing(uow: UnitOfWork, *, contact_id: str, lead_id: str, now: datetime) -> int:
    """A lead sales sent back for nurturing: its contact joins every active nurturing sequence."""
    return sum(not enrol_one(uow, sequence=s, contact_id=contact_id, source=f"nurturing:{lead_id}", now=now)
               for s in store.nurturing(uow.session))


# -- firing the steps


def fire_due(uow: UnitOfWork, *, now: datetime, limit: int, skip_locked: bool = False) -> int:
    """Fire the due steps (claimed under a row lock, in this transaction with their send record:
    a recipient of the step's wave, pending or skipped with the reason) and schedule the next."""
    fired = 0
    cache: dict[str, Sequence | None] = {}
    for due in store.due_steps(uow.session, now, limit, skip_locked=skip_locked):
        if due.sequence_id not in cache:
            cache[due.sequence_id] = store.load(uow.session, due.sequence_id)
        sequence = cache[due.sequence_id]
        if sequence is None or not store.mark_step(uow.session, due.seq, outcome="", now=now):
            continue  # another worker fired it
        store.set_outcome(uow.session, due.seq, _fire(uow, sequence, due, now))
        fired += 1
    return fired


def _fire(uow: UnitOfWork, sequence: Sequence, due: Row[Any], now: datetime) -> str:
    session = uow.session
    contact_id, index = str(due.contact_id), int(due.step)
    row = store.enrolment(session, sequence.id, contact_id, for_update=True)
    if row is None or row.status != "active" or index >= len(sequence.steps):
        return "cancelled"
    reach = projection.reachability(session, [contact_id], sequence.purpose).get(contact_id)
    reason = skip_reason(reach, sequence.purpose)
    if reason in rules.ENDS_ENROLMENT:
        store.advance(session, sequence.id, contact_id, None)
        _finish(uow, sequence, contact_id, status="exited", reason=rules.ENDS_ENROLMENT[reason], now=now)
        SEQUENCE_STEPS.labels(reason).inc()
        return reason
    step = sequence.steps[index]
    if step.channel == "sms":  # its own consent (marketing_sms): without it this step is skipped, no more
        outcome = sms.enqueue(uow, wave_id=step.wave_id, contact_id=contact_id) or "queued"
    else:
        outcome = waves.enqueue(uow, wave_id=step.wave_id, contact_id=contact_id, purpose=sequence.purpose) or "queued"
    SEQUENCE_STEPS.labels(outcome).inc()
    if index + 1 < len(sequence.steps):
        next_at = rules.due_at(aware(row.enrolled_at), sequence.steps[index + 1].day)
        if next_at < now:  # fired late (a pause, an outage): keep the spacing between the steps
            next_at = rules.due_at(now, sequence.steps[index + 1].day - step.day)
        store.schedule(session, sequence_id=sequence.id, contact_id=contact_id, step=index + 1, due_at=next_at)
        store.advance(session, sequence.id, contact_id, next_at)
    else:
        store.advance(session, sequence.id, contact_id, None)
        _finish(uow, sequence, contact_id, status="completed", reason="", now=now)
    return outcome
