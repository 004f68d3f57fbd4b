"""Products, price books, and the gap-free numbering of quotes and contracts."""
from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import PriceBook, Product
from crm_sales.store import changed
from crm_sales.tables import counters, price_books, products
from crmkit.paging import MAX_PAGE, decode_key, encode_key, page_size


def save_product(session: Session, product: Product, *, new: bool) -> None:
    values = dict(id=product.id, sku=product.sku, active=product.active, data=product.SerializeToString())
    if new:
        session.execute(insert(products).values(**values))
    else:
        session.execute(update(products).where(products.c.id == product.id).values(**values))


def all_products(session: Session, include_inactive: bool = True) -> list[Product]:
    stmt = select(products.c.data).order_by(products.c.sku)
    if not include_inactive:
        stmt = stmt.where(products.c.active.is_(True))
    return [Product.FromString(d) for d in session.execute(stmt).scalars()]


def sku_taken(session: Session, sku: str) -> bool:
    return session.execute(select(products.c.id).where(products.c.sku == sku)).first() is not None


def save_price_book(session: Session, book: PriceBook) -> None:
    values = dict(id=book.id, currency=book.currency_code, tier=book.tier, active=book.active,
                  data=book.SerializeToString())
    if session.execute(select(price_books.c.id).where(price_books.c.id == book.id)).first():
        session.execute(update(price_books).where(price_books.c.id == book.id).values(**values))
    else:
        session.execute(insert(price_books).values(**values))


def _book(data: bytes) -> PriceBook:
    book = PriceBook.FromString(data)
    book.active = book.active  # a book saved before `active` had presence reads as off, and says so
    return book


def price_book(session: Session, book_id: str) -> PriceBook | None:
    data = session.execute(select(price_books.c.data).where(price_books.c.id == book_id)).scalar()
    return None if data is None else _book(data)


def find_price_books(session: Session, currency: str = "", tier: str = "") -> list[PriceBook]:
    stmt = select(price_books.c.data).order_by(price_books.c.id)
    if currency:
        stmt = stmt.where(price_books.c.currency == currency)
    if tier:
        stmt = stmt.where(price_books.c.tier == tier)
    return [_book(d) for d in session.execute(stmt).scalars()]


def page_price_books(session: Session, currency: str, tier: str, *, size: int,
                     token: str) -> tuple[list[PriceBook], str]:
    """A page by id (a price book has no sequence column) and the next page's token."""
    size = page_size(size, default=MAX_PAGE)
    stmt = select(price_books.c.id, price_books.c.data).order_by(price_books.c.id).limit(size + 1)
    if currency:
        stmt = stmt.where(price_books.c.currency == currency)
    if tier:
        stmt = stmt.where(price_books.c.tier == tier)
    if token:
        (after,) = decode_key(token, 1)
        stmt = stmt.where(price_books.c.id > after)
    rows = session.execute(stmt).all()
    return [_book(r.data) for r in rows[:size]], encode_key(rows[size - 1].id) if len(rows) > size else ""


def next_number(session: Session, name: str) -> int:
    """Per-name counter incremented inside the caller's transaction: a rolled-back quote gives
    its number back, so numbers have no gaps and never repeat."""
    if not changed(session, update(counters).where(counters.c.name == name).values(value=counters.c.value + 1)):
        session.execute(insert(counters).values(name=name, value=1))
        return 1
    return int(session.execute(select(counters.c.value).where(counters.c.name == name)).scalar_one())
