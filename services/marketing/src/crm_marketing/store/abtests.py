"""A/B tests and the audience each froze (every contact in a variant's group or in the rest)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import AbTest
from crm_marketing.tables import ab_members, ab_tests
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import dt

a, m = ab_tests.c, ab_members.c


def save(session: Session, test: AbTest, *, new: bool) -> None:
    stored = AbTest()
    stored.CopyFrom(test)
    stored.ClearField("winner_counts")  # counted on read
    for variant in stored.variants:
        variant.ClearField("counts")
        variant.rate = 0.0
    decide_at = dt(test.decide_at) if test.HasField("decide_at") else None
    values = dict(id=test.id, campaign_id=test.campaign_id, status=test.status, decide_at=decide_at,
                  version=test.version, data=stored.SerializeToString())
    if new:
        session.execute(insert(ab_tests).values(**values))
    else:
        session.execute(update(ab_tests).where(a.id == test.id).values(**values))


def load(session: Session, test_id: str, *, for_update: bool = False) -> AbTest | None:
    stmt = select(a.data).where(a.id == test_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else AbTest.FromString(data)


def list_tests(session: Session, campaign_id: str, requested: int, page_token: str) -> tuple[list[AbTest], str]:
    size = page_size(requested)
    stmt = select(a.data, a.seq).where(a.campaign_id == campaign_id)
    if page_token:
        stmt = stmt.where(a.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(a.seq.desc()).limit(size + 1)).all()
    return [AbTest.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def due(session: Session, now: datetime, limit: int, *, skip_locked: bool) -> list[str]:
    """Tests whose wait is over (to decide) and tests mailing their winner (to complete)."""
    stmt = select(a.id).where(((a.status == "testing") & (a.decide_at <= now)) | (a.status == "sending_winner"))
    return list(session.execute(stmt.order_by(a.seq).limit(limit).with_for_update(skip_locked=skip_locked)).scalars())


def add_members(session: Session, test_id: str, groups: Mapping[str, str]) -> None:
    rows = [{"test_id": test_id, "contact_id": c, "grp": g, "pos": i} for i, (c, g) in enumerate(groups.items())]
    for i in range(0, len(rows), 1000):
        session.execute(insert(ab_members), rows[i:i + 1000])


def members(session: Session, test_id: str, group: str) -> list[str]:
    return list(session.execute(select(m.contact_id).where(m.test_id == test_id, m.grp == group).order_by(m.pos))
                .scalars())
