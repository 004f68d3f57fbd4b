"""Sales targets: per month, per team (rep "") or per rep in a team, in one currency. A manager
sets their own team's; an admin any team's; nobody else sets any. A put replaces the target of
the same (month, team, rep); an amount of 0 removes it."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crm.reporting.v1.reporting_pb2 import ListTargetsRequest, PutTargetsRequest, SalesTarget, TargetList
from crm_reporting.rules import AMOUNT_SCALE, MAX_UNITS, amount_units, format_amount
from crm_reporting.tables import leads, opportunities, sales_targets
from crm_reporting.usecases.analytics import _targets_visible
from crmkit.auth import Principal
from crmkit.currencies import check_currency
from crmkit.errors import InvalidArgument, PermissionDenied

MAX_TARGETS = 1000


def _month(value: str, field: str) -> str:
    if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit() or not 1 <= int(value[5:]) <= 12:
        raise InvalidArgument("use YYYY-MM", field=field)
    return value


def _message(row: object) -> SalesTarget:
    t = SalesTarget(month=row.month, team=row.team, rep_id=row.rep_id,  # type: ignore[attr-defined]
                    currency_code=row.currency_code, amount=format_amount(row.amount_units),  # type: ignore[attr-defined]
                    set_by=row.set_by)  # type: ignore[attr-defined]
    t.updated_at.FromDatetime(row.updated_at)  # type: ignore[attr-defined]
    return t


def _teams_of(session: Session, rep_id: str) -> set[str]:
    """The teams a rep's deals and leads are filed under, as reporting has seen them."""
    found: set[str] = set()
    for table in (opportunities, leads):
        found.update(session.execute(select(table.c.team).where(table.c.owner_id == rep_id).distinct()).scalars())
    return found


def _units(amount: str, field: str) -> int:
    """The amount in the read model's ten-thousandths; finer digits are refused, not rounded (a
    positive amount rounded to 0 would remove the target)."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidArgument("a decimal amount, e.g. 150000.00", field=field)
    units = amount_units(amount)
    if units < 0:
        raise InvalidArgument("must not be negative", field=field)
    if units > MAX_UNITS:
        raise InvalidArgument(f"at most {format_amount(MAX_UNITS)}", field=field)
    if value * AMOUNT_SCALE != units:
        raise InvalidArgument("at most 4 decimal places", field=field)
    return units


def put_targets(session: Session, *, principal: Principal, now: datetime, request: PutTargetsRequest) -> TargetList:
    if not (principal.is_admin or principal.is_manager):
        raise PermissionDenied("only a manager or an admin can set targets")
    if not request.targets:
        raise InvalidArgument("give at least one target", field="targets")
    if len(request.targets) > MAX_TARGETS:
        raise InvalidArgument(f"at most {MAX_TARGETS} targets at once", field="targets")
    rows = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, t in enumerate(request.targets):
        at = f"targets[{i}]"
        month = _month(t.month, f"{at}.month")
        team = t.team or ("" if principal.is_admin else principal.team)
        if not team:
            raise InvalidArgument("name the team", field=f"{at}.team")
        if not principal.is_admin and team != principal.team:
            raise PermissionDenied("a manager sets their own team's targets", field=f"{at}.team")
        if t.rep_id and not principal.is_admin and _teams_of(session, t.rep_id) - {team}:
            # the rep's records sit in another team: a manager may not file targets for them
            raise PermissionDenied("a manager sets targets for reps of their own team", field=f"{at}.rep_id")
        currency = check_currency(t.currency_code, f"{at}.currency_code")
        units = _units(t.amount.strip(), f"{at}.amount")
        key = (month, team, t.rep_id)
        if key in seen:
            raise InvalidArgument(f"the same month, team and rep as targets[{seen[key]}]: one target each, "
                                  "in one currency", field=at)
        seen[key] = i
        rows.append({"month": month, "team": team, "rep_id": t.rep_id, "currency_code": currency,
                     "amount_units": units, "set_by": principal.user_id, "updated_at": now})
    for row in rows:
        session.execute(delete(sales_targets).where(
            sales_targets.c.month == row["month"], sales_targets.c.team == row["team"],
            sales_targets.c.rep_id == row["rep_id"]))
        if row["amount_units"]:
            session.execute(insert(sales_targets), row)
    keys = {(r["month"], r["team"], r["rep_id"]) for r in rows}
    found = session.execute(select(sales_targets).order_by(
        sales_targets.c.month, sales_targets.c.team, sales_targets.c.rep_id)).all()
    return TargetList(targets=[_message(r) for r in found if (r.month, r.team, r.rep_id) in keys])


def list_targets(session: Session, *, principal: Principal, request: ListTargetsRequest) -> TargetList:
    where = [_targets_visible(principal)]
    if request.month:
        where.append(sales_targets.c.month == _month(request.month, "month"))
    if request.team:
        where.append(sales_targets.c.team == request.team)
    rows = session.execute(select(sales_targets).where(*where).order_by(
        sales_targets.c.month, sales_targets.c.team, sales_targets.c.rep_id))
    return TargetList(targets=[_message(r) for r in rows])
