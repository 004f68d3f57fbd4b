"""The email rollup (tables.email_rollup): per wave, campaign and day, the mails delivered and what
their recipients did since, and the engagements of that day. A mail is the engagement rows of one
(wave, contact); `record_engagement` (store.campaigns) moves the rollup from the mail's rows before
a change to its rows after it (store.rollups.apply), in the transaction that writes the rows, and
`rebuild` computes the same rollup rows from the engagement rows (the migration's backfill)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, insert, literal, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm_reporting.store.rollups import Rollup, Row
from crm_reporting.tables import email_engagements, email_rollup

SENT = "sent"
KINDS = ("opened", "clicked", "unsubscribed")
MEASURES = ("n", "delivered", *(f"{k}_delivered" for k in KINDS), *KINDS)

_E = email_engagements
MAIL = select(_E.c.kind, _E.c.campaign_id, _E.c.first_at, _E.c.day, _E.c.week).where(
    _E.c.wave_id == bindparam("w"), _E.c.contact_id == bindparam("c"))


def _mail_rows(mail: Row) -> Iterable[dict[str, Any]]:
    """mail: {"wave_id", "kinds": kind → (campaign_id, day, week)}."""
    kinds = mail["kinds"]
    zero = dict.fromkeys(MEASURES, 0)
    for kind in KINDS:
        if kind in kinds:
            campaign, day, week = kinds[kind]
            yield {"wave_id": mail["wave_id"], "campaign_id": campaign, "day": day, "week": week,
                   **zero, "n": 1, kind: 1}
    if SENT in kinds:
        campaign, day, week = kinds[SENT]
        yield {"wave_id": mail["wave_id"], "campaign_id": campaign, "day": day, "week": week, **zero, "n": 1,
               "delivered": 1, **{f"{k}_delivered": int(k in kinds) for k in KINDS}}


EMAIL = Rollup(email_rollup, ("wave_id", "campaign_id", "day"), ("week",), MEASURES, _mail_rows)


def mail(session: Session, wave_id: str, contact_id: str) -> dict[str, Any]:
    """The engagement rows of one mail: kind → its row (kind, campaign_id, first_at, day, week)."""
    return {r.kind: r for r in session.execute(MAIL, {"w": wave_id, "c": contact_id})}


def as_row(wave_id: str, rows: dict[str, Any]) -> Row | None:
    """What `_mail_rows` reads of a mail's rows (None: no rows)."""
    if not rows:
        return None
    return {"wave_id": wave_id, "kinds": {k: (r.campaign_id, r.day, r.week) for k, r in rows.items()}}


def rebuild(session: Session | Connection) -> None:
    session.execute(email_rollup.delete())
    sent = _E.alias("rolled_sent")
    of = {k: _E.alias(f"rolled_{k}") for k in KINDS}
    joined: Any = sent
    for k, other in of.items():
        joined = joined.outerjoin(other, and_(other.c.wave_id == sent.c.wave_id, other.c.contact_id == sent.c.contact_id,
                                              other.c.kind == k))
    zero = literal(0)

    def is_(kind: str) -> ColumnElement[Any]:
        return func.sum(case((_E.c.kind == kind, 1), else_=0))

    names = ["wave_id", "campaign_id", "day", "week", *MEASURES]

    def labelled(*columns: ColumnElement[Any]) -> list[ColumnElement[Any]]:
        return [c.label(name) for c, name in zip(columns, names, strict=True)]

    engaged = select(*labelled(_E.c.wave_id, _E.c.campaign_id, _E.c.day, _E.c.week, func.count(),
                               *(zero for _ in range(4)), *(is_(k) for k in KINDS))
                     ).where(_E.c.kind.in_(KINDS)).group_by(_E.c.wave_id, _E.c.campaign_id, _E.c.day, _E.c.week)
    delivered = select(*labelled(sent.c.wave_id, sent.c.campaign_id, sent.c.day, sent.c.week, func.count(),
                                 func.count(), *(func.count(of[k].c.kind) for k in KINDS), *(zero for _ in KINDS))
                       ).select_from(joined).where(sent.c.kind == SENT).group_by(
                           sent.c.wave_id, sent.c.campaign_id, sent.c.day, sent.c.week)
    both = union_all(engaged, delivered).subquery()
    keys = [both.c.wave_id, both.c.campaign_id, both.c.day]
    session.execute(insert(email_rollup).from_select(names, select(
        *keys, func.max(both.c.week), *(func.sum(both.c[m]) for m in MEASURES)).group_by(*keys)))
