"""Who sees and changes which customer. The same matrix is checked on the per-record functions
and on the SQL clause the list uses, so a list can never show what a get would hide."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from crm_contacts.rules.visibility import VISIBILITY
from crm_contacts.tables import contacts, metadata
from crm_devtools.users import DEMO_USERS
from crmkit.auth import Principal
from crmkit.errors import PermissionDenied
from crmkit.visibility import check_assignable

SUPPORT = Principal("support.1", ("support",), "support", "")
ANALYST = Principal("analyst.1", ("analyst",), "bi", "")
FINANCE = Principal("finance.1", ("finance",), "finance", "north")
MARKETING = Principal("mkt.1", ("marketing",), "marketing", "north")
NO_TEAM_MANAGER = Principal("manager.none", ("manager",), "", "")
PRINCIPALS = {**DEMO_USERS, "support.1": SUPPORT, "analyst.1": ANALYST, "finance.1": FINANCE,
              "mkt.1": MARKETING, "manager.none": NO_TEAM_MANAGER}

# Records: (id, owner, team, region)
RECORDS = [
    ("n1", "rep.north.1", "north-sales", "north"),
    ("n2", "rep.north.2", "north-sales", "north"),
    ("s1", "rep.south.1", "south-sales", "south"),
    ("x1", "rep.north.1", "key-accounts", "south"),   # a north rep's customer filed under south
    ("hq", "admin", "hq", ""),
    ("m1", "mkt.1", "marketing", "north"),
]

# user → (ids readable, ids writable)
MATRIX = {
    "admin": ({"n1", "n2", "s1", "x1", "hq", "m1"}, {"n1", "n2", "s1", "x1", "hq", "m1"}),
    "system": ({"n1", "n2", "s1", "x1", "hq", "m1"}, {"n1", "n2", "s1", "x1", "hq", "m1"}),
    "manager.north": ({"n1", "n2", "m1"}, {"n1", "n2", "m1"}),
    "manager.south": ({"s1", "x1"}, {"s1", "x1"}),
    "rep.north.1": ({"n1", "x1"}, {"n1", "x1"}),
    "rep.north.2": ({"n2"}, {"n2"}),
    "rep.south.1": ({"s1"}, {"s1"}),
    "rep.south.2": (set(), set()),
    "support.1": ({"n1", "n2", "s1", "x1", "hq", "m1"}, set()),
    "analyst.1": ({"n1", "n2", "s1", "x1", "hq", "m1"}, set()),
    "finance.1": (set(), set()),            # finance owns nothing and reads customers elsewhere
    "mkt.1": ({"m1"}, {"m1"}),
    "manager.none": (set(), set()),        # a manager without team or region sees nothing
}


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    now = datetime.now(UTC)
    with Session(engine) as s:
        for record_id, owner, team, region in RECORDS:
            s.execute(insert(contacts).values(
                id=record_id, name=record_id, owner_id=owner, team=team, region=region, level="", source="",
                version=1, deleted=False, created_at=now, updated_at=now, data=b"",
                account_id="", company_name="", merged_into_id="",
            ))
        s.commit()
        yield s
    engine.dispose()


@pytest.mark.parametrize("user", sorted(MATRIX))
def test_read_and_write_matrix(user: str) -> None:
    principal = PRINCIPALS[user]
    readable, writable = MATRIX[user]
    assert {r[0] for r in RECORDS if VISIBILITY.can_read(principal, *r[1:])} == readable
    assert {r[0] for r in RECORDS if VISIBILITY.can_write(principal, *r[1:])} == writable
    assert writable <= readable


@pytest.mark.parametrize("user", sorted(MATRIX))
def test_list_clause_shows_exactly_what_get_allows(user: str, session: Session) -> None:
    principal = PRINCIPALS[user]
    listed = set(session.execute(select(contacts.c.id).where(VISIBILITY.clause(principal, contacts))).scalars())
    assert listed == MATRIX[user][0]


def test_rep_can_only_assign_records_to_themselves() -> None:
    rep = DEMO_USERS["rep.north.1"]
    check_assignable(rep, "rep.north.1")
    with pytest.raises(PermissionDenied) as err:
        check_assignable(rep, "rep.north.2")
    assert err.value.field == "owner_id"
    with pytest.raises(PermissionDenied):
        check_assignable(SUPPORT, "rep.north.1")


@pytest.mark.parametrize("user", ["admin", "manager.north", "manager.south"])
def test_managers_and_admins_assign_to_anyone(user: str) -> None:
    check_assignable(DEMO_USERS[user], "rep.south.2")
