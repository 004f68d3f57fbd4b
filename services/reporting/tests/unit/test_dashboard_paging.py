"""The dashboards list pages by cursor (name, then id): every dashboard the caller may see once,
in order, across pages; without a page size, the whole list as before paging (up to 200)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import Dashboard, Query, Widget
from crm_reporting.usecases import definitions
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument

NOW = datetime(2024, 7, 3, tzinfo=UTC)
MANAGER = Principal("manager.n", ("manager",), "north-sales", "")
OTHER = Principal("manager.s", ("manager",), "south-sales", "")


def board(session: Session, who: Principal, name: str, sharing: str = "private") -> Dashboard:
    return definitions.save_dashboard(session, principal=who, now=NOW, id_="", dashboard=Dashboard(
        name=name, sharing=sharing, widgets=[Widget(kind="figure", query=Query(source="opportunities",
                                                                               measures=["count"]))]))


def pages(session: Session, who: Principal, size: int) -> list[list[str]]:
    found, token = [], ""
    while True:
        answer = definitions.list_dashboards(session, principal=who, page_size=size, page_token=token)
        found.append([d.name for d in answer.items])
        token = answer.page.next_page_token
        if not token:
            return found


def test_dashboards_page_by_name_and_show_only_what_the_caller_may_see(session: Session) -> None:
    for name in ("销售漏斗", "Alpha", "Beta", "Beta", "季度目标"):  # two of the same name: the id decides
        board(session, MANAGER, name)
    board(session, OTHER, "South private")
    everyone = board(session, OTHER, "Shared", sharing="everyone")
    whole = pages(session, MANAGER, 0)
    assert len(whole) == 1 and sorted(whole[0]) == sorted(["销售漏斗", "Alpha", "Beta", "Beta", "季度目标", "Shared"])
    assert sum(pages(session, MANAGER, 2), []) == whole[0]  # the same order, each once
    assert [len(p) for p in pages(session, MANAGER, 2)] == [2, 2, 2]
    assert pages(session, OTHER, 1) == [[n] for n in sorted(["South private", everyone.name])]
    with pytest.raises(InvalidArgument) as err:
        definitions.list_dashboards(session, principal=MANAGER, page_size=2, page_token="czE")
    assert err.value.field == "page_token"
