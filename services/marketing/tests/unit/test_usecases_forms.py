"""Lead-capture forms on the real schema with fakes at the ports: a definition's checks, the
public form and its token, a submission's checks (every problem at once), honeypot, limits, and
the delivery job: contact found or created, consent recorded with its evidence, the lead captured
with campaign, UTM and form, each once, whatever sales' outages."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import jobs
from crm_marketing.rules import forms as rules
from crm_marketing.rules.tracking import tracking_key
from crm_marketing.usecases import automation_settings, campaigns, delivery, forms
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from crmkit.testing import ManualClock

from .conftest import NOW

MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
MANAGER = Principal("mgr.1", ("marketing", "manager"), "marketing", "east", "经理")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")
REP = Principal("rep.1", ("rep",), "north-sales", "north", "张伟")
KEY = tracking_key("unit-test-secret")


def t(zh: str, en: str = "") -> pb.LocalizedText:
    return pb.LocalizedText(zh=zh, en=en)


def a_form(campaign_id: str = "", **changes: Any) -> pb.Form:
    form = pb.Form(
        name="春季展会报名", title=t("报名参加春季展会", "Register for the Spring Expo"), campaign_id=campaign_id,
        fields=[pb.FormField(name="name", label=t("姓名", "Name"), required=True),
                pb.FormField(name="email", label=t("邮箱", "Email"), required=True),
                pb.FormField(name="phone", label=t("手机", "Mobile")),
                pb.FormField(name="company", label=t("公司", "Company")),
                pb.FormField(name="size", type="select", label=t("规模", "Size"), options=["1-50", "51-200"]),
                pb.FormField(name="message", type="textarea", label=t("留言", "Message"))],
        consent=pb.FormConsent(enabled=True, text=t("我同意接收营销邮件", "I agree to receive marketing email")),
        thank_you=t("谢谢，我们会联系您", "Thanks, we will call you"), lead_region="east", lead_owner_id="rep.east.1")
    for name, value in changes.items():
        current = getattr(form, name)
        if isinstance(value, list):
            del current[:]
            current.extend(value)
        elif hasattr(current, "CopyFrom"):
            current.CopyFrom(value)
        else:
            setattr(form, name, value)
    return form


class World:
    def __init__(self, store: Any, contacts: Any, sales: Any) -> None:
        self.store, self.contacts, self.sales = store, contacts, sales
        self.clock = ManualClock(NOW)
        self.campaign = store.write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="Spring Expo", type="trade_show")))
        self.form = store.write(lambda uow: forms.create(uow, principal=MKT, now=NOW,
                                                         form=a_form(self.campaign.id)))

    def token(self) -> str:
        shown = self.store.read(lambda s: forms.public_form(s, now=self.clock(), key=KEY, form_id=self.form.id))
        self.clock.advance(seconds=5)  # a person takes a moment to fill it in
        return str(shown.form_token)

    def submit(self, values: dict[str, str], *, consent: bool = True, token: str | None = None,
               **fields: Any) -> pb.SubmitFormResponse:
        request = pb.SubmitFormRequest(form_id=self.form.id, values=values, consent=consent,
                                       form_token=self.token() if token is None else token,
                                       visitor_ip=fields.pop("visitor_ip", "203.0.113.7"), **fields)
        return self.store.write(lambda uow: forms.submit(uow, principal=PUBLIC, now=self.clock(), key=KEY,
                                                         request=request))

    def deliver(self) -> int:
        return jobs.deliver_forms(self.store.db, self.contacts, self.sales, self.clock())

    def submissions(self, status: str = "") -> list[pb.FormSubmission]:
        items, _ = self.store.read(lambda s: forms.list_submissions(s, principal=MKT, form_id=self.form.id,
                                                                    status=status, page_size=0, page_token=""))
        return list(items)


@pytest.fixture
def world(store: Any, contacts: Any, sales: Any) -> World:
    return World(store, contacts, sales)


WANG = {"name": "王强", "email": "Wang.Qiang@HBsteel.cn", "phone": "138 0013 8000", "company": "河北钢铁",
        "size": "51-200", "message": "想了解报价"}


def test_a_form_needs_what_a_lead_and_a_consent_need(world: World) -> None:
    def refused(form: pb.Form) -> str:
        with pytest.raises((InvalidArgument, NotFound)) as info:
            world.store.write(lambda uow: forms.create(uow, principal=MKT, now=NOW, form=form))
        return str(info.value.field)

    base = a_form()
    no_name = a_form(fields=[f for f in base.fields if f.name != "name"])
    assert refused(no_name) == "fields"  # no required name or company
    assert refused(a_form(fields=[base.fields[0], base.fields[3]])) == "fields"  # no email or phone
    assert refused(a_form(fields=[*base.fields, pb.FormField(name="homepage", label=t("网站"))])) == "fields[6].name"
    assert refused(a_form(fields=[*base.fields, pb.FormField(name="Bad Name", label=t("x"))])) == "fields[6].name"
    assert refused(a_form(consent=pb.FormConsent(enabled=True))) == "consent.text"
    # contacts records no such purpose: every submission's consent was retried forever, its lead never sent
    assert refused(a_form(consent=pb.FormConsent(enabled=True, text=t("订阅"), purpose="newsletter"))) == (
        "consent.purpose")
    assert refused(a_form(embed_origins=["javascript:alert(1)"])) == "embed_origins[0]"
    assert refused(a_form(campaign_id="no-such-campaign")) == "campaign_id"
    with pytest.raises(PermissionDenied):
        world.store.write(lambda uow: forms.create(uow, principal=REP, now=NOW, form=a_form()))
    assert world.form.consent.purpose == "marketing_email" and world.form.status == "active"
    assert world.form.fields[1].type == "email" and world.form.fields[2].type == "tel"


def test_a_submission_names_every_bad_field_at_once(world: World) -> None:
    with pytest.raises(InvalidArgument) as info:
        world.submit({"email": "not-an-email", "phone": "12345", "size": "huge", "colour": "blue"}, consent=False,
                     language="en")
    errors = {e["field"]: e["message"] for e in info.value.details["errors"]}
    assert errors == {
        "values.colour": "this form has no such field",
        "values.name": "this field is required",
        "values.email": "enter a valid email address",
        "values.phone": "enter a valid phone number",
        "values.size": "choose one of 1-50, 51-200",
    }
    assert info.value.field == "values.colour"
    with pytest.raises(InvalidArgument) as info:  # Chinese for a Chinese page, the token checked too
        world.submit({"name": "王强"}, token="f.forged.0.AAAAAAAAAAAAAAAAAAAAAA")
    assert [e["field"] for e in info.value.details["errors"]] == ["form_token", "values.email"]
    assert info.value.details["errors"][1]["message"] == "此项必填"
    assert world.submissions() == [] and world.store.events().count("crm.marketing.form.submitted") == 0


def test_the_token_proves_the_page_was_served_and_a_person_took_a_moment(world: World) -> None:
    shown = world.store.read(lambda s: forms.public_form(s, now=world.clock(), key=KEY, form_id=world.form.id))
    assert shown.honeypot_field == "homepage" and [f.name for f in shown.fields][:2] == ["name", "email"]
    with pytest.raises(InvalidArgument) as info:  # at once: a bot
        world.submit(WANG, token=shown.form_token)
    assert info.value.details["errors"][0]["field"] == "form_token"
    world.clock.advance(seconds=3)
    assert world.submit(WANG, token=shown.form_token).status == "accepted"
    world.clock.advance(days=2)
    with pytest.raises(InvalidArgument):  # a day later: reload the page
        world.submit({**WANG, "message": "again"}, token=shown.form_token)
    other = world.store.write(lambda uow: forms.create(uow, principal=MKT, now=NOW, form=a_form(name="其他")))
    stolen = rules.sign_token(KEY, other.id, world.clock() - timedelta(seconds=10))
    with pytest.raises(InvalidArgument) as info:
        world.submit(WANG, token=stolen)
    assert "another form" in info.value.details["errors"][0]["message"]


def test_a_submission_is_stored_with_its_consent_wording_and_sent_once(world: World) -> None:
    answer = world.submit(WANG, utm=pb.UtmParams(source="baidu", medium="cpc", campaign="spring"),
                          page_url="https://www.hbsteel.cn/expo", language="zh-CN", user_agent="Mozilla/5.0")
    assert (answer.status, answer.thank_you.zh) == ("accepted", "谢谢，我们会联系您")
    again = world.submit(WANG)  # the same form sent twice (a reload, a double click)
    assert again.submission_id == answer.submission_id
    [stored] = world.submissions()
    assert stored.values["email"] == "wang.qiang@hbsteel.cn" and stored.values["phone"] == "+8613800138000"
    assert (stored.status, stored.consent_given, stored.consent_text) == ("pending", True, "我同意接收营销邮件")
    assert (stored.visitor_ip, stored.utm.source, stored.campaign_id) == ("203.0.113.7", "baidu", world.campaign.id)
    assert world.store.events().count("crm.marketing.form.submitted") == 1
    unticked = world.submit({**WANG, "email": "li@example.cn"}, consent=False)
    assert world.store.read(lambda s: forms.store.load_submission(s, unticked.submission_id)).consent_given is False


def test_the_honeypot_keeps_a_bot_as_spam_and_answers_it_the_same(world: World) -> None:
    answer = world.submit(WANG, honeypot="http://spam.example")
    assert answer.status == "accepted" and answer.thank_you.zh
    assert [s.status for s in world.submissions()] == ["spam"]
    assert world.store.events().count("crm.marketing.form.submitted") == 0
    assert world.deliver() == 0 and world.sales.calls["capture_lead"] == 0
    assert world.store.read(lambda s: forms.get(s, principal=MKT, form_id=world.form.id)).submissions == 0


def test_submissions_are_limited_per_address_and_per_email(world: World) -> None:
    world.store.write(lambda uow: automation_settings.update(
        uow, principal=MANAGER, now=NOW, patch=pb.AutomationSettings(form_limit_per_address=3, form_limit_per_email=2),
        paths=["form_limit_per_address", "form_limit_per_email"], expected_version=0))
    world.submit({**WANG, "message": "1"})
    world.submit({**WANG, "message": "2"})
    with pytest.raises(ResourceExhausted) as info:
        world.submit({**WANG, "message": "3"})
    assert info.value.field == "values.email"
    world.submit({**WANG, "email": "other@example.cn"})
    with pytest.raises(ResourceExhausted) as info:  # the address sent three already
        world.submit({**WANG, "email": "third@example.cn"})
    assert info.value.field == "visitor_ip"
    world.submit({**WANG, "email": "third@example.cn"}, visitor_ip="198.51.100.9")
    world.clock.advance(hours=2)
    world.submit({**WANG, "email": "fourth@example.cn"})  # an hour later the address may again


def test_delivery_creates_the_contact_records_the_consent_and_captures_the_lead(world: World) -> None:
    answer = world.submit(WANG, utm=pb.UtmParams(source="baidu", medium="cpc", campaign="spring", content="banner"),
                          page_url="https://www.hbsteel.cn/expo")
    assert world.deliver() == 1
    [contact] = world.contacts.created.values()
    assert (contact.name, contact.emails[0].address, contact.phones[0].number) == (
        "王强", "wang.qiang@hbsteel.cn", "+8613800138000")
    [consent] = world.contacts.consented.values()
    assert (consent.purpose, consent.granted, consent.source, consent.recorded_by) == (
        "marketing_email", True, f"web_form:{world.form.id}", contact.id)
    assert "我同意接收营销邮件" in consent.evidence and "203.0.113.7" in consent.evidence
    [(lead, form_id)] = world.sales.leads.values()
    assert form_id == world.form.id
    assert (lead.name, lead.email, lead.phone, lead.company, lead.source, lead.campaign_id) == (
        "王强", "wang.qiang@hbsteel.cn", "+8613800138000", "河北钢铁", "web_form", world.campaign.id)
    assert (lead.owner_id, lead.region) == ("rep.east.1", "east")  # the form's assignment hints
    a = lead.attribution  # its own fields in sales, no longer a line of notes
    assert (a.utm_source, a.utm_medium, a.utm_campaign, a.utm_term, a.utm_content, a.form_id) == (
        "baidu", "cpc", "spring", "", "banner", world.form.id)
    assert "utm_" not in lead.notes
    assert "规模: 51-200" in lead.notes and "留言: 想了解报价" in lead.notes and "hbsteel.cn/expo" in lead.notes
    [done] = world.submissions()
    assert (done.id, done.status, done.lead_id, done.contact_id) == (answer.submission_id, "delivered", lead.id,
                                                                     contact.id)
    assert world.store.events().count("crm.marketing.lead.handed_over") == 1
    assert world.deliver() == 0 and world.sales.calls["capture_lead"] == 1  # nothing twice


def test_a_consent_contacts_refuses_fails_the_submission_saying_why_instead_of_retrying_forever(
        world: World) -> None:
    world.contacts.refusing = True
    world.submit(WANG)
    assert world.deliver() == 0
    [failed] = world.submissions()
    assert failed.status == "failed" and "ContactRefused" in failed.last_error
    assert world.deliver() == 0 and world.contacts.calls["record_consent"] == 1  # not asked again


def test_an_unticked_box_records_no_consent_and_a_known_email_is_not_created_again(world: World) -> None:
    world.contacts.by_email["li@example.cn"] = "c-li"
    world.submit({"name": "李娜", "email": "li@example.cn"}, consent=True)
    world.submit({"name": "赵敏", "email": "zhao@example.cn"}, consent=False)
    assert world.deliver() == 2
    assert world.contacts.created == {}  # li is known; zhao gave no consent, so no contact is made for it
    assert [c.recorded_by for c in world.contacts.consented.values()] == ["c-li"]
    assert len(world.sales.leads) == 2


def test_a_sales_outage_delays_the_lead_and_never_loses_or_doubles_it(world: World) -> None:
    world.sales.down = True
    world.submit(WANG)
    assert world.deliver() == 0
    [waiting] = world.submissions()
    assert (waiting.status, waiting.attempts) == ("pending", 1) and "SalesUnavailable" in waiting.last_error
    assert world.deliver() == 0 and world.sales.calls["capture_lead"] == 1  # backing off: not due yet
    world.sales.down = False
    world.clock.advance(seconds=6)
    assert world.deliver() == 1
    assert len(world.sales.leads) == 1 and len(world.contacts.created) == 1  # the keys made the retry harmless
    assert world.submissions()[0].status == "delivered"


def test_a_lead_sales_refuses_is_kept_failed_and_can_be_retried(world: World) -> None:
    world.sales.refuse["wang.qiang@hbsteel.cn"] = ("phone", "not a number sales can dial")
    world.submit(WANG)
    world.deliver()
    [failed] = world.submissions("failed")
    assert "phone: not a number sales can dial" in failed.last_error
    pending = world.submit({**WANG, "email": "x@y.cn"}).submission_id
    with pytest.raises(FailedPrecondition):  # only a failed one goes back
        world.store.write(lambda uow: forms.retry(uow, principal=MKT, now=world.clock(), submission_id=pending))
    del world.sales.refuse["wang.qiang@hbsteel.cn"]
    world.store.write(lambda uow: forms.retry(uow, principal=MKT, now=world.clock(), submission_id=failed.id))
    world.deliver()
    assert {s.status for s in world.submissions()} == {"delivered"}


def test_a_closed_form_takes_nothing_and_one_with_submissions_is_not_deleted(world: World) -> None:
    world.submit(WANG)
    with pytest.raises(FailedPrecondition):
        world.store.write(lambda uow: forms.delete(uow, principal=MKT, now=NOW, form_id=world.form.id,
                                                   expected_version=0))
    closed = world.store.write(lambda uow: forms.update(uow, principal=MKT, now=NOW, patch=pb.Form(
        id=world.form.id, status="closed"), paths=["status"], expected_version=1))
    assert (closed.status, closed.version, closed.submissions) == ("closed", 2, 1)
    with pytest.raises(NotFound):
        world.store.read(lambda s: forms.public_form(s, now=NOW, key=KEY, form_id=world.form.id))
    with pytest.raises(NotFound):
        world.submit(WANG, token="x")


def test_the_lead_of_a_submission_keeps_everything_the_visitor_sent() -> None:
    form = a_form("camp-1")
    rules.check_form(form)
    checked = rules.check_submission(form, {"name": " 王强 ", "email": "W@X.CN", "message": "第一行\n第二行"}, True, "en")
    assert checked.errors == [] and checked.values == {"name": "王强", "email": "w@x.cn", "message": "第一行\n第二行"}
    submission = pb.FormSubmission(id="s-1", form_id="f-1", campaign_id="camp-1", values=checked.values,
                                   language="en", consent_given=True, consent_text="I agree", consent_purpose="marketing_email")
    lead = rules.lead_of(form, submission, form_name="Expo")
    assert (lead.name, lead.email, lead.campaign_id, lead.source) == ("王强", "w@x.cn", "camp-1", "web_form")
    assert "Message: 第一行\n第二行" in lead.notes and "Consent (marketing_email): I agree" in lead.notes
    assert delivery.keys(submission)["lead"] == "marketing-form-s-1-lead"


def test_the_industry_a_visitor_typed_goes_to_the_lead_as_typed_and_not_to_the_consent_s_contact(
        world: World) -> None:
    form = world.store.write(lambda uow: forms.create(uow, principal=MKT, now=NOW, form=a_form(
        world.campaign.id, fields=[*a_form().fields, pb.FormField(name="industry", label=t("行业", "Industry"))])))
    world.form = form
    world.submit({**WANG, "industry": "造船与海工"})
    assert world.deliver() == 1
    [contact] = world.contacts.created.values()
    # contacts would refuse free text once the list is restricted, failing the whole submission
    assert contact.industry == ""
    [(lead, _)] = world.sales.leads.values()
    assert lead.industry == "造船与海工"  # sales maps it to a key or keeps it as typed (rules.leads.keep_typed)


def test_a_budget_sales_cannot_read_as_an_amount_goes_to_the_notes_and_the_lead_still_arrives() -> None:
    form = a_form("camp-1", fields=[*a_form().fields, pb.FormField(name="budget", label=t("预算", "Budget"))])
    rules.check_form(form)

    def lead_for(budget: str) -> Any:
        checked = rules.check_submission(form, {"name": "王强", "email": "w@x.cn", "budget": budget}, True, "zh-CN")
        assert checked.errors == []
        return rules.lead_of(form, pb.FormSubmission(id="s-1", form_id="f-1", values=checked.values,
                                                     language="zh-CN"), form_name="Expo")

    typed = lead_for("约50万")  # sales refused it ("not a decimal number"): the submission failed, no lead
    assert typed.budget == "" and "预算: 约50万" in typed.notes
    amount = lead_for("1,200,000")
    assert amount.budget == "1,200,000" and "预算" not in amount.notes


def test_a_name_longer_than_a_lead_s_is_refused_to_the_visitor_not_by_sales_later() -> None:
    with pytest.raises(InvalidArgument) as info:  # sales takes at most 300 characters
        rules.check_form(a_form(fields=[pb.FormField(name="name", label=t("姓名"), required=True, max_length=2000),
                                        pb.FormField(name="email", label=t("邮箱"))]))
    assert info.value.field == "fields[0].max_length"
    form = a_form()
    rules.check_form(form)
    checked = rules.check_submission(form, {"name": "长" * 301, "email": "w@x.cn"}, True, "en")
    assert checked.errors == [("values.name", "at most 200 characters")]
    stored = a_form(fields=[pb.FormField(name="company", label=t("公司"), required=True, max_length=1000),
                            pb.FormField(name="email", label=t("邮箱"))])  # saved before the check
    checked = rules.check_submission(stored, {"company": "公" * 301, "email": "w@x.cn"}, False, "en")
    assert checked.errors == [("values.company", "at most 300 characters")]


def test_a_long_message_reaches_the_lead_s_notes_whole() -> None:
    form = a_form("camp-1", fields=[*a_form().fields[:5], pb.FormField(
        name="message", type="textarea", label=t("留言", "Message"), max_length=15_000)])
    rules.check_form(form)
    message = "我们计划明年上线新系统，需求如下。" * 800  # 13,600 characters, within the field's max_length
    checked = rules.check_submission(form, {"name": "王强", "email": "w@x.cn", "message": message}, True, "zh-CN")
    assert checked.errors == []
    lead = rules.lead_of(form, pb.FormSubmission(id="s-1", form_id="f-1", values=checked.values, language="zh-CN"),
                         form_name="Expo")
    assert f"留言: {message}" in lead.notes  # it was cut at 10,000 characters, though a lead takes 20,000


def test_a_form_embeds_on_a_chinese_domain_as_the_browser_names_its_origin() -> None:
    form = a_form(embed_origins=["https://www.例子.中国", "http://Shop.Example.cn:8080"])
    rules.check_form(form)  # was refused: "an origin is scheme://host[:port]"
    assert list(form.embed_origins) == ["https://www.xn--fsqu00a.xn--fiqs8s", "http://shop.example.cn:8080"]
