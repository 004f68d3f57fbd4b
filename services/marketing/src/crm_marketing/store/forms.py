"""Forms and their submissions: protobuf snapshots plus the columns the limits, the delivery job
and the lists query."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import Form, FormSubmission
from crm_marketing.tables import form_submissions, forms
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import dt

s = form_submissions.c
# Spam counts against its address (a bot flooding the honeypot is limited too), not against an email.
_RECENT_BY_IP = select(func.count()).where(s.ip == bindparam("ip"), s.received_at > bindparam("since"))
_RECENT_BY_EMAIL = select(func.count()).where(s.email == bindparam("email"), s.received_at > bindparam("since"),
                                              s.status != "spam")

# -- forms


def save_form(session: Session, form: Form, *, new: bool) -> None:
    stored = Form()
    stored.CopyFrom(form)
    stored.ClearField("submissions")  # counted on read
    values = dict(id=form.id, status=form.status, version=form.version, data=stored.SerializeToString())
    if new:
        session.execute(insert(forms).values(**values))
    else:
        session.execute(update(forms).where(forms.c.id == form.id).values(**values))


def load_form(session: Session, form_id: str, *, for_update: bool = False) -> Form | None:
    stmt = select(forms.c.data).where(forms.c.id == form_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else Form.FromString(data)


def delete_form(session: Session, form_id: str) -> None:
    session.execute(delete(forms).where(forms.c.id == form_id))


def list_forms(session: Session, status: str, requested: int, page_token: str) -> tuple[list[Form], str]:
    size = page_size(requested)
    stmt = select(forms.c.data, forms.c.seq)
    if status:
        stmt = stmt.where(forms.c.status == status)
    if page_token:
        stmt = stmt.where(forms.c.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(forms.c.seq.desc()).limit(size + 1)).all()
    return [Form.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def submission_counts(session: Session, form_ids: Sequence[str]) -> dict[str, int]:
    if not form_ids:
        return {}
    rows = session.execute(select(s.form_id, func.count()).where(s.form_id.in_(list(form_ids)), s.status != "spam")
                           .group_by(s.form_id)).all()
    return {form_id: int(n) for form_id, n in rows}


# -- submissions


def insert_submission(session: Session, submission: FormSubmission, next_attempt_at: datetime | None) -> None:
    session.execute(insert(form_submissions).values(
        id=submission.id, form_id=submission.form_id, email=submission.values.get("email", ""),
        ip=submission.visitor_ip[:64], status=submission.status, received_at=dt(submission.received_at),
        next_attempt_at=next_attempt_at, data=submission.SerializeToString()))


def save_submission(session: Session, submission: FormSubmission, next_attempt_at: datetime | None) -> None:
    session.execute(update(form_submissions).where(s.id == submission.id).values(
        status=submission.status, next_attempt_at=next_attempt_at, data=submission.SerializeToString()))


def load_submission(session: Session, submission_id: str, *, for_update: bool = False) -> FormSubmission | None:
    stmt = select(s.data).where(s.id == submission_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else FormSubmission.FromString(data)


def recent_by_ip(session: Session, ip: str, since: datetime) -> int:
    return int(session.execute(_RECENT_BY_IP, {"ip": ip[:64], "since": since}).scalar_one())


def recent_by_email(session: Session, email: str, since: datetime) -> int:
    return int(session.execute(_RECENT_BY_EMAIL, {"email": email, "since": since}).scalar_one())


def recent_by_email_rows(session: Session, email: str, since: datetime) -> list[FormSubmission]:
    rows = session.execute(select(s.data).where(s.email == email, s.received_at > since, s.status != "spam")
                           .order_by(s.seq.desc()).limit(20)).scalars()
    return [FormSubmission.FromString(r) for r in rows]


def has_submissions(session: Session, form_id: str) -> bool:
    return session.execute(select(s.seq).where(s.form_id == form_id).limit(1)).first() is not None


def due_submissions(session: Session, now: datetime, limit: int) -> list[FormSubmission]:
    rows = session.execute(select(s.data).where(s.status == "pending", s.next_attempt_at <= now)
                           .order_by(s.next_attempt_at, s.seq).limit(limit)).scalars()
    return [FormSubmission.FromString(r) for r in rows]


def pending_for(session: Session, email: str) -> bool:
    """A submission with this email still to be delivered (it will become a lead)."""
    return session.execute(select(s.seq).where(s.email == email, s.status == "pending").limit(1)).first() is not None


def pending_submissions(session: Session) -> int:
    return int(session.execute(select(func.count()).where(s.status == "pending")).scalar_one())


def list_submissions(session: Session, form_id: str, status: str, requested: int,
                     page_token: str) -> tuple[list[FormSubmission], str]:
    size = page_size(requested)
    stmt = select(s.data, s.seq).where(s.form_id == form_id)
    if status:
        stmt = stmt.where(s.status == status)
    if page_token:
        stmt = stmt.where(s.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(s.seq.desc()).limit(size + 1)).all()
    return ([FormSubmission.FromString(r.data) for r in rows[:size]],
            encode_cursor(rows[size - 1].seq) if len(rows) > size else "")
