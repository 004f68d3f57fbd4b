"""Won-deal spend: one row per opportunity at the newest version sales told us about, and the sums
per customer, calendar year and currency that the spend band filters on. A sum is recomputed
from the deals whenever one of its deals changes, so a redelivered or reordered event cannot
count twice."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import String, bindparam, cast, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from crm_contacts.tables import customer_spend, won_deals


@dataclass(frozen=True)
class Deal:
    opportunity_id: str
    version: int
    won: bool
    contact_id: str
    account_id: str
    year: int
    currency: str
    amount_cents: int


_LOAD = select(won_deals).where(won_deals.c.opportunity_id == bindparam("oid")).with_for_update()
_INSERT = insert(won_deals)
_UPDATE = update(won_deals).where(won_deals.c.opportunity_id == bindparam("oid"))


def load_deal(session: Session, opportunity_id: str) -> Deal | None:
    row = session.connection().execute(_LOAD, {"oid": opportunity_id}).first()
    if row is None:
        return None
    return Deal(row.opportunity_id, row.version, row.won, row.contact_id, row.account_id, row.year, row.currency,
                row.amount_cents)


def save_deal(session: Session, deal: Deal, *, exists: bool) -> None:
    values = {"version": deal.version, "won": deal.won, "contact_id": deal.contact_id, "account_id": deal.account_id,
              "year": deal.year, "currency": deal.currency, "amount_cents": deal.amount_cents}
    if exists:
        session.connection().execute(_UPDATE, {**values, "oid": deal.opportunity_id})
    else:
        session.connection().execute(_INSERT, {**values, "opportunity_id": deal.opportunity_id})


def move_contact_deals(session: Session, from_contact: str, to_contact: str) -> None:
    session.execute(update(won_deals).where(won_deals.c.contact_id == from_contact).values(contact_id=to_contact))


def recompute(session: Session, entity: str, entity_ids: Iterable[str]) -> None:
    """Each customer's sums again from its won deals."""
    key = won_deals.c.contact_id if entity == "contact" else won_deals.c.account_id
    for entity_id in dict.fromkeys(i for i in entity_ids if i):
        session.execute(delete(customer_spend).where(customer_spend.c.entity == entity,
                                                     customer_spend.c.entity_id == entity_id))
        sums = (
            select(cast(literal(entity), String(10)), cast(literal(entity_id), String(36)), won_deals.c.year, won_deals.c.currency,
                   func.sum(won_deals.c.amount_cents))
            .where(key == entity_id, won_deals.c.won.is_(True))
            .group_by(won_deals.c.year, won_deals.c.currency)
        )
        session.execute(insert(customer_spend).from_select(
            ["entity", "entity_id", "year", "currency", "amount_cents"], sums))


def spend_of(session: Session, entity: str, entity_id: str) -> dict[tuple[int, str], int]:
    """(year, currency) → cents: what a customer's band is computed from."""
    rows = session.execute(select(customer_spend.c.year, customer_spend.c.currency, customer_spend.c.amount_cents)
                           .where(customer_spend.c.entity == entity, customer_spend.c.entity_id == entity_id))
    return {(r.year, r.currency): r.amount_cents for r in rows}
