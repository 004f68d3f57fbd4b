"""Support settings, pure: the defaults a fresh install runs with, and what a valid set is."""
from __future__ import annotations

from crm.support.v1.support_pb2 import BusinessHours, SlaPolicy, SupportSettings
from crm_support.rules import routing, sla
from crm_support.rules.notices import LANGUAGES
from crm_support.rules.tickets import PRIORITIES, STATUSES
from crmkit.errors import InvalidArgument
from crmkit.mail import InvalidMail, mailbox

DEFAULT_POLICIES = (
    SlaPolicy(id="urgent", name="Urgent 紧急", priority="urgent", first_response_minutes=120,
              resolution_minutes=8 * 60, warn_before_minutes=30, business_hours=False),
    SlaPolicy(id="high", name="High 高", priority="high", first_response_minutes=4 * 60,
              resolution_minutes=24 * 60, warn_before_minutes=60, business_hours=True),
    SlaPolicy(id="normal", name="Normal 普通", priority="normal", first_response_minutes=24 * 60,
              resolution_minutes=5 * 24 * 60, warn_before_minutes=120, business_hours=False),
    SlaPolicy(id="low", name="Low 低", priority="low", first_response_minutes=2 * 24 * 60,
              resolution_minutes=10 * 24 * 60, warn_before_minutes=240, business_hours=True),
)


def default_settings() -> SupportSettings:
    return SupportSettings(
        business_hours=BusinessHours(timezone="Asia/Shanghai", weekdays=[1, 2, 3, 4, 5], start="09:00", end="18:00"),
        sla_policies=list(DEFAULT_POLICIES),
        auto_close_days=4,
        default_supervisor_id="support.supervisor",
        version=0,
    )


def check_settings(settings: SupportSettings) -> None:
    sla.calendar(settings.business_hours)
    seen: set[str] = set()
    for i, p in enumerate(settings.sla_policies):
        if not p.id:
            raise InvalidArgument("every policy needs an id", field=f"sla_policies[{i}].id")
        if p.priority not in PRIORITIES:
            raise InvalidArgument(f"priority must be one of {', '.join(PRIORITIES)}",
                                  field=f"sla_policies[{i}].priority")
        if p.priority in seen:
            raise InvalidArgument(f"two policies for priority {p.priority}", field=f"sla_policies[{i}].priority")
        seen.add(p.priority)
        if p.first_response_minutes < 0 or p.resolution_minutes < 0 or p.warn_before_minutes < 0:
            raise InvalidArgument("minutes cannot be negative", field=f"sla_policies[{i}]")
    routing.check_rules(list(settings.routing_rules))
    ids = [m.id for m in settings.macros]
    for i, m in enumerate(settings.macros):
        if not m.id or ids.count(m.id) > 1:
            raise InvalidArgument("every macro needs a unique id", field=f"macros[{i}].id")
        if m.set_status and m.set_status not in STATUSES:
            raise InvalidArgument("not a status", field=f"macros[{i}].set_status")
    if settings.auto_close_days < 0:
        raise InvalidArgument("cannot be negative", field="auto_close_days")
    check_staff(settings)


def check_staff(settings: SupportSettings) -> None:
    """The staff directory: one entry per user id, each with a usable address."""
    seen: set[str] = set()
    for i, member in enumerate(settings.staff):
        member.user_id, member.email, member.name = member.user_id.strip(), member.email.strip(), member.name.strip()
        if not member.user_id or member.user_id in seen:
            raise InvalidArgument("every staff member needs a unique user_id", field=f"staff[{i}].user_id")
        seen.add(member.user_id)
        try:
            bare = not member.email or mailbox(member.email)[1] == member.email
        except InvalidMail:
            bare = False
        if not bare:
            raise InvalidArgument("give a plain address like li.na@example.com", field=f"staff[{i}].email")
        if member.language and member.language not in LANGUAGES:
            raise InvalidArgument(f"language must be one of {', '.join(LANGUAGES)}", field=f"staff[{i}].language")
