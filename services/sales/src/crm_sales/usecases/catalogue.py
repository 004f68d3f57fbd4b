"""Products and price books: what a quote line can be priced from."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.sales.v1.sales_pb2 import PriceBook, Product
from crm_sales.rules import money
from crm_sales.store import catalogue
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import AlreadyExists, InvalidArgument, PermissionDenied
from crmkit.records import new_id


def create_product(uow: UnitOfWork, *, principal: Principal, product: Product) -> Product:
    if not principal.has_role("manager", "finance"):
        raise PermissionDenied("only managers, finance and admins maintain products")
    product.sku = product.sku.strip().upper()
    product.name = product.name.strip()
    if not product.sku:
        raise InvalidArgument("a product needs a SKU", field="sku")
    if not product.name:
        raise InvalidArgument("a product needs a name", field="name")
    if catalogue.sku_taken(uow.session, product.sku):
        raise AlreadyExists(f"SKU {product.sku} exists", field="sku")
    product.id = new_id()
    product.active = True
    catalogue.save_product(uow.session, product, new=True)
    return product


def list_products(session: Session, *, include_inactive: bool) -> list[Product]:
    return catalogue.all_products(session, include_inactive)


def save_price_book(uow: UnitOfWork, *, principal: Principal, book: PriceBook) -> PriceBook:
    if not principal.has_role("manager", "finance"):
        raise PermissionDenied("only managers, finance and admins maintain price books")
    book.name = book.name.strip()
    if not book.name:
        raise InvalidArgument("a price book needs a name", field="name")
    book.currency_code = money.check_currency(book.currency_code, "currency_code")
    book.tier = book.tier.strip() or "standard"
    known = {p.id for p in catalogue.all_products(uow.session)}
    seen: set[str] = set()
    for i, entry in enumerate(book.entries):
        if entry.product_id not in known:
            raise InvalidArgument(f"no product {entry.product_id}", field=f"entries[{i}].product_id")
        if entry.product_id in seen:
            raise InvalidArgument("a product appears once per price book", field=f"entries[{i}].product_id")
        seen.add(entry.product_id)
        if entry.unit_price.currency_code and entry.unit_price.currency_code != book.currency_code:
            raise InvalidArgument(f"prices in this book are in {book.currency_code}",
                                  field=f"entries[{i}].unit_price.currency_code")
        entry.unit_price.CopyFrom(money.money(book.currency_code, money.parse(
            entry.unit_price.amount, f"entries[{i}].unit_price.amount")))
    saved = catalogue.price_book(uow.session, book.id) if book.id else None
    book.id = book.id or new_id()
    if not book.HasField("active"):  # not given: a new book is for use, a saved one stays as it was
        book.active = saved.active if saved is not None else True
    catalogue.save_price_book(uow.session, book)
    return book


def list_price_books(session: Session, *, currency_code: str, tier: str, page_size: int = 0,
                     page_token: str = "") -> tuple[list[PriceBook], str]:
    """A page by id; the default page is the largest, as the list was whole before it paged."""
    return catalogue.page_price_books(session, currency_code, tier, size=page_size, token=page_token)
