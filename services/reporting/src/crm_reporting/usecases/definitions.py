"""Saved queries and dashboards: definitions a user keeps private or shares with their team or
everyone. Anyone who may see one may run it, and runs it with their own visibility (a shared
pipeline query shows a rep their own deals, their manager the team's). Only the owner (or an
admin) changes or deletes it. Every query in a definition is checked against the catalogue when
saved, so a saved query never fails for a name the catalogue does not know."""
from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from sqlalchemy import ColumnElement, Table, delete, insert, or_, select, true, update
from sqlalchemy.orm import Session

from crm.common.v1.types_pb2 import PageResponse
from crm.reporting.v1.reporting_pb2 import (
    Dashboard,
    DashboardList,
    DashboardView,
    DrillDownResult,
    DrillDownWidgetRequest,
    QueryResult,
    SavedQuery,
    SavedQueryList,
    Thresholds,
    Widget,
    WidgetView,
)
from crm_reporting.analytics import query
from crm_reporting.store import events_applied
from crm_reporting.tables import dashboards, saved_queries
from crmkit import paging
from crmkit.auth import Principal
from crmkit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

SHARING = ("private", "team", "everyone")
WIDGET_KINDS = ("figure", "series", "table", "funnel")
MAX_WIDGETS = 50
# a widget id is a path segment of its drill-down (/dashboards/<id>/widgets/<widget_id>/drill-down)
WIDGET_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _visible(principal: Principal, table: Table) -> ColumnElement[bool]:
    if principal.is_admin:
        return true()
    clauses = [table.c.owner_id == principal.user_id, table.c.sharing == "everyone"]
    if principal.team:
        clauses.append((table.c.sharing == "team") & (table.c.team == principal.team))
    return or_(*clauses)


def _at(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _check_common(name: str, sharing: str, field: str) -> str:
    if not name.strip():
        raise InvalidArgument("give a name", field=_at(field, "name"))
    if len(name) > 200:
        raise InvalidArgument("at most 200 characters", field=_at(field, "name"))
    sharing = sharing or "private"
    if sharing not in SHARING:
        raise InvalidArgument(f"one of: {', '.join(SHARING)}", field=_at(field, "sharing"))
    return sharing


def _row(session: Session, table: Table, principal: Principal, id_: str, what: str) -> Any:
    row = session.execute(select(table).where(table.c.id == id_, _visible(principal, table))).first()
    if row is None:
        raise NotFound(f"no {what} {id_}", field="id")
    return row


def _owned(principal: Principal, row: Any, what: str) -> None:
    if not (principal.is_admin or row.owner_id == principal.user_id):
        raise PermissionDenied(f"only its owner or an admin can change this {what}")


def _put(session: Session, table: Table, principal: Principal, now: datetime, id_: str, values: dict[str, Any],
         expected_version: int, what: str) -> dict[str, Any]:
    if not id_:
        row = {"id": str(uuid.uuid4()), "owner_id": principal.user_id, "team": principal.team, "version": 1,
               "created_at": now, "updated_at": now, **values}
        session.execute(insert(table), row)
        return row
    current = _row(session, table, principal, id_, what)
    _owned(principal, current, what)
    if expected_version and expected_version != current.version:
        raise Conflict(f"it is at version {current.version}", field="version")
    changed = {**values, "version": current.version + 1, "updated_at": now}
    session.execute(update(table).where(table.c.id == id_), changed)
    return {**current._asdict(), **changed}


# -- saved queries ----------------------------------------------------------------------------------

def _saved(row: Any) -> SavedQuery:
    found = SavedQuery(id=row["id"], name=row["name"], description=row["description"], sharing=row["sharing"],
                       owner_id=row["owner_id"], team=row["team"], version=row["version"])
    json_format.Parse(row["definition"], found.query)
    found.created_at.FromDatetime(row["created_at"])
    found.updated_at.FromDatetime(row["updated_at"])
    return found


def save_query(session: Session, *, principal: Principal, now: datetime, id_: str, saved: SavedQuery,
               field: str = "", expected_version: int = 0) -> SavedQuery:
    """`expected_version` (If-Match) wins over the body's `version`; either stale is a Conflict."""
    sharing = _check_common(saved.name, saved.sharing, field)
    checked = query.plan(saved.query, principal, field=_at(field, "query")).query
    checked.dimensions[:] = list(saved.query.dimensions)   # keep what the user chose, not the defaults
    row = _put(session, saved_queries, principal, now, id_, {
        "name": saved.name.strip(), "description": saved.description, "sharing": sharing,
        "definition": json_format.MessageToJson(checked, indent=None)}, expected_version or saved.version,
        "saved query")
    return _saved(row)


def get_saved(session: Session, *, principal: Principal, id_: str) -> SavedQuery:
    return _saved(_row(session, saved_queries, principal, id_, "saved query")._mapping)


def list_saved(session: Session, *, principal: Principal) -> SavedQueryList:
    rows = session.execute(select(saved_queries).where(_visible(principal, saved_queries))
                           .order_by(saved_queries.c.name, saved_queries.c.id))
    return SavedQueryList(items=[_saved(r._mapping) for r in rows])


def delete_definition(session: Session, *, principal: Principal, table: Table, id_: str, what: str,
                      expected_version: int = 0) -> None:
    row = _row(session, table, principal, id_, what)
    _owned(principal, row, what)
    if expected_version and expected_version != row.version:
        raise Conflict(f"it is at version {row.version}", field="version")
    session.execute(delete(table).where(table.c.id == id_))


def run_saved(session: Session, *, principal: Principal, id_: str) -> QueryResult:
    saved = get_saved(session, principal=principal, id_=id_)
    return query.run(session, saved.query, principal, title=saved.name)


# -- dashboards -------------------------------------------------------------------------------------

def _dashboard(row: Any) -> Dashboard:
    found = json_format.Parse(row["definition"], Dashboard(), ignore_unknown_fields=True)
    found.MergeFrom(Dashboard(id=row["id"], name=row["name"], sharing=row["sharing"], owner_id=row["owner_id"],
                              team=row["team"], version=row["version"]))
    found.created_at.FromDatetime(row["created_at"])
    found.updated_at.FromDatetime(row["updated_at"])
    return found


def _check_widgets(principal: Principal, widgets: list[Widget], field: str) -> None:
    if len(widgets) > MAX_WIDGETS:
        raise InvalidArgument(f"at most {MAX_WIDGETS} widgets", field=_at(field, "widgets"))
    seen: set[str] = set()
    for i, w in enumerate(widgets):
        at = _at(field, f"widgets[{i}]")
        if not w.id:
            w.id = f"w{i + 1}"
        if not WIDGET_ID.fullmatch(w.id):
            raise InvalidArgument("1 to 64 letters, digits, '-', '_' or '.'", field=f"{at}.id")
        if w.id in seen:
            raise InvalidArgument(f"widget id {w.id!r} used twice", field=f"{at}.id")
        seen.add(w.id)
        if w.kind not in WIDGET_KINDS:
            raise InvalidArgument(f"one of: {', '.join(WIDGET_KINDS)}", field=f"{at}.kind")
        query.plan(w.query, principal, field=f"{at}.query")
        t = w.thresholds
        for name in ("green", "amber"):
            if t.HasField(name) and not math.isfinite(getattr(t, name)):
                raise InvalidArgument("a finite number", field=f"{at}.thresholds.{name}")
        if t.HasField("green") and t.HasField("amber") and (
                (t.green < t.amber) if not t.lower_is_better else (t.green > t.amber)):
            raise InvalidArgument("green must be better than amber", field=f"{at}.thresholds.green")


def save_dashboard(session: Session, *, principal: Principal, now: datetime, id_: str, dashboard: Dashboard,
                   field: str = "", expected_version: int = 0) -> Dashboard:
    """`expected_version` (If-Match) wins over the body's `version`; either stale is a Conflict."""
    sharing = _check_common(dashboard.name, dashboard.sharing, field)
    widgets = [Widget() for _ in dashboard.widgets]
    for copy, w in zip(widgets, dashboard.widgets, strict=True):
        copy.CopyFrom(w)
    _check_widgets(principal, widgets, field)
    definition = json_format.MessageToJson(Dashboard(widgets=widgets), indent=None)
    row = _put(session, dashboards, principal, now, id_, {
        "name": dashboard.name.strip(), "description": "", "sharing": sharing, "definition": definition},
        expected_version or dashboard.version, "dashboard")
    return _dashboard(row)


def get_dashboard(session: Session, *, principal: Principal, id_: str) -> Dashboard:
    return _dashboard(_row(session, dashboards, principal, id_, "dashboard")._mapping)


def list_dashboards(session: Session, *, principal: Principal, page_size: int = 0,
                    page_token: str = "") -> DashboardList:
    """A page by name then id; the default page is the largest, as the list was whole before it
    paged, so an old caller still gets every dashboard (up to 200) and a next_page_token past them."""
    size = paging.page_size(page_size, default=paging.MAX_PAGE)
    stmt = select(dashboards).where(_visible(principal, dashboards))
    if page_token:
        name, after = paging.decode_key(page_token, 2)
        stmt = stmt.where(or_(dashboards.c.name > name, (dashboards.c.name == name) & (dashboards.c.id > after)))
    rows = session.execute(stmt.order_by(dashboards.c.name, dashboards.c.id).limit(size + 1)).all()
    more = paging.encode_key(rows[size - 1].name, rows[size - 1].id) if len(rows) > size else ""
    return DashboardList(items=[_dashboard(r._mapping) for r in rows[:size]], page=PageResponse(next_page_token=more))


def status_of(value: float | None, t: Thresholds) -> str:
    """green / amber / red of a figure; "" without a figure or without thresholds."""
    if value is None or not (t.HasField("green") or t.HasField("amber")):
        return ""

    def at_least(limit: float) -> bool:
        return value <= limit if t.lower_is_better else value >= limit

    if t.HasField("green") and at_least(t.green):
        return "green"
    if t.HasField("amber") and at_least(t.amber):
        return "amber"
    return "red"


def _value(v: Any) -> float | None:
    return None if v.WhichOneof("kind") != "number_value" else float(v.number_value)


def _last_point(rows: Any) -> Any:
    """A series' last point: the row of the latest period (its keys sort in time order; the
    widget's order_by or limit may have put it anywhere among the rows), None without rows."""
    return max(rows, key=lambda r: list(r.keys), default=None)


def render(session: Session, *, principal: Principal, id_: str) -> DashboardView:
    """Every widget's query run with the caller's visibility, its figure and its colour."""
    board = get_dashboard(session, principal=principal, id_=id_)
    view = DashboardView(dashboard=board, events_applied=events_applied(session))
    for i, w in enumerate(board.widgets):
        result = query.run(session, w.query, principal, title=w.title, field=f"widgets[{i}].query")
        if w.kind == "series" and result.rows:
            figure = _value(_last_point(result.rows).values.values[0])
        else:
            figure = _value(result.totals.values[0]) if result.totals.values else None
        item = WidgetView(widget_id=w.id, title=w.title, kind=w.kind, result=result,
                          status=status_of(figure, w.thresholds))
        if figure is not None:
            item.figure = figure
        view.widgets.append(item)
    return view


def drill_widget(session: Session, *, principal: Principal, request: DrillDownWidgetRequest) -> DrillDownResult:
    """The records behind a widget's figure (no keys) or one of its rows (the row's keys)."""
    board = get_dashboard(session, principal=principal, id_=request.dashboard_id)
    widget = next((w for w in board.widgets if w.id == request.widget_id), None)
    if widget is None:
        raise NotFound(f"no widget {request.widget_id} on this dashboard", field="widget_id")
    keys = list(request.keys)
    if not keys and widget.kind == "series":   # a series' figure is its last point
        last = _last_point(query.run(session, widget.query, principal).rows)
        keys = list(last.keys) if last is not None else []
    return query.drill(session, widget.query, principal, keys=keys, measure=request.measure,
                       page_token=request.page.page_token, size=request.page.page_size)
