"""The relay's bounces and complaints: a hard bounce or a complaint suppresses the address with its
reason, and the next wave skips it (counted as suppressed); a soft bounce changes nothing; a
bounce naming our Message-ID marks that mail failed; bad input names its field."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing.tables import suppressions
from crm_marketing.usecases import feedback
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, PermissionDenied

from .conftest import NOW
from .test_usecases_sending import MKT, World


@pytest.fixture
def world(store: Any, contacts: Any, mailer: Any) -> World:
    return World(store, contacts, mailer)


def report(world: World, *items: pb.MailFeedback, who: Principal = MKT) -> pb.ReportMailFeedbackResponse:
    return world.store.write(lambda uow: feedback.report(uow, principal=who, now=NOW, items=list(items),
                                                         source="relay-webhook"))


def test_hard_bounces_and_complaints_suppress_and_the_next_wave_skips_them(world: World) -> None:
    s = world.store
    for who in ("wang", "li", "zhao"):
        s.contact(who, f"{who}@example.cn", tags=("expo",))
    first = world.wave(tags=["expo"])
    assert world.send() == 3
    [wang_mail] = world.mailer.to("wang@example.cn")
    out = report(world, pb.MailFeedback(email="Wang@Example.cn", status="5.1.1", diagnostic="550 5.1.1 user unknown",
                                        message_id=wang_mail.message_id),
                 pb.MailFeedback(email="li@example.cn", kind="complaint"),
                 pb.MailFeedback(email="zhao@example.cn", status="4.2.2", diagnostic="mailbox full"))
    assert (out.suppressed, out.soft_bounces, out.recipients_marked, out.already_suppressed) == (2, 1, 1, 0)
    assert report(world, pb.MailFeedback(email="li@example.cn", kind="complaint")).already_suppressed == 1
    reasons = dict(s.read(lambda sess: sess.execute(select(suppressions.c.email, suppressions.c.reason)).all()))
    assert reasons == {"wang@example.cn": "bounced", "li@example.cn": "complained"}
    counts = world.counts(first)
    assert (counts.delivered, counts.failed) == (2, 1)  # wang's mail bounced
    again = world.wave(tags=["expo"])
    assert dict(again.counts.skipped) == {"suppressed": 2} and again.counts.pending == 1


def test_bad_feedback_names_the_field_and_others_may_not_report(world: World) -> None:
    with pytest.raises(InvalidArgument) as bad:
        report(world, pb.MailFeedback(email="ok@example.cn"), pb.MailFeedback(email="not an address"))
    assert bad.value.field == "feedback[1].email"
    with pytest.raises(InvalidArgument) as bad:
        report(world, pb.MailFeedback(email="ok@example.cn", status="five"))
    assert bad.value.field == "feedback[0].status"
    with pytest.raises(InvalidArgument):
        report(world)
    with pytest.raises(PermissionDenied):
        report(world, pb.MailFeedback(email="ok@example.cn"), who=Principal("rep.1", ("rep",), "north", "north"))
    assert world.store.read(lambda sess: sess.execute(select(suppressions.c.email)).all()) == []
