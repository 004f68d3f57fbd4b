"""SMS notices of ticket updates, pure: the customer's choice of channel (checked on the
ticket), and the template variables of each kind of update, in the ticket's language. An SMS is
an approved template (SUPPORT_SMS_TEMPLATE), e.g. "您的工单${number}${update}，详情请查看邮件。"."""
from __future__ import annotations

import phonenumbers

from crm.support.v1.support_pb2 import Ticket
from crmkit.errors import InvalidArgument

CHANNELS = ("", "email", "sms")
REPLY, SOLVED = "reply", "solved"
_UPDATES = {REPLY: ("有新回复", "has a new reply"), SOLVED: ("已解决", "is solved")}


def check_notice(ticket: Ticket) -> None:
    """notice_channel one of email | sms (or empty), and with sms a phone number, stored E.164."""
    ticket.notice_channel = ticket.notice_channel.strip().lower()
    if ticket.notice_channel not in CHANNELS:
        raise InvalidArgument("must be email or sms", field="notice_channel")
    raw = ticket.notice_phone.strip()
    if not raw:
        if ticket.notice_channel == "sms":
            raise InvalidArgument("sms notices need the customer's mobile number", field="notice_phone")
        ticket.notice_phone = ""
        return
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidArgument("not a phone number", field="notice_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidArgument("not a valid phone number", field="notice_phone")
    ticket.notice_phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wants_sms(ticket: Ticket) -> bool:
    return ticket.notice_channel == "sms" and bool(ticket.notice_phone)


def params(ticket: Ticket, kind: str) -> dict[str, str]:
    zh, en = _UPDATES[kind]
    return {"number": ticket.number, "update": en if ticket.language.lower().startswith("en") else zh}
