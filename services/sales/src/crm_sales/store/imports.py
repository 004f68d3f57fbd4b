"""Persistence of lead and product imports: the job tables (crmkit.imports) and the lookups of
duplicates against the database, one statement per batch."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import Product
from crm_sales.tables import imports, leads, products
from crmkit.imports.store import ImportStore

STORE = ImportStore(imports)


def lead_owners(session: Session, values: Sequence[str]) -> dict[str, str]:
    """Leads holding any of these emails or phones: value → lead id."""
    if not values:
        return {}
    wanted = list(set(values))
    rows = session.execute(select(leads.c.id, leads.c.email, leads.c.phone).where(
        or_(leads.c.email.in_(wanted), leads.c.phone.in_(wanted))).order_by(leads.c.seq))
    found: dict[str, str] = {}
    for lead_id, email, phone in rows:
        for value in (email, phone):
            if value:
                found.setdefault(value, lead_id)
    return found


def products_by_sku(session: Session, skus: Sequence[str]) -> dict[str, Product]:
    if not skus:
        return {}
    rows = session.execute(select(products.c.data).where(products.c.sku.in_(list(set(skus))))).scalars()
    return {p.sku: p for p in (Product.FromString(d) for d in rows)}


def insert_products(session: Session, new: Sequence[Product]) -> None:
    if new:
        session.execute(insert(products), [dict(id=p.id, sku=p.sku, active=p.active, data=p.SerializeToString())
                                           for p in new])
