"""The owner / team / region rule as services parameterize it, checked both ways it is used: the
WHERE clause a list runs on a real SQLite table, and `can_read` on one record; they agree."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from crmkit.auth import SYSTEM, Principal
from crmkit.errors import PermissionDenied
from crmkit.visibility import Visibility, check_assignable, require_manager

RULE = Visibility(read_all=("support", "analyst"), writers=("rep", "marketing"))
ROWS = [  # id, owner, team, region
    ("n1", "rep.north.1", "north-sales", "north"),
    ("n2", "rep.north.2", "north-sales", "north"),
    ("s1", "rep.south.1", "south-sales", "south"),
    ("x1", "rep.x", "key-accounts", "north"),  # another team in the north region
    ("b1", "", "", ""),  # unowned, no team, no region
    ("b2", "rep.north.1", "", ""),  # owned, but no team or region
]
PRINCIPALS = {
    "admin": Principal("admin", ("admin",), "hq"),
    "system": SYSTEM,
    "support": Principal("support.1", ("support",), "helpdesk"),
    "manager north": Principal("manager.north", ("manager",), "north-sales", "north"),
    "manager of a team only": Principal("m.team", ("manager",), "south-sales", ""),
    "manager of a region only": Principal("m.region", ("manager",), "", "south"),
    "manager of nothing": Principal("m.blank", ("manager",), "", ""),
    "rep": Principal("rep.north.1", ("rep",), "north-sales", "north"),
    "rep with a delegation": Principal("rep.north.2", ("rep",), "north-sales", "north"),
    "legal": Principal("legal.hq", ("legal",), "hq"),
}
DELEGATORS = {"rep with a delegation": ("rep.south.1",)}
EXPECTED = {
    "admin": {"n1", "n2", "s1", "x1", "b1", "b2"},
    "system": {"n1", "n2", "s1", "x1", "b1", "b2"},
    "support": {"n1", "n2", "s1", "x1", "b1", "b2"},
    "manager north": {"n1", "n2", "x1"},  # the team's, and the region's of other teams
    "manager of a team only": {"s1"},
    "manager of a region only": {"s1"},
    "manager of nothing": set(),  # a blank team matches nothing, not every blank row
    "rep": {"n1", "b2"},
    "rep with a delegation": {"n2", "s1"},
    "legal": set(),
}

meta = MetaData()
records = Table("records", meta, Column("id", String(10), primary_key=True), Column("owner_id", String(50)),
                Column("team", String(50)), Column("region", String(50)))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    engine = create_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('vis')) / 'v.db'}")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(records), [dict(zip(("id", "owner_id", "team", "region"), r, strict=True)) for r in ROWS])
    yield engine
    engine.dispose()


@pytest.mark.parametrize("who", PRINCIPALS)
def test_the_clause_and_can_read_agree_on_a_real_table(engine, who):
    principal, delegators = PRINCIPALS[who], DELEGATORS.get(who, ())
    with engine.connect() as conn:
        listed = set(conn.execute(select(records.c.id).where(RULE.clause(principal, records, delegators))).scalars())
    readable = {r[0] for r in ROWS if RULE.can_read(principal, r[1], r[2], r[3], delegators)}
    assert listed == readable == EXPECTED[who]


def test_writing_needs_a_writer_role_for_ones_own_and_a_manager_for_what_they_see():
    rep, legal = PRINCIPALS["rep"], PRINCIPALS["legal"]
    assert RULE.can_write(rep, "rep.north.1", "north-sales", "north")
    assert not RULE.can_write(rep, "rep.north.2", "north-sales", "north")
    assert not RULE.can_write(rep, "", "", ""), "an unowned record is nobody's to change"
    assert RULE.can_write(PRINCIPALS["rep with a delegation"], "rep.south.1", "south-sales", "south", ("rep.south.1",))
    assert not RULE.can_write(Principal("legal.hq", ("legal",)), "legal.hq", "", "")
    assert not RULE.can_write(legal, "rep.north.1", "north-sales", "north")
    manager = PRINCIPALS["manager north"]
    assert RULE.can_write(manager, "rep.x", "key-accounts", "north")
    assert not RULE.can_write(manager, "rep.south.1", "south-sales", "south")
    assert RULE.can_write(PRINCIPALS["admin"], "anyone", "any", "where")
    assert not RULE.can_write(PRINCIPALS["support"], "rep.north.1", "north-sales", "north"), \
        "reading everything is not writing everything"


def test_the_read_all_roles_are_the_services_choice():
    strict = Visibility()
    assert not strict.can_read(PRINCIPALS["support"], "rep.north.1", "north-sales", "north")
    assert strict.can_read(PRINCIPALS["admin"], "rep.north.1", "north-sales", "north")


def test_assigning_and_manager_only_actions():
    check_assignable(PRINCIPALS["rep"], "rep.north.1")
    check_assignable(PRINCIPALS["manager north"], "rep.north.2")
    with pytest.raises(PermissionDenied) as refused:
        check_assignable(PRINCIPALS["rep"], "rep.north.2")
    assert refused.value.field == "owner_id"
    require_manager(PRINCIPALS["manager north"], "transfer customers")
    require_manager(SYSTEM, "transfer customers")
    with pytest.raises(PermissionDenied, match="transfer customers"):
        require_manager(PRINCIPALS["rep"], "transfer customers")
