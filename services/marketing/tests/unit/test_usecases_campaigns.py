"""Campaigns, invitation lists and templates on the real schema with fakes at the ports."""
from __future__ import annotations

from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing.usecases import campaigns, invitees, templates
from crmkit.auth import Principal
from crmkit.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
MKT2 = Principal("mkt.2", ("marketing",), "marketing", "north", "市场小王")
MANAGER_EAST = Principal("mgr.east", ("manager",), "sales-east", "east", "华东经理")
ANALYST = Principal("ana.1", ("analyst",), "bi", "", "分析师")
REP = Principal("rep.1", ("rep",), "north-sales", "north", "张伟")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")


def new_campaign(store: Any, by: Principal = MKT, **fields: Any) -> pb.Campaign:
    values: dict[str, Any] = {"name": "Spring Expo 2026", "type": "trade_show", "start_date": "2026-04-01"}
    values.update(fields)
    return store.write(lambda uow: campaigns.create(uow, principal=by, now=NOW, campaign=pb.Campaign(**values)))


def test_create_defaults_owner_slug_and_status_and_emits(store: Any) -> None:
    c = new_campaign(store)
    assert (c.status, c.owner_id, c.team, c.region, c.slug, c.version) == (
        "draft", "mkt.1", "marketing", "east", "spring-expo-2026", 1)
    assert [h.to_status for h in c.history] == ["draft"]
    again = new_campaign(store, name="春季展会")  # no ASCII: an id-based slug
    assert again.slug.startswith("campaign-")
    clash = new_campaign(store)
    assert clash.slug.startswith("spring-expo-2026-") and clash.slug != c.slug
    assert store.events().count("crm.marketing.campaign.created") == 3
    with pytest.raises(PermissionDenied):
        new_campaign(store, by=REP)
    with pytest.raises(PermissionDenied):  # marketing may not give a campaign to someone else
        new_campaign(store, owner_id="mkt.2")


def test_visibility_marketing_and_analysts_read_managers_their_region_writers_their_own(store: Any) -> None:
    c = new_campaign(store)
    for reader in (MKT2, ANALYST, MANAGER_EAST):
        assert store.read(lambda s, p=reader: campaigns.get(s, principal=p, campaign_id=c.id)).id == c.id
    for stranger in (REP, PUBLIC, Principal("mgr.n", ("manager",), "sales-north", "north")):
        with pytest.raises(NotFound):
            store.read(lambda s, p=stranger: campaigns.get(s, principal=p, campaign_id=c.id))
    patch = pb.Campaign(id=c.id, description="x")
    with pytest.raises(PermissionDenied):
        store.write(lambda uow: campaigns.update(uow, principal=MKT2, now=NOW, patch=patch, paths=["description"],
                                                 expected_version=0))
    changed = store.write(lambda uow: campaigns.update(uow, principal=MANAGER_EAST, now=NOW, patch=patch,
                                                       paths=["description"], expected_version=1))
    assert changed.version == 2
    listed, _ = store.read(lambda s: campaigns.list_campaigns(s, principal=REP, flt=pb.CampaignFilter(), page_size=0,
                                                              page_token=""))
    assert listed == []
    with pytest.raises(Conflict):
        store.write(lambda uow: campaigns.update(uow, principal=MKT, now=NOW, patch=patch, paths=["description"],
                                                 expected_version=1))


def test_update_takes_only_patchable_fields_and_checks_them(store: Any) -> None:
    c = new_campaign(store)
    for path, patch in (("status", pb.Campaign(id=c.id, status="active")), ("slug", pb.Campaign(id=c.id, slug="x")),
                        ("end_date", pb.Campaign(id=c.id, end_date="2026-01-01"))):
        with pytest.raises(InvalidArgument) as info:
            store.write(lambda uow, p=patch, f=path: campaigns.update(uow, principal=MKT, now=NOW, patch=p,
                                                                      paths=[f], expected_version=0))
        assert info.value.field == path
    budget = pb.Campaign(id=c.id)
    budget.budget.amount, budget.budget.currency_code = "80000", "CNY"
    done = store.write(lambda uow: campaigns.update(uow, principal=MKT, now=NOW, patch=budget, paths=["budget"],
                                                    expected_version=1))
    assert done.budget.amount == "80000" and done.name == c.name


def test_the_status_flow_records_history_and_events(store: Any) -> None:
    c = new_campaign(store)

    def move(status: str, version: int) -> pb.Campaign:
        return store.write(lambda uow: campaigns.change_status(uow, principal=MKT, now=NOW, campaign_id=c.id,
                                                               status=status, reason="plan", expected_version=version))

    with pytest.raises(FailedPrecondition):
        move("active", 1)
    assert move("scheduled", 1).status == "scheduled"
    assert move("active", 2).status == "active"
    done = move("completed", 3)
    assert [h.to_status for h in done.history] == ["draft", "scheduled", "active", "completed"]
    with pytest.raises(FailedPrecondition):
        move("cancelled", 4)
    assert store.events().count("crm.marketing.campaign.status_changed") == 3
    with pytest.raises(FailedPrecondition):  # only drafts are deleted
        store.write(lambda uow: campaigns.delete(uow, principal=MKT, now=NOW, campaign_id=c.id, expected_version=0))
    draft = new_campaign(store)
    store.write(lambda uow: campaigns.delete(uow, principal=MKT, now=NOW, campaign_id=draft.id, expected_version=1))
    with pytest.raises(NotFound):
        store.read(lambda s: campaigns.get(s, principal=MKT, campaign_id=draft.id))


def test_invitees_register_and_check_in_once_by_code(store: Any) -> None:
    c = new_campaign(store)
    a = store.contact("王强", "wq@hbsteel.cn")
    b = store.contact("Li Lei", "li@example.com")
    added, before = store.write(lambda uow: invitees.add(uow, principal=MKT, now=NOW, campaign_id=c.id,
                                                         contact_ids=[a.id, b.id, a.id]))
    assert (len(added), before) == (2, 0)
    assert added[0].name == "王强" and added[0].email == "wq@hbsteel.cn" and len(added[0].check_in_code) == 8
    again, before = store.write(lambda uow: invitees.add(uow, principal=MKT, now=NOW, campaign_id=c.id,
                                                         contact_ids=[a.id]))
    assert (again, before) == ([], 1)
    with pytest.raises(NotFound) as info:
        store.write(lambda uow: invitees.add(uow, principal=MKT, now=NOW, campaign_id=c.id,
                                             contact_ids=[a.id, "nobody"]))
    assert info.value.field == "contact_ids[1]"
    registered = store.write(lambda uow: invitees.register(uow, principal=MKT, now=NOW, campaign_id=c.id,
                                                           contact_id=a.id))
    assert registered.status == "registered"
    code = added[1].check_in_code
    with pytest.raises(FailedPrecondition):  # a draft campaign has no door yet
        store.write(lambda uow: invitees.check_in(uow, principal=MKT, now=NOW, campaign_id=c.id, code=code))
    store.write(lambda uow: campaigns.change_status(uow, principal=MKT, now=NOW, campaign_id=c.id, status="scheduled",
                                                    reason="", expected_version=0))
    with pytest.raises(NotFound):
        store.write(lambda uow: invitees.check_in(uow, principal=MKT, now=NOW, campaign_id=c.id, code="WRONG234"))
    walk_in = store.write(lambda uow: invitees.check_in(uow, principal=MKT, now=NOW, campaign_id=c.id,
                                                        code=code.lower()))
    assert walk_in.status == "attended" and walk_in.checked_in_by == "mkt.1" and walk_in.HasField("registered_at")
    with pytest.raises(FailedPrecondition):  # one code admits one person
        store.write(lambda uow: invitees.check_in(uow, principal=MKT, now=NOW, campaign_id=c.id, code=code))
    results = store.read(lambda s: campaigns.results(s, principal=ANALYST, campaign_id=c.id))
    assert (results.invited, results.registered, results.attended) == (2, 2, 1)
    events = store.events()
    assert (events.count("crm.marketing.invitee.invited"), events.count("crm.marketing.invitee.registered"),
            events.count("crm.marketing.invitee.checked_in")) == (2, 1, 1)


def test_templates_save_checked_and_preview_for_one_contact(store: Any) -> None:
    zh = pb.TemplateContent(language="zh-CN", subject="{{ name }}，邀请您参加{{ campaign_name }}",
                            text="您好 {{ name }}", html="<p>您好 {{ name }}</p>")
    en = pb.TemplateContent(language="en", subject="{{ name }}, join us at {{ campaign_name }}", text="Hi {{ name }}")
    saved = store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW,
                                                     template=pb.Template(name="邀请函", contents=[zh, en])))
    with pytest.raises(InvalidArgument) as info:
        store.write(lambda uow: templates.create(uow, principal=MKT, now=NOW, template=pb.Template(
            name="bad", contents=[pb.TemplateContent(subject="Hi {{ first_name }}", text="x")])))
    assert info.value.message == "contents[0].subject: unknown merge field first_name"
    with pytest.raises(PermissionDenied):
        store.write(lambda uow: templates.create(uow, principal=ANALYST, now=NOW, template=pb.Template(name="x")))
    c = new_campaign(store)
    wang = store.contact("王强", "wq@hbsteel.cn")
    li = store.contact("Li Lei", "li@example.com", language="en")

    def preview(contact_id: str, *, draft: pb.Template | None = None, language: str = "") -> pb.PreviewTemplateResponse:
        return store.read(lambda s: templates.preview(s, principal=ANALYST, template_id=saved.id, draft=draft,
                                                      contact_id=contact_id, language=language, campaign_id=c.id))

    assert preview(wang.id).subject == "王强，邀请您参加Spring Expo 2026"
    out = preview(li.id)
    assert (out.language, out.subject, out.html) == ("en", "Li Lei, join us at Spring Expo 2026", "")
    assert preview(li.id, language="zh-CN").text == "您好 Li Lei"
    with pytest.raises(InvalidArgument) as info:
        preview(wang.id, draft=pb.Template(contents=[pb.TemplateContent(subject="Hi {{ first_name }}", text="x")]))
    assert (info.value.field, info.value.message) == ("template.subject",
                                                      "template.subject: unknown merge field first_name")
    with pytest.raises(NotFound):
        preview("nobody")
    updated = store.write(lambda uow: templates.update(
        uow, principal=MKT, now=NOW, patch=pb.Template(id=saved.id, name="新名字"), paths=["name"], expected_version=1))
    assert updated.version == 2 and len(updated.contents) == 2
    assert store.events().count("crm.marketing.template.updated") == 1


def test_a_budget_reporting_could_not_count_is_refused_naming_it(store: Any) -> None:
    with pytest.raises(InvalidArgument) as refused:
        new_campaign(store, budget={"amount": "1000000000000", "currency_code": "CNY"})
    assert refused.value.field == "budget.amount"
