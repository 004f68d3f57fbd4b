"""Event-triggered rules, their firings per contact, and the wave of each round."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from crm.marketing.v1.marketing_pb2 import AutomationRule
from crm_marketing.tables import automation_rules, campaigns, rule_firings, rule_waves
from crmkit.paging import decode_cursor, encode_cursor, page_size
from crmkit.records import aware

ru, f = automation_rules.c, rule_firings.c


def save(session: Session, rule: AutomationRule, *, new: bool) -> None:
    stored = AutomationRule()
    stored.CopyFrom(rule)
    stored.ClearField("fired")  # counted on read
    values = dict(id=rule.id, campaign_id=rule.campaign_id, trigger_type=rule.trigger.event_type, status=rule.status,
                  version=rule.version, data=stored.SerializeToString())
    if new:
        session.execute(insert(automation_rules).values(**values))
    else:
        session.execute(update(automation_rules).where(ru.id == rule.id).values(**values))


def load(session: Session, rule_id: str, *, for_update: bool = False) -> AutomationRule | None:
    stmt = select(ru.data).where(ru.id == rule_id)
    if for_update:
        stmt = stmt.with_for_update()
    data = session.execute(stmt).scalar_one_or_none()
    return None if data is None else AutomationRule.FromString(data)


def remove(session: Session, rule_id: str) -> None:
    session.execute(delete(automation_rules).where(ru.id == rule_id))


def list_rules(session: Session, where: list[ColumnElement[bool]], requested: int,
               page_token: str) -> tuple[list[AutomationRule], str]:
    size = page_size(requested)
    stmt = select(ru.data, ru.seq).join(campaigns, campaigns.c.id == ru.campaign_id).where(*where)
    if page_token:
        stmt = stmt.where(ru.seq < decode_cursor(page_token))
    rows = session.execute(stmt.order_by(ru.seq.desc()).limit(size + 1)).all()
    return [AutomationRule.FromString(r.data) for r in rows[:size]], encode_cursor(rows[size - 1].seq) if len(rows) > size else ""


def active(session: Session) -> list[AutomationRule]:
    """Every active rule (a small table: the rules a marketing team keeps)."""
    return [AutomationRule.FromString(d) for d in session.execute(select(ru.data).where(ru.status == "active"))
            .scalars()]


def active_triggered_by(session: Session, kinds: Sequence[str]) -> list[AutomationRule]:
    rows = session.execute(select(ru.data).where(ru.status == "active", ru.trigger_type.in_(list(kinds)))
                           .order_by(ru.seq)).scalars()
    return [AutomationRule.FromString(d) for d in rows]


def fired_counts(session: Session, rule_ids: Sequence[str]) -> dict[str, int]:
    if not rule_ids:
        return {}
    rows = session.execute(select(f.rule_id, func.count()).where(f.rule_id.in_(list(rule_ids))).group_by(f.rule_id))
    return {rule_id: int(n) for rule_id, n in rows}


def last_firing(session: Session, rule_id: str, contact_id: str) -> Row[Any] | None:
    return session.execute(select(f.round, f.fired_at).where(f.rule_id == rule_id, f.contact_id == contact_id)
                           .order_by(f.round.desc()).limit(1)).first()


def add_firing(session: Session, rule_id: str, contact_id: str, round_: int, at: datetime) -> None:
    session.execute(insert(rule_firings).values(rule_id=rule_id, contact_id=contact_id, round=round_, fired_at=at))


def fired_at(row: Row[Any]) -> datetime:
    at: datetime = row.fired_at
    return aware(at)


def wave_of(session: Session, rule_id: str, round_: int) -> str | None:
    return session.execute(select(rule_waves.c.wave_id).where(rule_waves.c.rule_id == rule_id,
                                                              rule_waves.c.round == round_)).scalar_one_or_none()


def set_wave(session: Session, rule_id: str, round_: int, wave_id: str, *, new: bool) -> None:
    if new:
        session.execute(insert(rule_waves).values(rule_id=rule_id, round=round_, wave_id=wave_id))
    else:
        session.execute(update(rule_waves).where(rule_waves.c.rule_id == rule_id, rule_waves.c.round == round_)
                        .values(wave_id=wave_id))


def waves_of(session: Session, rule_id: str) -> list[str]:
    return list(session.execute(select(rule_waves.c.wave_id).where(rule_waves.c.rule_id == rule_id)).scalars())
