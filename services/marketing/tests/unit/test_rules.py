"""The pure rules: the campaign state machine, template checks and rendering, tracking tokens and
links, audience algebra and who may be mailed."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from crm.marketing.v1.marketing_pb2 import Campaign, Template, TemplateContent
from crm_marketing.jobs import Throttle
from crm_marketing.rules import audience, campaigns, eligibility, templates, tracking
from crm_marketing.rules.eligibility import ConsentState, Reachability
from crmkit.errors import FailedPrecondition, InvalidArgument

T0 = datetime(2026, 3, 1, tzinfo=UTC)
KEY = tracking.tracking_key("unit-test-secret")


# -- campaigns

@pytest.mark.parametrize(("old", "new"), [("draft", "scheduled"), ("scheduled", "active"), ("active", "completed"),
                                          ("scheduled", "draft"), ("draft", "cancelled"), ("active", "cancelled")])
def test_the_campaign_flow_allows_its_moves(old: str, new: str) -> None:
    campaigns.check_transition(old, new)


@pytest.mark.parametrize(("old", "new"), [("draft", "active"), ("draft", "completed"), ("completed", "active"),
                                          ("cancelled", "draft"), ("completed", "cancelled"), ("active", "active")])
def test_the_campaign_flow_refuses_the_rest_saying_what_is_possible(old: str, new: str) -> None:
    with pytest.raises(FailedPrecondition) as info:
        campaigns.check_transition(old, new)
    assert info.value.field == "status"


def test_an_unknown_status_or_type_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        campaigns.check_transition("draft", "launched")
    assert info.value.field == "status"
    with pytest.raises(InvalidArgument) as info:
        campaigns.check(Campaign(name="Expo", type="billboard"))
    assert info.value.field == "type"


def test_campaign_checks_money_dates_and_audience() -> None:
    c = Campaign(name="  春季展会  ", type="trade_show", start_date="2026-04-01", end_date="2026-04-03")
    c.budget.amount, c.budget.currency_code = "50000.00", "CNY"
    c.audience.tags.extend(["vip", " vip ", ""])
    campaigns.check(c)
    assert (c.name, list(c.audience.tags)) == ("春季展会", ["vip"])
    for field, mutate in (("end_date", lambda x: setattr(x, "end_date", "2026-03-01")),
                          ("budget.amount", lambda x: setattr(x.budget, "amount", "-5")),
                          ("budget.currency_code", lambda x: setattr(x.budget, "currency_code", "rmb")),
                          ("start_date", lambda x: setattr(x, "start_date", "April 1st"))):
        bad = Campaign()
        bad.CopyFrom(c)
        mutate(bad)
        with pytest.raises(InvalidArgument) as info:
            campaigns.check(bad)
        assert info.value.field == field


def test_slugs_and_check_in_codes() -> None:
    assert campaigns.slugify("Spring Expo 2026!") == "spring-expo-2026"
    assert campaigns.slugify("春季展会") == ""  # the caller falls back to an id-based slug
    with pytest.raises(InvalidArgument):
        campaigns.slugify("x", "Not A Slug")
    codes = {campaigns.new_check_in_code() for _ in range(500)}
    assert len(codes) == 500 and all(len(c) == 8 and set(c) <= set(campaigns.CODE_ALPHABET) for c in codes)
    assert campaigns.normalize_code(" abcd-efgh ") == "ABCDEFGH"


# -- templates

def template(subject: str = "{{ name }}，您好", text: str = "欢迎参加 {{ campaign_name }}", html: str = "",
             language: str = "zh-CN") -> Template:
    return Template(name="邀请", contents=[TemplateContent(language=language, subject=subject, text=text, html=html)])


CONTEXT = {"name": "王强", "email": "wq@example.cn", "company": "", "title": "", "city": "北京", "province": "",
           "language": "zh-CN", "custom": {"vip_level": "gold"}, "campaign_name": "春季展会",
           "unsubscribe_url": "https://crm.example/u/x"}


def test_a_template_renders_merge_fields_and_escapes_html() -> None:
    t = template(html="<p>{{ name }} · {{ company | default('贵公司', true) }} · {{ custom.vip_level }}</p>")
    templates.check(t)
    out = templates.render(t.contents[0], {**CONTEXT, "name": "<script>x</script>"})
    assert out.subject == "<script>x</script>，您好"  # subjects are text
    assert "&lt;script&gt;" in out.html and "<script>" not in out.html
    assert "贵公司" in out.html and "gold" in out.html
    assert out.text == "欢迎参加 春季展会"


def test_an_unknown_merge_field_is_named_at_save_and_at_render() -> None:
    with pytest.raises(InvalidArgument) as info:
        templates.check(template(subject="Hi {{ first_name }}"))
    assert (info.value.field, info.value.message) == (
        "contents[0].subject", "contents[0].subject: unknown merge field first_name")
    draft = template(subject="Hi {{ first_name }}")
    templates.check(draft, known_fields=False)  # a draft's preview names it instead
    with pytest.raises(InvalidArgument) as info:
        templates.render(draft.contents[0], CONTEXT)
    assert info.value.message == "template.subject: unknown merge field first_name"
    with pytest.raises(InvalidArgument) as info:
        templates.render(template(text="{{ custom.missing }}").contents[0], CONTEXT)
    assert info.value.message == "template.text: unknown merge field custom.missing"


def test_templates_are_sandboxed_and_syntax_errors_name_the_part() -> None:
    with pytest.raises(InvalidArgument) as info:
        templates.render(template(text="{{ name.__class__.__mro__ }}").contents[0], CONTEXT)
    assert info.value.field == "template.text"
    with pytest.raises(InvalidArgument) as info:
        templates.check(template(html="{% if name %}unclosed"))
    assert info.value.field == "contents[0].html"


def test_the_content_follows_the_contact_language_with_zh_cn_as_fallback() -> None:
    t = Template(name="x", contents=[TemplateContent(language="en", subject="Hello", text="x"),
                                     TemplateContent(language="zh", subject="您好", text="x")])
    templates.check(t)
    assert [c.language for c in t.contents] == ["en", "zh-CN"]
    assert templates.pick(t, "en-US").subject == "Hello"
    assert templates.pick(t, "zh_CN").subject == "您好"
    assert templates.pick(t, "fr").subject == "您好"
    with pytest.raises(InvalidArgument) as info:
        templates.check(Template(name="x", contents=[TemplateContent(language="en", subject="a", text="b"),
                                                     TemplateContent(language="en-GB", subject="c", text="d")]))
    assert info.value.field == "contents[1].language"


# -- tracking

def test_tokens_verify_and_any_tampering_fails() -> None:
    token = tracking.sign(KEY, tracking.CLICK, 4711, 2)
    assert tracking.verify(KEY, token, tracking.CLICK) == tracking.TokenClaims("c", 4711, 2)
    payload, _, mac = token.rpartition(".")
    other_link = payload[:-1] + "3"
    assert tracking.verify(KEY, f"{other_link}.{mac}", tracking.CLICK) is None          # another link
    assert tracking.verify(KEY, token, tracking.OPEN) is None                            # another kind
    assert tracking.verify(tracking.tracking_key("other"), token, tracking.CLICK) is None  # another key
    assert tracking.verify(KEY, token[:-1] + ("A" if token[-1] != "A" else "B"), tracking.CLICK) is None
    for junk in ("", ".", "c.1.0.", "x" * 200, "o.zz." + mac, f"{payload}.{mac[:-1]}é", "\x9f\x08ë"):
        assert tracking.verify(KEY, junk, tracking.CLICK) is None
    # neighbouring recipients' tokens are unrelated: nothing to enumerate
    assert tracking.sign(KEY, tracking.OPEN, 1).split(".")[-1] != tracking.sign(KEY, tracking.OPEN, 2).split(".")[-1]


def test_links_become_tracked_with_utm_and_the_own_links_stay() -> None:
    links = tracking.LinkMaker("https://crm.example/api/v1/public", KEY)
    out = tracking.track_links(
        "详情 https://shop.example/p?id=1. 再看 https://shop.example/p?id=1",
        '<a href="https://shop.example/p?id=1&amp;x=2">a</a> <a href="https://crm.example/api/v1/public/unsubscribe/t">u</a>'
        ' <a href="mailto:x@y.cn">m</a>',
        own_base=links.base, click_url=lambda i: links.click(7, i), utm=tracking.utm_params("spring-expo", "a"))
    assert len(out.links) == 2
    first = parse_qs(urlsplit(out.links[0]).query)
    assert first == {"id": ["1"], "x": ["2"], "utm_source": ["shuniu"], "utm_medium": ["email"],
                     "utm_campaign": ["spring-expo"], "utm_content": ["a"]}
    assert "https://shop.example" not in out.html and out.html.count("/click/") == 1
    assert "/unsubscribe/t" in out.html and "mailto:x@y.cn" in out.html
    assert out.text.count(links.click(7, 1)) == 2 and out.text.endswith(links.click(7, 1))
    assert links.click(7, 1) + "." in out.text  # the sentence's full stop is not part of the link
    kept = tracking.add_utm("https://x.example/?utm_source=partner", tracking.utm_params("s", "v"))
    assert parse_qs(urlsplit(kept).query)["utm_source"] == ["partner"]


def test_the_pixel_goes_before_the_end_of_the_body() -> None:
    html = tracking.add_pixel("<html><body><p>x</p></body></html>", "https://p/open/t")
    assert html.endswith('<img src="https://p/open/t" width="1" height="1" alt="" style="display:none"></body></html>')
    assert tracking.add_pixel("", "https://p") == ""
    assert tracking.mask_email("zhao.min@example.cn") == "z***@example.cn"


# -- audiences and eligibility

def test_audience_algebra_is_a_stable_union_minus_exclusions() -> None:
    assert audience.evaluate([["a", "b"], ["b", "c"], ["d"]], [["c"], [], ["x"]]) == ["a", "b", "d"]
    assert audience.evaluate([["a", ""]]) == ["a"]
    assert audience.evaluate([], [["a"]]) == []


def reach(**kwargs: object) -> Reachability:
    values: dict[str, object] = {"email": "a@b.cn", "consents": {"marketing_email": ConsentState(True, T0)}}
    values.update(kwargs)
    return Reachability(**values)  # type: ignore[arg-type]


def test_only_consented_unsuppressed_unsubscribed_unique_addresses_are_mailed() -> None:
    seen: set[str] = set()
    assert eligibility.skip_reason(reach(), "marketing_email", seen) == ""
    assert eligibility.skip_reason(reach(email="A@B.cn"), "marketing_email", seen) == "duplicate_email"
    assert eligibility.skip_reason(None, "marketing_email") == "unknown_contact"
    assert eligibility.skip_reason(reach(suppressed="deleted"), "marketing_email") == "suppressed"
    assert eligibility.skip_reason(reach(email_suppressed="bounced"), "marketing_email") == "suppressed"
    assert eligibility.skip_reason(reach(email=""), "marketing_email") == "no_email"
    assert eligibility.skip_reason(reach(consents={}), "marketing_email") == "no_consent"
    assert eligibility.skip_reason(reach(), "marketing_sms") == "no_consent"
    withdrawn = {"marketing_email": ConsentState(False, T0)}
    assert eligibility.skip_reason(reach(consents=withdrawn), "marketing_email") == "no_consent"
    assert eligibility.skip_reason(reach(unsubscribed_at=T0 + timedelta(days=1)), "marketing_email") == "unsubscribed"
    regranted = {"marketing_email": ConsentState(True, T0 + timedelta(days=2))}
    assert eligibility.skip_reason(reach(unsubscribed_at=T0 + timedelta(days=1), consents=regranted),
                                   "marketing_email") == ""


def test_the_throttle_spaces_hand_offs_to_the_rate() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    throttle = Throttle(10, sleep=sleep, monotonic=lambda: clock[0])
    for _ in range(21):
        throttle.wait()
    assert clock[0] == pytest.approx(2.0, abs=0.01)  # 20 intervals of 0.1 s after the first


def test_a_field_of_a_merge_field_that_has_none_is_refused_at_save_not_skipped_at_every_send() -> None:
    """{{ company.name }} saved, then failed for every recipient (render_failed: the wave mailed no
    one) and the preview called it "custom.name"."""
    with pytest.raises(InvalidArgument) as info:
        templates.check(template(html="<p>{{ company.name }}</p>"))
    assert (info.value.field, info.value.message) == (
        "contents[0].html", "contents[0].html: company has no field name; write {{ company }}")
    with pytest.raises(InvalidArgument) as info:
        templates.check(template(text="{{ name.__class__ }}"))
    assert info.value.field == "contents[0].text"
    for fine in ("{{ custom.vip_level }} {{ custom.score | default(0) }}", "{{ name[0] }}{{ name | upper }}",
                 "{% if custom.orders > 3 %}老客户{% endif %}", "{% for t in custom.tags %}{{ t }}{% endfor %}"):
        templates.check(template(text=fine))  # what depends on a contact's values is decided at send time
