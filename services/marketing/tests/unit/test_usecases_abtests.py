"""A/B tests on the real schema with fakes at the ports: the split, the two-proportion z-test,
the variants mailed with their utm_content, the winner picked after the wait (or the default when
the difference is not significant) and mailed to the rest, the results per variant."""
from __future__ import annotations

import math
import re
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import jobs
from crm_marketing.jobs import automation
from crm_marketing.rules import abtest as rules
from crm_marketing.rules.tracking import LinkMaker, tracking_key
from crm_marketing.usecases import abtests, campaigns, templates, tracking, waves
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, InvalidArgument
from crmkit.testing import ManualClock

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")
KEY = tracking_key("unit-test-secret")
LINKS = LinkMaker("https://crm.example/api/v1/public", KEY)
SENDER = "Shuniu <marketing@shuniu.example>"


def test_the_z_test_and_the_decision() -> None:
    z, p = rules.two_proportion_z(200, 1000, 150, 1000)
    assert math.isclose(z, 2.942, abs_tol=0.005) and math.isclose(p, 0.00326, abs_tol=0.0002)
    assert rules.two_proportion_z(0, 0, 5, 10) == (0.0, 1.0)
    arms = [rules.Arm("A", 150, 1000), rules.Arm("B", 200, 1000)]
    won = rules.decide(arms, alpha=0.05, default="", metric="open")
    assert (won.winner, won.significant) == ("B", True) and "B won" in won.text
    strict = rules.decide(arms, alpha=0.001, default="", metric="open")
    assert (strict.winner, strict.significant) == ("A", False)  # not significant at 0.1 %: variant A
    assert rules.decide(arms, alpha=0.001, default="B", metric="open").winner == "B"  # or the configured default


def test_the_split_is_even_deterministic_and_leaves_the_rest_for_the_winner() -> None:
    ids = [f"c-{i:04d}" for i in range(1000)]
    groups = rules.split("t-1", ids, ["A", "B"], 20)
    counted = {g: sum(1 for v in groups.values() if v == g) for g in ("A", "B", "")}
    assert counted == {"A": 100, "B": 100, "": 800}
    assert rules.split("t-1", list(reversed(ids)), ["A", "B"], 20) == groups
    assert rules.split("t-2", ids, ["A", "B"], 20) != groups
    three = rules.split("t-1", ids[:10], ["A", "B", "C"], 50)
    assert sorted(v for v in three.values() if v) == ["A", "A", "B", "B", "C"]
    assert set(rules.split("t-1", ids[:4], ["A", "B"], 100).values()) == {"A", "B"}


class World:
    def __init__(self, store: Any, mailer: Any) -> None:
        self.store, self.mailer = store, mailer
        self.clock = ManualClock(NOW)
        self.campaign = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Spring Sale", type="email")))
        self.template = store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
            name="促销", contents=[pb.TemplateContent(
                language="zh-CN", subject="{{ name }}，春季促销",
                html='<p>{{ name }}</p><a href="https://shop.example/sale">去看看</a>')])))
        for i in range(40):
            store.contact(f"客户{i:02d}", f"c{i:02d}@example.cn", tags=("sale",), id=f"c-{i:02d}")

    def create(self, **fields: Any) -> pb.AbTest:
        test = pb.AbTest(name="主题测试", campaign_id=self.campaign.id, template_id=self.template.id,
                         audience=pb.Audience(tags=["sale"]), test_percent=50, wait_hours=4,
                         variants=[pb.AbVariant(subject="{{ name }}，春季促销开始了"),
                                   pb.AbVariant(subject="最后三天：{{ name }}的专属优惠")], **fields)
        return self.store.write(lambda uow: abtests.create(uow, principal=MKT, now=self.clock(), test=test,
                                                           members=waves.Members(), default_sender=SENDER))

    def start(self, test: pb.AbTest) -> pb.AbTest:
        return self.store.write(lambda uow: abtests.start(uow, principal=MKT, now=self.clock(), test_id=test.id,
                                                          expected_version=0, mail_enabled=True))

    def run(self) -> int:
        moved = automation.run_once(self.store.db, self.clock())
        jobs.Sender(self.store.db, self.mailer, LINKS, self.clock, jobs.SendOptions(rate=1_000_000)).run_once(
            self.clock())
        return moved

    def get(self, test: pb.AbTest) -> pb.AbTest:
        return self.store.read(lambda s: abtests.get(s, principal=MKT, test_id=test.id))

    def open_all(self, prefix: str, limit: int = 1000) -> None:
        for mail in [m for m in self.mailer.sent if m.subject.startswith(prefix)][:limit]:
            found = re.search(r"/open/([A-Za-z0-9._-]+)", mail.html)
            assert found
            self.store.write(lambda uow, t=found.group(1): tracking.record_open(
                uow, principal=PUBLIC, now=self.clock(), key=KEY, token=t))


@pytest.fixture
def world(store: Any, mailer: Any) -> World:
    return World(store, mailer)


def test_a_test_is_checked_before_it_freezes_anything(world: World) -> None:
    with pytest.raises(InvalidArgument) as info:
        world.create(metric="reply")
    assert info.value.field == "metric"
    with pytest.raises(InvalidArgument) as info:
        world.create(default_variant="Z")
    assert info.value.field == "default_variant"
    bad = pb.AbTest(campaign_id=world.campaign.id, template_id=world.template.id, audience=pb.Audience(tags=["sale"]),
                    variants=[pb.AbVariant(), pb.AbVariant(subject="{{ first_name }}")])
    with pytest.raises(InvalidArgument) as info:
        world.store.write(lambda uow: abtests.create(uow, principal=MKT, now=NOW, test=bad, members=waves.Members(),
                                                     default_sender=SENDER))
    assert info.value.field == "variants[1].subject" and "first_name" in info.value.message
    made = world.create()
    assert ([v.name for v in made.variants], made.significance, made.metric) == (["A", "B"], 0.05, "open")
    assert (made.status, made.test_size, made.rest_size) == ("ready", 20, 20)


def test_the_winner_by_open_rate_goes_to_the_rest_with_its_utm_content(world: World) -> None:
    test = world.start(world.create())
    assert test.status == "testing" and all(v.wave_id for v in test.variants)
    world.run()
    subjects = [m.subject for m in world.mailer.sent]
    assert len(subjects) == 20 and sum(s.startswith("最后三天") for s in subjects) == 10
    b_mail = next(m for m in world.mailer.sent if m.subject.startswith("最后三天"))
    click = re.search(r"/click/([A-Za-z0-9._-]+)", b_mail.html)
    assert click
    url = world.store.write(lambda uow: tracking.resolve_click(uow, principal=PUBLIC, now=world.clock(), key=KEY,
                                                               token=click.group(1)))
    assert "utm_content=B" in url
    world.open_all("最后三天")  # every B recipient opens, A's do not
    with pytest.raises(FailedPrecondition):
        world.start(test)
    world.clock.advance(hours=3)
    assert world.run() == 0  # still waiting
    world.clock.advance(hours=2)
    world.run()
    decided = world.get(test)
    assert (decided.status, decided.winner, decided.significant) == ("sending_winner", "B", True)
    assert decided.p_value < 0.05 and "B won" in decided.decision
    assert [(v.name, v.counts.delivered, v.counts.opened, v.rate) for v in decided.variants] == [
        ("A", 10, 0, 0.0), ("B", 10, 10, 1.0)]
    world.run()  # the sender mails the rest; the worker completes the test
    world.run()
    done = world.get(test)
    assert (done.status, done.winner_counts.delivered) == ("completed", 20)
    rest = [m for m in world.mailer.sent[20:]]
    assert len(rest) == 20 and all(m.subject.startswith("最后三天") for m in rest)
    assert len({m.to for m in world.mailer.sent}) == 40  # everyone exactly once
    events = world.store.events()
    for subject in ("crm.marketing.abtest.created", "crm.marketing.abtest.started", "crm.marketing.abtest.decided",
                    "crm.marketing.abtest.completed"):
        assert events.count(subject) == 1


def test_without_a_significant_difference_the_default_variant_wins(world: World) -> None:
    test = world.start(world.create(default_variant="B", significance=0.01))
    world.run()
    world.open_all("客户", 3)  # 3 of A's 10 open, 2 of B's: no difference to speak of
    world.open_all("最后三天", 2)
    world.clock.advance(hours=5)
    world.run()
    decided = world.get(test)
    assert (decided.winner, decided.significant) == ("B", False) and "by default" in decided.decision
    cancelled = world.store.write(lambda uow: abtests.cancel(uow, principal=MKT, now=world.clock(), test_id=test.id,
                                                             expected_version=0))
    assert cancelled.status == "cancelled"
