"""Sequences, their enrolments and the scheduled step of each enrolment."""
from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import Enrollment, Sequence, SequenceCounts
from crm_marketing.tables import campaigns, enrollments, scheduled_steps, sequences
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import aware

e, st = enrollments.c, scheduled_steps.c

# -- sequences


def save(session: Session, sequence: Sequence, *, new: bool) -> None:
    stored = Sequence()
    stored.CopyFrom(sequence)
    stored.ClearField("counts")  # counted on read
    values = dict(id=sequence.id, campaign_id=sequence.campaign_id, status=sequence.status,
                  enroll_nurturing=int(sequence.enroll_nurturing), version=sequence.version,
                  data=stored.SerializeToString())
    if new:
        session.execute(insert(sequences).values(**values))
    else:
        session.execute(update(sequences).where(sequences.c.id == sequence.id).values(**values))


def load(session: Session, sequence_id: str, *, for_update: bool = False) -> Sequence | None:
    stmt = select(sequences.c.data).where(sequences.c.id == sequence_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else Sequence.FromString(data)


def remove(session: Session, sequence_id: str) -> None:
    session.execute(delete(sequences).where(sequences.c.id == sequence_id))


def list_sequences(session: Session, where: list[ColumnElement[bool]], requested: int,
                   page_token: str) -> tuple[list[Sequence], str]:
    """Sequences whose campaign matches `where` (the visibility clause over campaigns)."""
    size = page_size(requested)
    stmt = select(sequences.c.data, sequences.c.seq).join(campaigns, campaigns.c.id == sequences.c.campaign_id) \
        .where(*where)
    if page_token:
        stmt = stmt.where(sequences.c.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(sequences.c.seq.desc()).limit(size + 1)).all()
    return [Sequence.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def nurturing(session: Session) -> list[Sequence]:
    """The active sequences leads sent back for nurturing join."""
    rows = session.execute(select(sequences.c.data).where(sequences.c.enroll_nurturing == 1,
                                                          sequences.c.status == "active")).scalars()
    return [Sequence.FromString(r) for r in rows]


def counts(session: Session, sequence_id: str) -> SequenceCounts:
    out = SequenceCounts()
    for status, reason, n in session.execute(select(e.status, e.exit_reason, func.count()).where(
            e.sequence_id == sequence_id).group_by(e.status, e.exit_reason)):
        out.enrolled += int(n)
        if status == "active":
            out.active += int(n)
        elif status == "completed":
            out.completed += int(n)
        else:
            out.exited[reason] = out.exited[reason] + int(n)
    return out


# -- enrolments


def enrolled(session: Session, sequence_id: str, contact_ids: Seq[str]) -> set[str]:
    found: set[str] = set()
    ids = list(contact_ids)
    for i in range(0, len(ids), 500):
        found.update(session.execute(select(e.contact_id).where(
            e.sequence_id == sequence_id, e.contact_id.in_(ids[i:i + 500]))).scalars())
    return found


def enrol(session: Session, *, sequence_id: str, contact_id: str, source: str, now: datetime,
          first_due: datetime) -> None:
    session.execute(insert(enrollments).values(sequence_id=sequence_id, contact_id=contact_id, status="active",
                                               source=source[:100], enrolled_at=now, next_step_at=first_due))
    schedule(session, sequence_id=sequence_id, contact_id=contact_id, step=0, due_at=first_due)


def enrolment(session: Session, sequence_id: str, contact_id: str, *, for_update: bool = False) -> Row[Any] | None:
    stmt = select(enrollments).where(e.sequence_id == sequence_id, e.contact_id == contact_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).first()


def active_of(session: Session, contact_id: str) -> list[Row[Any]]:
    return list(session.execute(select(enrollments).where(e.contact_id == contact_id, e.status == "active")
                                .with_for_update()).all())


def active_in(session: Session, sequence_id: str) -> list[str]:
    return list(session.execute(select(e.contact_id).where(e.sequence_id == sequence_id, e.status == "active"))
                .scalars())


def finish(session: Session, sequence_id: str, contact_id: str, *, status: str, reason: str, now: datetime) -> None:
    session.execute(update(enrollments).where(e.sequence_id == sequence_id, e.contact_id == contact_id).values(
        status=status, exit_reason=reason, finished_at=now, next_step_at=None))
    session.execute(update(scheduled_steps).where(st.sequence_id == sequence_id, st.contact_id == contact_id,
                                                  st.status == "due").values(status="cancelled", done_at=now))


def advance(session: Session, sequence_id: str, contact_id: str, next_at: datetime | None) -> None:
    session.execute(update(enrollments).where(e.sequence_id == sequence_id, e.contact_id == contact_id).values(
        steps_done=e.steps_done + 1, next_step_at=next_at))


def to_message(row: Row[Any]) -> Enrollment:
    out = Enrollment(sequence_id=row.sequence_id, contact_id=row.contact_id, status=row.status,
                     exit_reason=row.exit_reason, source=row.source, steps_done=row.steps_done)
    out.enrolled_at.FromDatetime(aware(row.enrolled_at))
    if row.next_step_at is not None:
        out.next_step_at.FromDatetime(aware(row.next_step_at))
    if row.finished_at is not None:
        out.finished_at.FromDatetime(aware(row.finished_at))
    return out


def list_enrollments(session: Session, sequence_id: str, status: str, requested: int,
                     page_token: str) -> tuple[list[Enrollment], str]:
    size = page_size(requested)
    stmt = select(enrollments).where(e.sequence_id == sequence_id)
    if status:
        stmt = stmt.where(e.status == status)
    if page_token:
        stmt = stmt.where(e.seq > decode_cursor(page_token))
    rows = session.execute(stmt.order_by(e.seq).limit(size + 1)).all()
    return [to_message(r) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


# -- scheduled steps


def schedule(session: Session, *, sequence_id: str, contact_id: str, step: int, due_at: datetime) -> None:
    session.execute(insert(scheduled_steps).values(sequence_id=sequence_id, contact_id=contact_id, step=step,
                                                   due_at=due_at, status="due"))


def due_steps(session: Session, now: datetime, limit: int, *, skip_locked: bool) -> list[Row[Any]]:
    """Due steps of active sequences, oldest first, row-locked: the claim that makes each fire once."""
    stmt = select(st.seq, st.sequence_id, st.contact_id, st.step, st.due_at).join(
        sequences, sequences.c.id == st.sequence_id).where(
        st.status == "due", st.due_at <= now, sequences.c.status == "active",
    ).order_by(st.due_at, st.seq).limit(limit)
    return list(session.execute(stmt.with_for_update(of=scheduled_steps, skip_locked=skip_locked)).all())


def mark_step(session: Session, seq: int, *, outcome: str, now: datetime) -> bool:
    """False when it was not due any more (another worker fired it)."""
    done = session.execute(update(scheduled_steps).where(st.seq == seq, st.status == "due").values(
        status="done", outcome=outcome[:30], done_at=now))
    return bool(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


def set_outcome(session: Session, seq: int, outcome: str) -> None:
    session.execute(update(scheduled_steps).where(st.seq == seq).values(outcome=outcome[:30]))


def next_due(session: Session) -> datetime | None:
    found = session.execute(select(func.min(st.due_at)).where(st.status == "due")).scalar_one_or_none()
    return aware(found) if found is not None else None
