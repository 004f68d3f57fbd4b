"""SLA clocks: business hours, holidays and make-up workdays, pausing while pending."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm.support.v1.support_pb2 import BusinessHours, SlaPolicy, Ticket
from crm_support.rules import sla

CST = timedelta(hours=8)  # Asia/Shanghai, no DST
HOURS = BusinessHours(timezone="Asia/Shanghai", weekdays=[1, 2, 3, 4, 5], start="09:00", end="18:00",
                      holidays=["2026-10-01", "2026-10-02"], extra_workdays=["2026-09-27"])
CAL = sla.calendar(HOURS)


def local(*args: int) -> datetime:
    """A Beijing wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC) - CST


def test_business_time_skips_nights_and_weekends() -> None:
    # Friday 17:00 → Monday 10:00 is 1 h on Friday + 1 h on Monday
    assert sla.business_seconds(CAL, local(2026, 3, 6, 17, 0), local(2026, 3, 9, 10, 0)) == 2 * 3600
    assert sla.add_business_seconds(CAL, local(2026, 3, 6, 17, 0), 2 * 3600) == local(2026, 3, 9, 10, 0)


def test_a_ticket_opened_at_night_starts_counting_at_opening_time() -> None:
    assert sla.add_business_seconds(CAL, local(2026, 3, 3, 22, 0), 3600) == local(2026, 3, 4, 10, 0)


def test_holidays_are_closed_and_make_up_workdays_are_open() -> None:
    # Wednesday 30 Sep 17:00 + 2 h: Thu/Fri 1-2 Oct are holidays, then the weekend → Monday 5 Oct 10:00
    assert sla.add_business_seconds(CAL, local(2026, 9, 30, 17, 0), 2 * 3600) == local(2026, 10, 5, 10, 0)
    # Sunday 27 Sep is a make-up workday (调休)
    assert sla.business_seconds(CAL, local(2026, 9, 27, 9, 0), local(2026, 9, 27, 18, 0)) == 9 * 3600


def _ticket(now: datetime, minutes: int = 120, business: bool = True) -> Ticket:
    ticket = Ticket(priority="urgent")
    policy = SlaPolicy(id="p", priority="urgent", first_response_minutes=minutes, resolution_minutes=minutes * 4,
                       warn_before_minutes=30, business_hours=business)
    sla.start_clocks(ticket, policy, CAL if business else sla.ALWAYS, now)
    return ticket


def test_warning_then_breach_each_once() -> None:
    start = local(2026, 3, 2, 9, 0)
    ticket = _ticket(start)
    assert sla.evaluate(ticket, start + timedelta(minutes=80)) == []
    assert sla.next_check(ticket) == start + timedelta(minutes=90)
    assert [k for k, _ in sla.evaluate(ticket, start + timedelta(minutes=95))] == ["warning"]
    assert sla.evaluate(ticket, start + timedelta(minutes=96)) == []
    raised = sla.evaluate(ticket, start + timedelta(minutes=121))
    assert [(k, c.metric) for k, c in raised] == [("breached", "first_response")]
    assert sla.evaluate(ticket, start + timedelta(minutes=200)) == []


def test_time_pending_on_the_customer_does_not_count() -> None:
    start = local(2026, 3, 2, 9, 0)
    ticket = _ticket(start)
    sla.on_status(ticket, "open", "pending", CAL, start + timedelta(minutes=60), 30)
    assert sla.next_check(ticket) is None  # stopped: nothing can become due
    # two days waiting for the customer, then they answer
    resumed = start + timedelta(days=2)
    sla.on_status(ticket, "pending", "open", CAL, resumed, 30)
    clock = sla.clock_of(ticket, "first_response")
    assert clock is not None and clock.used_seconds == 3600
    assert clock.due_at.ToDatetime(tzinfo=UTC) == resumed + timedelta(minutes=60)
    assert not any(k == "breached" for k, _ in sla.evaluate(ticket, resumed + timedelta(minutes=59)))


def test_solving_meets_the_clocks_and_reopening_resumes_resolution() -> None:
    start = local(2026, 3, 2, 9, 0)
    ticket = _ticket(start, business=False)
    sla.on_first_response(ticket, sla.ALWAYS, start + timedelta(minutes=10))
    sla.on_status(ticket, "open", "solved", sla.ALWAYS, start + timedelta(minutes=30), 30)
    assert sla.next_check(ticket) is None
    sla.on_status(ticket, "solved", "open", sla.ALWAYS, start + timedelta(hours=5), 30)
    resolution = sla.clock_of(ticket, "resolution")
    first = sla.clock_of(ticket, "first_response")
    assert resolution is not None and resolution.running and resolution.used_seconds == 30 * 60
    assert first is not None and not first.running and first.HasField("met_at")
