"""A contract has a page of its own (GET by id, under the list's visibility), and the contracts and
delegations lists page by cursor: every item once, in order; without a page size, the whole list
in one answer as before paging."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.common.v1.types_pb2 import Money
from crm.sales.v1.sales_pb2 import Contract, Delegation
from crm_sales.store import records
from crm_sales.usecases import contracts, ownership
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.paging import encode_key
from crmkit.records import new_id

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("admin", ("admin",), "hq", "")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
REP1 = Principal("rep.north.1", ("rep",), "north-sales", "north")
REP2 = Principal("rep.north.2", ("rep",), "north-sales", "north")


def seed_contract(sales: Any, owner: Principal, n: int, status: str = "draft") -> Contract:
    """A contract row as the create use case writes it (that path, from an accepted quote, is
    tested in test_deal_usecases); here only reading matters."""
    c = Contract(id=new_id(), number=f"C-2026-{n:06d}", quote_id=new_id(), opportunity_id="opp-1",
                 total=Money(currency_code="CNY", amount="5000"), status=status, owner_id=owner.user_id,
                 team=owner.team, region=owner.region, version=1)
    c.created_at.FromDatetime(NOW)
    c.updated_at.FromDatetime(NOW)
    sales.write(lambda uow: records.insert_record(uow.session, c))
    return c


def all_pages(fetch: Any, size: int) -> list[list[str]]:
    pages, token = [], ""
    while True:
        items, token = fetch(size, token)
        pages.append([i.id for i in items])
        if not token:
            return pages


def test_a_contract_is_read_by_id_only_by_who_may_list_it(sales: Any) -> None:
    mine = seed_contract(sales, REP1, 1)

    def get(who: Principal, contract_id: str) -> Contract:
        return sales.read(lambda s: contracts.get_contract(s, principal=who, now=NOW, contract_id=contract_id))

    assert get(REP1, mine.id).number == "C-2026-000001"
    assert get(MANAGER, mine.id).id == mine.id  # the owner's manager sees the team's
    with pytest.raises(NotFound) as hidden:  # another rep: as absent as from their list
        get(REP2, mine.id)
    assert hidden.value.field == "id"
    listed, _ = sales.read(lambda s: contracts.list_contracts(s, principal=REP2, now=NOW, opportunity_id="",
                                                              status=""))
    assert listed == []
    with pytest.raises(NotFound):
        get(ADMIN, "no-such-contract")
    # a delegation lends the delegate the contract, as it lends the list
    d = Delegation(from_user_id=REP1.user_id, to_user_id=REP2.user_id)
    d.ends_at.FromDatetime(NOW + timedelta(days=7))
    sales.write(lambda uow: ownership.delegate(uow, principal=REP1, now=NOW, delegation=d))
    assert get(REP2, mine.id).id == mine.id


def test_contracts_page_oldest_first_with_their_filters(sales: Any) -> None:
    made = [seed_contract(sales, REP1, n, "signed" if n % 2 else "draft") for n in range(5)]
    seed_contract(sales, REP2, 9)  # not REP1's: in no page of theirs

    def fetch(size: int, token: str, status: str = "") -> Any:
        return sales.read(lambda s: contracts.list_contracts(s, principal=REP1, now=NOW, opportunity_id="",
                                                             status=status, page_size=size, page_token=token))

    ids = [c.id for c in made]
    assert all_pages(fetch, 2) == [ids[0:2], ids[2:4], ids[4:]]
    assert all_pages(fetch, 0) == [ids]  # an old caller, no page size: everything, no next page
    signed = all_pages(lambda size, token: fetch(size, token, "signed"), 1)
    assert signed == [[made[1].id], [made[3].id]]
    with pytest.raises(InvalidArgument) as err:
        fetch(2, "not-a-token")
    assert err.value.field == "page_token"


def test_delegations_page_by_start_then_id(sales: Any) -> None:
    made = []
    for n, start in enumerate([3, 1, 1, 2]):  # two start at the same moment: the id breaks the tie
        d = Delegation(from_user_id=REP1.user_id, to_user_id=f"rep.north.{n + 2}")
        d.starts_at.FromDatetime(NOW + timedelta(days=start))
        d.ends_at.FromDatetime(NOW + timedelta(days=10))
        made.append(sales.write(lambda uow, d=d: ownership.delegate(uow, principal=REP1, now=NOW, delegation=d)))
    expected = [d.id for d in sorted(made, key=lambda d: (d.starts_at.ToDatetime(), d.id))]

    def fetch(size: int, token: str, user_id: str = "") -> Any:
        return sales.read(lambda s: ownership.list_delegations(s, principal=MANAGER, now=NOW, user_id=user_id,
                                                               active_only=False, page_size=size, page_token=token))

    assert all_pages(fetch, 3) == [expected[:3], expected[3:]]
    assert all_pages(fetch, 1) == [[i] for i in expected]
    assert all_pages(fetch, 0) == [expected]  # an old caller: all of them in one answer
    assert all_pages(lambda size, token: fetch(size, token, "rep.north.3"), 1) == [[made[1].id]]
    for garbage in ("not-a-token", encode_key("yesterday", "x"), encode_key("x")):
        with pytest.raises(InvalidArgument) as err:
            fetch(2, garbage)
        assert err.value.field == "page_token"


def test_a_rep_lists_only_the_delegations_they_give_or_receive(sales: Any) -> None:
    """Who is away and who stands in is a manager's to read: a rep sees their own only."""
    rep2 = Principal("rep.north.2", ("rep",), "north-sales", "north")
    mine = Delegation(from_user_id=REP1.user_id, to_user_id="rep.north.3")
    mine.starts_at.FromDatetime(NOW + timedelta(days=1))
    mine.ends_at.FromDatetime(NOW + timedelta(days=5))
    made = sales.write(lambda uow: ownership.delegate(uow, principal=REP1, now=NOW, delegation=mine))

    def listed(principal: Principal, user_id: str = "") -> list[str]:
        items, _ = sales.read(lambda s: ownership.list_delegations(s, principal=principal, now=NOW, user_id=user_id,
                                                                    active_only=False))
        return [d.id for d in items]

    assert listed(REP1) == [made.id] and listed(REP1, REP1.user_id) == [made.id]
    assert listed(rep2) == []
    with pytest.raises(PermissionDenied):
        listed(rep2, REP1.user_id)
    assert listed(MANAGER, REP1.user_id) == [made.id]
