"""Support's lists and texts are bounded like every service's (crmkit.limits): a ticket or comment
over a documented maximum is refused naming the field, before anything is saved."""
from __future__ import annotations

import pytest

from crm.support.v1.support_pb2 import Attachment, Comment, Ticket
from crm_support.rules import tickets as rules
from crmkit import limits
from crmkit.errors import InvalidArgument


def test_a_ticket_with_more_tags_than_documented_is_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        rules.normalize_new(Ticket(subject="打印机坏了", tags=[f"t{i}" for i in range(limits.MAX_TAGS + 1)]))
    assert refused.value.field == "tags"
    with pytest.raises(InvalidArgument) as refused:
        rules.check_tags(["ok", "长" * (limits.MAX_NAME + 1)])
    assert refused.value.field == "tags[1]"


def test_a_ticket_or_comment_with_too_many_attachments_is_refused() -> None:
    many = [Attachment(file_name=f"{i}.png") for i in range(limits.MAX_ATTACHMENTS + 1)]
    with pytest.raises(InvalidArgument) as refused:
        rules.normalize_new(Ticket(subject="截图", attachments=many))
    assert refused.value.field == "attachments"
    with pytest.raises(InvalidArgument) as refused:
        rules.check_comment(Comment(body="见附件", attachments=many))
    assert refused.value.field == "comment.attachments"


def test_a_ticket_within_the_maxima_is_accepted() -> None:
    ticket = Ticket(subject="打印机坏了", tags=[f"t{i}" for i in range(limits.MAX_TAGS)],
                    attachments=[Attachment(file_name="a.png")] * limits.MAX_ATTACHMENTS)
    rules.normalize_new(ticket)
    assert ticket.status == "new" and len(ticket.tags) == limits.MAX_TAGS
