"""The catalogue: per source (a read-model table) the dimensions a query may group and filter by,
its time fields, and its measures. Nothing else reaches SQL: a query names entries of this table,
and the builder refuses any other name, naming the field.

A measure is a list of SQL aggregates (`parts`) and how their values become the figure
(`finish`), plus the condition of the rows it counts (`where`), which is what its drill-down lists."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, exists, func, literal, select, true
from sqlalchemy.sql.elements import KeyedColumnElement

from crm.reporting.v1.reporting_pb2 import Catalogue, CatalogueField, CatalogueMeasure, CatalogueSource
from crm_reporting.rules import AMOUNT_SCALE
from crm_reporting.tables import (
    csat_answers,
    csat_day_rollup,
    lead_rollup,
    leads,
    opportunities,
    opportunity_day_rollup,
    opportunity_rollup,
    sla_breaches,
    ticket_day_rollup,
    ticket_rollup,
    ticket_tag_rollup,
    ticket_tags,
    tickets,
)
from crm_reporting.usecases import VISIBLE, csat_visible, tickets_visible
from crmkit.auth import Principal

GRAINS = ("day", "week", "month", "quarter", "year")
FILTER_OPS = ("eq", "ne", "in", "not_in", "gte", "lte", "contains")


@dataclass(frozen=True)
class Dimension:
    name: str
    label: str
    expr: ColumnElement[Any]
    type: str = "text"                 # text | day | number
    join_tags: bool = False            # groups over ticket_tags (a ticket once per tag)


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    unit: str                          # count | amount | ratio | days | hours | rating | percent
    description: str
    where: ColumnElement[bool]
    parts: Sequence[ColumnElement[Any]]
    finish: Callable[[Sequence[Any]], float | None]
    # the same parts over the source's rollup: (condition, rollup column summed where it holds)
    rollup: Sequence[tuple[ColumnElement[bool], str]] = ()


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    record: str
    table: Table
    id_column: KeyedColumnElement[Any]
    dimensions: dict[str, Dimension]
    measures: dict[str, Measure]
    time_fields: tuple[str, ...]       # <field>_day / _week / _quarter columns of the table
    visible: Callable[[Principal], ColumnElement[bool]]
    filter_only: dict[str, Dimension] = field(default_factory=dict)
    rollup: Table | None = None        # its rollup by month of each time field (store.rollups)
    tag_rollup: Table | None = None    # the same per tag, for the dimension "tag"
    day_rollup: Table | None = None    # per day of each time field: day and week grains, any window
    #                                    (without `rollup`: every query it covers, all-time ones too)

    def filterable(self, name: str) -> Dimension | None:
        return self.dimensions.get(name) or self.filter_only.get(name)

    def period(self, time_field: str, grain: str) -> ColumnElement[str]:
        day = self.table.c[f"{time_field}_day"]
        if grain == "day":
            return day
        if grain == "month":
            return func.substr(day, 1, 7)
        if grain == "year":
            return func.substr(day, 1, 4)
        return self.table.c[f"{time_field}_{grain}"]   # week (its Monday), quarter (YYYY-Qn)


# -- building blocks ------------------------------------------------------------------------------

def _n(values: Sequence[Any]) -> float | None:
    return float(values[0] or 0)


def _count(name: str, label: str, description: str, where: ColumnElement[bool],
           on_rollup: ColumnElement[bool] | None = None) -> Measure:
    """`on_rollup`: the condition over the rollup when `where` is not over columns it keeps."""
    return Measure(name, label, "count", description, where, [func.sum(case((where, 1), else_=0))], _n,
                   [(on_rollup if on_rollup is not None else where, "n")])


def _amount(name: str, label: str, description: str, where: ColumnElement[bool],
            units: ColumnElement[Any] | None = None, scale: int = AMOUNT_SCALE, rollup: str = "amount_units") -> Measure:
    units = units if units is not None else opportunities.c.amount_units
    return Measure(name, label, "amount", description, where, [func.sum(case((where, units), else_=0))],
                   lambda v: round(int(v[0] or 0) / scale, 2), [(where, rollup)])


def _average(name: str, label: str, unit: str, description: str, where: ColumnElement[bool],
             value: ColumnElement[Any], divide: float = 1.0, rollup: tuple[str, str] | None = None) -> Measure:
    both = and_(where, value.is_not(None))

    def finish(v: Sequence[Any]) -> float | None:
        total, n = v
        return round(float(total) / float(n) / divide, 4) if n else None

    return Measure(name, label, unit, description, both,
                   [func.sum(case((both, value), else_=0)), func.sum(case((both, 1), else_=0))], finish,
                   [(where, rollup[0]), (where, rollup[1])] if rollup else ())


def _ratio(name: str, label: str, description: str, part: ColumnElement[bool],
           whole: ColumnElement[bool]) -> Measure:
    def finish(v: Sequence[Any]) -> float | None:
        p, w = v
        return round(float(p or 0) / float(w), 4) if w else None

    return Measure(name, label, "ratio", description, whole,
                   [func.sum(case((and_(whole, part), 1), else_=0)), func.sum(case((whole, 1), else_=0))], finish,
                   [(and_(whole, part), "n"), (whole, "n")])


def _dims(table: Table, names: dict[str, str], **types: str) -> dict[str, Dimension]:
    return {name: Dimension(name, label=label, expr=table.c[column], type=types.get(name, "text"))
            for name, (column, label) in ((n, tuple(v.split("|"))) for n, v in names.items())}


# -- the sources ----------------------------------------------------------------------------------

o = opportunities.c
_OPEN, _WON, _LOST = o.status == "open", o.status == "won", o.status == "lost"
OPPORTUNITIES = Source(
    "opportunities", "Opportunities", "opportunity", opportunities, o.opportunity_id,
    dimensions=_dims(opportunities, {
        "stage": "stage|Stage", "status": "status|Status (open, won, lost)", "owner": "owner_id|Owner (rep)",
        "team": "team|Team", "region": "region|Region", "currency": "currency_code|Currency",
        "first_campaign": "first_campaign_id|First-touch campaign", "last_campaign": "last_campaign_id|Last-touch campaign",
    }),
    filter_only={"probability": Dimension("probability", "Probability (%)", o.probability, "number"),
                 "expected_quarter": Dimension("expected_quarter", "Expected close quarter", o.expected_quarter)},
    measures={m.name: m for m in (
        _count("count", "Opportunities", "every opportunity", true()),
        _count("open", "Open", "open opportunities (the pipeline)", _OPEN),
        _count("won", "Won", "won opportunities", _WON),
        _count("lost", "Lost", "lost opportunities", _LOST),
        _amount("amount", "Amount", "sum of the amounts, per currency", true()),
        _amount("open_amount", "Pipeline", "sum of the open opportunities' amounts, per currency", _OPEN),
        _amount("won_amount", "Won amount", "sum of the won opportunities' amounts, per currency", _WON),
        _amount("weighted_amount", "Weighted pipeline", "open amounts times their probability, per currency",
                _OPEN, o.amount_units * o.probability, AMOUNT_SCALE * 100, "weighted_units"),
        _average("avg_amount", "Average amount", "amount", "average amount, per currency", true(),
                 o.amount_units, AMOUNT_SCALE, ("amount_units", "n")),
        _average("avg_probability", "Average probability", "percent", "average stage probability", true(),
                 o.probability, rollup=("probability_sum", "n")),
        _average("avg_cycle_days", "Average deal cycle", "days", "days from creation to win, over won deals",
                 _WON, o.cycle_days, rollup=("cycle_days_sum", "cycle_n")),
        _ratio("win_rate", "Win rate", "won / (won + lost)", _WON, o.status.in_(("won", "lost"))),
    )},
    time_fields=("created", "closed", "expected"),
    visible=lambda principal: VISIBLE.clause(principal, opportunities),
    rollup=opportunity_rollup,
    day_rollup=opportunity_day_rollup,
)

le = leads.c
LEADS = Source(
    "leads", "Leads", "lead", leads, le.lead_id,
    dimensions=_dims(leads, {"source": "source|Source", "status": "status|Status", "owner": "owner_id|Owner",
                             "team": "team|Team", "region": "region|Region", "campaign": "campaign_id|Campaign"}),
    measures={m.name: m for m in (
        _count("count", "Leads", "every lead", true()),
        _count("converted", "Converted", "leads converted to a deal", le.status == "converted"),
        _count("disqualified", "Disqualified", "leads disqualified", le.status == "disqualified"),
        _ratio("conversion_rate", "Conversion rate", "converted / leads", le.status == "converted", true()),
    )},
    time_fields=("created",),
    visible=lambda principal: VISIBLE.clause(principal, leads),
    rollup=lead_rollup,
)

t = tickets.c
_SOLVED = t.resolution_seconds.is_not(None)
_BREACHED = exists(select(sla_breaches.c.ticket_id).where(sla_breaches.c.ticket_id == t.ticket_id))
_TICKET_DIMS = _dims(tickets, {"status": "status|Status", "priority": "priority|Priority", "type": "type|Type",
                               "channel": "channel|Channel", "assignee": "assignee_id|Assignee", "team": "team|Team",
                               "region": "region|Region"})
_TICKET_DIMS["tag"] = Dimension("tag", "Issue (tag; untagged: the ticket's type)",
                                func.coalesce(ticket_tags.c.tag, t.type), join_tags=True)
TICKETS = Source(
    "tickets", "Tickets", "ticket", tickets, t.ticket_id,
    dimensions=_TICKET_DIMS,
    measures={m.name: m for m in (
        _count("count", "Tickets", "every ticket", true()),
        _count("open", "Unsolved", "tickets not solved or closed", t.status.not_in(("solved", "closed"))),
        _count("solved", "Solved", "tickets solved (then possibly closed)", _SOLVED, ticket_rollup.c.solved == 1),
        _count("sla_breached", "SLA breached", "tickets that breached an SLA clock", _BREACHED,
               ticket_rollup.c.breached == 1),
        _average("avg_resolution_hours", "Average resolution time", "hours", "created to solved, over solved tickets",
                 true(), t.resolution_seconds, 3600.0, ("resolution_sum", "resolution_n")),
        _average("avg_first_response_hours", "Average first response", "hours", "created to the first response",
                 true(), t.first_response_seconds, 3600.0, ("first_response_sum", "first_response_n")),
    )},
    time_fields=("created", "solved"),
    visible=tickets_visible,
    rollup=ticket_rollup,
    tag_rollup=ticket_tag_rollup,
    day_rollup=ticket_day_rollup,
)

cs = csat_answers.c
CSAT = Source(
    "csat", "CSAT answers", "ticket", csat_answers, cs.ticket_id,
    dimensions={"assignee": Dimension("assignee", "Assignee", cs.assignee_id),
                "rating": Dimension("rating", "Rating (1-5)", cs.rating, "number")},
    measures={m.name: m for m in (
        _count("count", "Answers", "CSAT answers", true()),
        _average("avg_rating", "Average rating", "rating", "average of the ratings (1-5)", true(), cs.rating,
                 rollup=("rating_sum", "n")),
        _ratio("satisfied_share", "Satisfied", "share of answers rating 4 or 5", cs.rating >= 4, true()),
    )},
    time_fields=("answered",),
    visible=csat_visible,
    day_rollup=csat_day_rollup,      # its only rollup: every grain and window reads it
)

SOURCES: dict[str, Source] = {s.name: s for s in (OPPORTUNITIES, LEADS, TICKETS, CSAT)}


def tag_exists(values: ColumnElement[bool]) -> ColumnElement[bool]:
    """A ticket filter on its tags, without multiplying its rows."""
    return exists(select(literal(1)).where(ticket_tags.c.ticket_id == t.ticket_id, values))


def describe() -> Catalogue:
    """What `GET /reports/catalogue` publishes."""
    def fields(dims: dict[str, Dimension]) -> list[CatalogueField]:
        return [CatalogueField(name=d.name, label=d.label, type=d.type) for d in dims.values()]

    return Catalogue(
        sources=[CatalogueSource(
            name=s.name, label=s.label, record=s.record, dimensions=fields(s.dimensions),
            measures=[CatalogueMeasure(name=m.name, label=m.label, unit=m.unit, description=m.description)
                      for m in s.measures.values()],
            time_fields=list(s.time_fields), filters=fields({**s.dimensions, **s.filter_only}),
        ) for s in SOURCES.values()],
        time_grains=list(GRAINS), filter_ops=list(FILTER_OPS),
    )
