"""Who sees and changes which owned record, one rule for every service that each parameterizes:
an admin (or a service) everything; roles in `read_all` read everything; a manager their team
and their region (an empty team or region matches nothing, not every blank row); anyone else the
records they own, plus those an active delegation lends them (passed in, or carried by the
principal: `Principal.delegators`). Writing needs one of `writers`
for one's own records; managers change what they see."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from sqlalchemy import ColumnElement, Table, false, or_, true

from crmkit.auth import Principal
from crmkit.errors import PermissionDenied


@dataclass(frozen=True)
class Visibility:
    read_all: tuple[str, ...] = ()
    writers: tuple[str, ...] = ("rep",)

    def can_read(self, principal: Principal, owner_id: str, team: str, region: str,
                 delegators: Sequence[str] = ()) -> bool:
        if principal.is_admin or principal.has_role(*self.read_all):
            return True
        if principal.is_manager:
            return bool((principal.team and team == principal.team)
                        or (principal.region and region == principal.region))
        return bool(owner_id) and (owner_id == principal.user_id or owner_id in delegators
                                   or owner_id in principal.delegators)

    def can_write(self, principal: Principal, owner_id: str, team: str, region: str,
                  delegators: Sequence[str] = ()) -> bool:
        if principal.is_admin:
            return True
        if principal.is_manager:
            return self.can_read(principal, owner_id, team, region)
        return (principal.has_role(*self.writers) and bool(owner_id)
                and (owner_id == principal.user_id or owner_id in delegators or owner_id in principal.delegators))

    def clause(self, principal: Principal, table: Table, delegators: Sequence[str] = ()) -> ColumnElement[bool]:
        """`can_read` as a WHERE clause over a table with owner_id, team and region columns."""
        if principal.is_admin or principal.has_role(*self.read_all):
            return true()
        if principal.is_manager:
            clauses = []
            if principal.team:
                clauses.append(table.c.team == principal.team)
            if principal.region:
                clauses.append(table.c.region == principal.region)
            return or_(*clauses) if clauses else false()
        delegators = [*delegators, *principal.delegators]
        if delegators:
            return table.c.owner_id.in_([principal.user_id, *delegators])
        return table.c.owner_id == principal.user_id


def check_assignable(principal: Principal, owner_id: str) -> None:
    """A rep may only give records to themselves; managers and admins assign freely."""
    if principal.is_admin or principal.is_manager:
        return
    if owner_id != principal.user_id:
        raise PermissionDenied("you can only own records yourself; ask a manager to assign", field="owner_id")


def require_manager(principal: Principal, what: str) -> None:
    if not (principal.is_admin or principal.is_manager):
        raise PermissionDenied(f"only a manager or an admin can {what}")


def check_scope(principal: Principal, *, team: str, region: str, before_team: str = "",
                before_region: str = "") -> None:
    """Setting a record's team or region: a rep keeps their own (or the record's current) value,
    so they cannot move a record out of their manager's view; a manager keeps the record in
    their own view (their team or their region); an admin sets anything. Other roles (marketing
    capturing a lead for a territory) are not in the sales hierarchy and keep what they send."""
    if principal.is_admin or not (principal.is_manager or "rep" in principal.roles):
        return
    changed = {name: value for name, value, before in (("team", team, before_team), ("region", region, before_region))
               if value != before}
    if not changed:
        return
    if principal.is_manager:
        if (principal.team and team == principal.team) or (principal.region and region == principal.region):
            return
        raise PermissionDenied("the record would leave your team and region; ask an admin",
                               field="region" if "region" in changed else "team")
    for name, value in changed.items():
        if value != getattr(principal, name):
            raise PermissionDenied(f"you cannot move a record to another {name}; ask a manager", field=name)


# -- field-level masking of personal contact details ------------------------------------------
# Roles that see phones and emails in full; any other (an analyst, who reads aggregates and
# customers for analysis) gets them masked by the service, on every read and in search results.
CONTACT_DETAIL_ROLES = ("rep", "manager", "support", "marketing", "legal", "finance", "dpo")


def sees_contact_details(principal: Principal) -> bool:
    return principal.has_role(*CONTACT_DETAIL_ROLES)


def mask_phone(number: str) -> str:
    """+8613800138000 → +861******8000: enough to tell two apart, not to call."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_email(address: str) -> str:
    """zhang.wei@example.com → z***@example.com."""
    local, at, domain = address.partition("@")
    return (local[:1] + "***" + at + domain) if at else "***"


def masked_message(principal: Principal, message: Message) -> Message:
    """Any record (an event's payload, a snapshot) with the phones and emails this caller may not
    read masked as the services mask their own reads, changed in place: the fields of a `Phone`
    (number, raw) and an `Email` (address) message, and string fields whose name ends in `phone`,
    `mobile` or `email` (plural: repeated), and an `Interaction`'s content (what was said). For
    consumers that pass on records of every service (webhooks) and cannot know each one's message
    types."""
    if not sees_contact_details(principal):
        _mask(message)
    return message


def _mask(message: Message) -> None:
    kind = message.DESCRIPTOR.name
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE:
            if field.message_type is None or field.message_type.GetOptions().map_entry:
                continue  # custom fields: free text the services do not mask either
            for item in (value if field.is_repeated else [value]):
                _mask(item)
            continue
        if field.type != field.TYPE_STRING:
            continue
        masker = _masker(kind, field.name)
        if masker is None:
            continue
        if field.is_repeated:
            value[:] = [masker(v) for v in value]
        else:
            setattr(message, field.name, masker(value))
    if kind == "Interaction" and message.content:  # type: ignore[attr-defined]
        # what was said on a call or in a note: a role whose details are masked (an analyst) reads
        # that it happened, never its content (contacts' timeline hides it the same way)
        message.content = ""  # type: ignore[attr-defined]
    if kind == "Phone" and message.raw:  # type: ignore[attr-defined]
        # What was typed ("13800138000") masked on its own keeps 8 of 11 digits: a phone's raw
        # text goes out as its masked number, as contacts serves it (rules.visibility.masked).
        message.raw = message.number  # type: ignore[attr-defined]


def _masker(kind: str, name: str) -> Callable[[str], str] | None:
    if (kind == "Phone" and name in ("number", "raw")) or name.endswith(
            ("phone", "phones", "mobile", "mobiles", "phone_raw")):
        return mask_phone
    if (kind == "Email" and name == "address") or name.endswith(("email", "emails")):
        return lambda v: mask_email(v) if v else ""
    return None
