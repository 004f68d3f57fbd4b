"""SLA clocks, pure: business hours with holidays and make-up workdays, clocks that bank the
business time used when they stop (pending on the customer) and pick up where they left off,
the warning / breach decisions, and which calendar and policy a ticket runs on. No I/O; the SLA
job and the ticket use cases call these."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.support.v1.support_pb2 import BusinessHours, SlaClock, SlaPolicy, SupportSettings, Ticket
from crmkit.errors import InvalidArgument
from crmkit.records import dt

FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"
MAX_DAYS = 3660  # a clock never looks further than ten years ahead


@dataclass(frozen=True)
class Calendar:
    tz: ZoneInfo
    weekdays: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    always: bool = False  # 24x7

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.extra_workdays or day.isoweekday() in self.weekdays

    def window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC),
                datetime.combine(day, self.end, tzinfo=self.tz).astimezone(UTC))


ALWAYS = Calendar(ZoneInfo("UTC"), frozenset(range(1, 8)), time(0), time(0), always=True)


def _hhmm(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidArgument("use a time like 09:00", field=field) from None


def _days(values: list[str], field: str) -> frozenset[date]:
    try:
        return frozenset(date.fromisoformat(v) for v in values)
    except ValueError:
        raise InvalidArgument("use dates like 2026-10-01", field=field) from None


def calendar(hours: BusinessHours) -> Calendar:
    """The calendar of business hours; raises InvalidArgument naming the bad field."""
    try:
        tz = ZoneInfo(hours.timezone or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"unknown time zone {hours.timezone!r}", field="business_hours.timezone") from None
    weekdays = frozenset(hours.weekdays) or frozenset(range(1, 6))
    if not weekdays <= frozenset(range(1, 8)):
        raise InvalidArgument("weekdays are 1 (Monday) to 7 (Sunday)", field="business_hours.weekdays")
    start = _hhmm(hours.start or "09:00", "business_hours.start")
    end = _hhmm(hours.end or "18:00", "business_hours.end")
    if end <= start:
        raise InvalidArgument("end must be after start", field="business_hours.end")
    return Calendar(tz, weekdays, start, end, _days(list(hours.holidays), "business_hours.holidays"),
                    _days(list(hours.extra_workdays), "business_hours.extra_workdays"))


def business_seconds(cal: Calendar, a: datetime, b: datetime) -> int:
    """Business seconds between two instants (0 when b <= a)."""
    if b <= a:
        return 0
    if cal.always:
        return int((b - a).total_seconds())
    total = 0.0
    day = a.astimezone(cal.tz).date()
    last = min(b.astimezone(cal.tz).date(), day + timedelta(days=MAX_DAYS))
    while day <= last:
        if cal.is_workday(day):
            ws, we = cal.window(day)
            lo, hi = max(a, ws), min(b, we)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return int(total)


def add_business_seconds(cal: Calendar, start: datetime, seconds: int) -> datetime:
    """The instant at which `seconds` business seconds have passed since `start`."""
    if cal.always:
        return start + timedelta(seconds=seconds)
    remaining = float(max(seconds, 0))
    day = start.astimezone(cal.tz).date()
    for _ in range(MAX_DAYS):
        if cal.is_workday(day):
            ws, we = cal.window(day)
            begin = max(start, ws)
            if begin < we:
                available = (we - begin).total_seconds()
                if remaining <= available:
                    return begin + timedelta(seconds=remaining)
                remaining -= available
        day += timedelta(days=1)
    raise InvalidArgument("the business calendar has no working time", field="business_hours")


# -- clocks on a ticket

def _ts(clock_field: object, value: datetime) -> None:
    clock_field.FromDatetime(value)  # type: ignore[attr-defined]  # a Timestamp field passed as object


def policy_for(policies: list[SlaPolicy], priority: str) -> SlaPolicy | None:
    return next((p for p in policies if p.priority == priority), None)


def calendar_for(cfg: SupportSettings, ticket: Ticket) -> tuple[Calendar, int]:
    """The calendar the ticket's policy counts in, and its warning lead in minutes."""
    policy = policy_for(list(cfg.sla_policies), ticket.priority)
    if policy is None:
        return ALWAYS, 0
    return (calendar(cfg.business_hours) if policy.business_hours else ALWAYS), policy.warn_before_minutes


def supervisor_for(cfg: SupportSettings, ticket: Ticket) -> str:
    """Who is warned and escalated to: the policy's supervisor, else the default one."""
    policy = policy_for(list(cfg.sla_policies), ticket.priority)
    return (policy.supervisor_id if policy else "") or cfg.default_supervisor_id


def start_clocks(ticket: Ticket, policy: SlaPolicy, cal: Calendar, now: datetime) -> None:
    del ticket.sla[:]
    ticket.sla_policy_id = policy.id
    for metric, minutes in ((FIRST_RESPONSE, policy.first_response_minutes), (RESOLUTION, policy.resolution_minutes)):
        if minutes > 0:
            clock = ticket.sla.add(metric=metric, target_minutes=minutes)
            resume(clock, cal, now, policy.warn_before_minutes)


def resume(clock: SlaClock, cal: Calendar, now: datetime, warn_before_minutes: int) -> None:
    if clock.running or clock.HasField("met_at"):
        return
    clock.running = True
    _ts(clock.running_since, now)
    remaining = clock.target_minutes * 60 - clock.used_seconds
    _ts(clock.due_at, add_business_seconds(cal, now, remaining))
    warn_in = max(remaining - warn_before_minutes * 60, 0)
    _ts(clock.warn_at, add_business_seconds(cal, now, warn_in))


def pause(clock: SlaClock, cal: Calendar, now: datetime) -> None:
    if not clock.running:
        return
    clock.used_seconds += business_seconds(cal, dt(clock.running_since), now)
    clock.running = False
    clock.ClearField("running_since")
    clock.ClearField("due_at")
    clock.ClearField("warn_at")


def meet(clock: SlaClock, cal: Calendar, now: datetime) -> None:
    if clock.HasField("met_at"):
        return
    pause(clock, cal, now)
    _ts(clock.met_at, now)


def clock_of(ticket: Ticket, metric: str) -> SlaClock | None:
    return next((c for c in ticket.sla if c.metric == metric), None)


def on_status(ticket: Ticket, old: str, new: str, cal: Calendar, now: datetime, warn_before_minutes: int) -> None:
    """What a status change does to the clocks: pending stops them (waiting on the customer),
    solved meets them, leaving pending or reopening starts them again."""
    for clock in ticket.sla:
        if new == "pending":
            pause(clock, cal, now)
        elif new in ("solved", "closed"):
            meet(clock, cal, now)
        elif new == "open" and old == "solved" and clock.metric == RESOLUTION:
            clock.ClearField("met_at")
            resume(clock, cal, now, warn_before_minutes)
        elif new in ("open", "new"):
            resume(clock, cal, now, warn_before_minutes)


def retarget(cfg: SupportSettings, ticket: Ticket, now: datetime) -> None:
    """A new priority brings its policy's targets; time already used still counts."""
    policy = policy_for(list(cfg.sla_policies), ticket.priority)
    if policy is None:
        return
    cal, warn = calendar_for(cfg, ticket)
    ticket.sla_policy_id = policy.id
    targets = {FIRST_RESPONSE: policy.first_response_minutes, RESOLUTION: policy.resolution_minutes}
    for clock in ticket.sla:
        was_running = clock.running
        pause(clock, cal, now)
        clock.target_minutes = targets.get(clock.metric, clock.target_minutes)
        if was_running:
            resume(clock, cal, now, warn)


def on_first_response(ticket: Ticket, cal: Calendar, now: datetime) -> None:
    clock = clock_of(ticket, FIRST_RESPONSE)
    if clock is not None:
        meet(clock, cal, now)


def evaluate(ticket: Ticket, now: datetime) -> list[tuple[str, SlaClock]]:
    """Warnings and breaches that are due at `now` and not yet raised; marks them raised, so a
    second evaluation of the same ticket returns nothing (exactly once, with the row lock)."""
    raised: list[tuple[str, SlaClock]] = []
    for clock in ticket.sla:
        if not clock.running:
            continue
        if not clock.breached and dt(clock.due_at) <= now:
            clock.breached = True
            clock.warned = True
            raised.append(("breached", clock))
        elif not clock.warned and dt(clock.warn_at) <= now:
            clock.warned = True
            raised.append(("warning", clock))
    return raised


def next_check(ticket: Ticket) -> datetime | None:
    """When the scheduler must look at this ticket next (None: never)."""
    times = []
    for clock in ticket.sla:
        if clock.running and not clock.breached:
            times.append(dt(clock.due_at))
            if not clock.warned:
                times.append(dt(clock.warn_at))
    return min(times) if times else None
