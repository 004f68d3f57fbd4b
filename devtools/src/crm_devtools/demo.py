"""Demo data for `make run`, loaded once through the services' APIs (so events flow to every
read model like real traffic). Idempotency keys make a re-run after a crash harmless.

Contacts: accounts and their people. Marketing (when the service is there, loaded once on its
own): marketing_email consent for three of the four northern VIPs, a segment over them, a
bilingual template with merge fields, a webinar campaign, and one wave sent into the local SMTP
sink, with opens and a click made through the links of the mails it sent (the gateway's public
routes), as a reader would; the webinar's sign-up form and a three-step nurture sequence."""
from __future__ import annotations

import http.client
import re
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from urllib.parse import urlsplit

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.marketing.v1 import marketing_pb2 as mpb
from crm.marketing.v1.marketing_pb2_grpc import MarketingServiceStub
from crm_devtools.users import DEMO_USERS
from crmkit.auth import mint_token
from crmkit.grpc_client import ServiceClient, open_channel

# (account, region, owner, industry, level, source, city, province, [(name, title, phone, email, tags)])
DEMO = [
    ("北京小米科技有限责任公司", "north", "rep.north.1", "C39", "vip", "trade_show", "北京", "北京市", [
        ("王强", "采购总监", "+86 138 0013 8001", "wang.qiang@xiaomi.example", ["高意向"]),
        ("Li Mei", "IT Manager", "13800138002", "li.mei@xiaomi.example", ["price sensitive"]),
    ]),
    ("Siemens Ltd., China", "north", "rep.north.2", "C38", "vip", "referral", "北京", "北京市", [
        ("Thomas Müller", "Head of Procurement", "+86 10 6476 8888", "thomas.mueller@siemens.example", ["high intent"]),
        ("赵敏", "项目经理", "+86 139 1000 2003", "zhao.min@siemens.example", []),
    ]),
    ("天津港集团", "north", "rep.north.1", "G55", "regular", "website", "天津", "天津市", [
        ("孙丽", "信息中心主任", "+86 135 2000 3004", "sun.li@tjport.example", ["3个月未联系"]),
    ]),
    ("华为技术有限公司", "south", "rep.south.1", "C39", "vip", "event", "深圳", "广东省", [
        ("张伟", "供应链经理", "+86 137 1234 5678", "zhang.wei@huawei.example", ["高意向", "技术评估中"]),
        ("Emily Chen", "Solutions Architect", "+86 755 2878 0808", "emily.chen@huawei.example", []),
    ]),
    ("深圳市腾讯计算机系统有限公司", "south", "rep.south.2", "I64", "regular", "ads", "深圳", "广东省", [
        ("刘洋", "市场总监", "+86 136 8888 6666", "liu.yang@tencent.example", ["price sensitive"]),
    ]),
    ("Acme Manufacturing (Guangzhou) Co.", "south", "rep.south.2", "C34", "prospect", "website", "广州", "广东省", [
        ("John Smith", "Plant Manager", "+86 20 8888 1234", "john.smith@acme.example", ["high intent"]),
        ("陈静", "财务经理", "+86 158 0000 1111", "chen.jing@acme.example", []),
    ]),
]


def _md(user: str, secret: str, key: str) -> list[tuple[str, str]]:
    token = mint_token(DEMO_USERS[user], secret)
    return [("authorization", f"Bearer {token}"), ("crm-idempotency-key", key)]


def load_demo_data(suite: Any) -> int:
    """Returns how many contacts were created (0 when the data was already there)."""
    created = _load_contacts(suite)
    if "marketing" in suite.ports:
        load_marketing_demo(suite)
    return created


def _load_contacts(suite: Any) -> int:
    addr = f"127.0.0.1:{suite.ports['contacts'][0]}"
    client = ServiceClient(ContactsServiceStub(open_channel(addr)), timeout=10)
    admin = _md("admin", suite.jwt_secret, "demo-probe")[:1]
    if client.call("ListContacts", pb.ListContactsRequest(), metadata=admin).contacts:
        return 0
    created = 0
    for a_index, (company, region, owner, industry, level, source, city, province, people) in enumerate(DEMO):
        team = DEMO_USERS[owner].team
        address = pb.Address(kind="office", country="CN", province=province, city=city)
        account = client.call("CreateAccount", pb.CreateAccountRequest(account=pb.Account(
            name=company, industry=industry, level=level, source=source, owner_id=owner, team=team,
            region=region, addresses=[address]), allow_duplicate=True),
            metadata=_md(owner, suite.jwt_secret, f"demo-account-{a_index}"))
        for p_index, (name, title, phone, email, tags) in enumerate(people):
            client.call("CreateContact", pb.CreateContactRequest(contact=pb.Contact(
                name=name, title=title, account_id=account.id, company_name=company,
                phones=[pb.Phone(raw=phone, kind="mobile")], emails=[pb.Email(address=email)],
                addresses=[address], industry=industry, level=level, source=source, owner_id=owner,
                team=team, region=region, tags=tags, lifecycle_stage="customer" if level == "vip" else "prospect",
                language="zh-CN" if any("\u4e00" <= ch <= "\u9fff" for ch in name) else "en",
            )), metadata=_md(owner, suite.jwt_secret, f"demo-contact-{a_index}-{p_index}"))
            created += 1
    return created


# -- marketing ------------------------------------------------------------------------------------

CONSENTED = ("wang.qiang@xiaomi.example", "li.mei@xiaomi.example", "thomas.mueller@siemens.example")
LANDING = "https://www.shuniu-crm.example/events/spring-launch"
TEMPLATE = mpb.Template(name="春季新品发布会邀请 Spring launch invitation", contents=[
    mpb.TemplateContent(
        language="zh-CN", subject="{{ name }}，诚邀您参加{{ campaign_name }}",
        text=("尊敬的{{ name }}：\n\n{{ company | default('贵公司') }}是我们重要的客户，诚邀您在线参加{{ campaign_name }}。"
              f"\n报名：{LANDING}\n\n退订：{{{{ unsubscribe_url }}}}"),
        html=("<p>尊敬的{{ name }}：</p><p>{{ company | default('贵公司') }}是我们重要的客户，诚邀您在线参加"
              f'<b>{{{{ campaign_name }}}}</b>。</p><p><a href="{LANDING}">立即报名</a></p>'
              '<p><small><a href="{{ unsubscribe_url }}">退订</a></small></p>')),
    mpb.TemplateContent(
        language="en", subject="{{ name }}, join us at {{ campaign_name }}",
        text=f"Dear {{{{ name }}}},\n\nregister here: {LANDING}\n\nUnsubscribe: {{{{ unsubscribe_url }}}}",
        html=(f'<p>Dear {{{{ name }}}},</p><p><a href="{LANDING}">Register for {{{{ campaign_name }}}}</a></p>'
              '<p><small><a href="{{ unsubscribe_url }}">Unsubscribe</a></small></p>')),
])
_PUBLIC_LINK = re.compile(r"""https?://[^\s"'<>]+/api/v1/public/(open|click)/[A-Za-z0-9._-]+""")


def load_marketing_demo(suite: Any, timeout: float = 60.0) -> bool:
    """False when marketing already has campaigns (loaded before)."""
    marketing = ServiceClient(MarketingServiceStub(open_channel(f"127.0.0.1:{suite.ports['marketing'][0]}")),
                              timeout=15)
    contacts = ServiceClient(ContactsServiceStub(open_channel(f"127.0.0.1:{suite.ports['contacts'][0]}")),
                             timeout=10)
    secret = suite.jwt_secret
    if marketing.call("ListCampaigns", mpb.ListCampaignsRequest(), metadata=_md("admin", secret, "")[:1]).campaigns:
        return False
    listed = contacts.call("ListContacts", pb.ListContactsRequest(page={"page_size": 200}),
                           metadata=_md("admin", secret, "")[:1]).contacts
    by_email = {e.address: c for c in listed for e in c.emails}
    for i, email in enumerate(CONSENTED):
        contacts.call("RecordConsent", pb.RecordConsentRequest(contact_id=by_email[email].id, consent=pb.Consent(
            purpose="marketing_email", granted=True, lawful_basis="consent", source="web_form:newsletter-signup",
            evidence="勾选“我愿意接收市场活动邮件” / ticked 'send me event invitations' (demo data)")),
            metadata=_md("admin", secret, f"demo-consent-{i}"))
    mkt = "marketing.hq"
    segment = contacts.call("CreateSegment", pb.CreateSegmentRequest(segment=pb.Segment(
        name="华北 VIP 客户 North VIPs", description="华北区 VIP 联系人 (demo)",
        filter=pb.SegmentFilter(regions=["north"], levels=["vip"]))), metadata=_md(mkt, secret, "demo-segment"))
    template = marketing.call("CreateTemplate", mpb.CreateTemplateRequest(template=TEMPLATE),
                              metadata=_md(mkt, secret, "demo-template"))
    campaign = marketing.call("CreateCampaign", mpb.CreateCampaignRequest(campaign=mpb.Campaign(
        name="2026 春季新品发布会 Spring launch webinar", type="webinar", description="线上发布会 (demo)",
        budget={"currency_code": "CNY", "amount": "30000.00"}, start_date="2026-04-16", end_date="2026-04-16",
        region="north", audience=mpb.Audience(segment_ids=[segment.id]),
        expected=mpb.Kpis(leads=20, attendees=50))), metadata=_md(mkt, secret, "demo-campaign"))
    for status in ("scheduled", "active"):
        campaign = marketing.call("ChangeCampaignStatus", mpb.ChangeCampaignStatusRequest(
            id=campaign.id, status=status, expected_version=campaign.version),
            metadata=_md(mkt, secret, f"demo-campaign-{status}"))
    wave = marketing.call("CreateSendWave", mpb.CreateSendWaveRequest(wave=mpb.SendWave(
        campaign_id=campaign.id, template_id=template.id)), metadata=_md(mkt, secret, "demo-wave"))
    marketing.call("StartSendWave", mpb.StartSendWaveRequest(id=wave.id), metadata=_md(mkt, secret, "demo-start"))
    deadline = time.monotonic() + timeout
    while wave.status != "completed":
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo wave {wave.id} still {wave.status} after {timeout:.0f} s (marketing log)")
        time.sleep(0.3)
        wave = marketing.call("GetSendWave", mpb.GetSendWaveRequest(id=wave.id), metadata=_md(mkt, secret, "")[:1])
    sent = marketing.call("ListRecipients", mpb.ListRecipientsRequest(wave_id=wave.id, status="sent"),
                          metadata=_md(mkt, secret, "")[:1]).recipients
    _read_some(suite, {r.message_id for r in sent})
    _form_and_sequence(marketing, campaign.id, template.id, _md(mkt, secret, ""))
    return True


def _form_and_sequence(marketing: Any, campaign_id: str, template_id: str, md: list[tuple[str, str]]) -> None:
    """The webinar's sign-up form (GET /api/v1/public/forms/<id>) and a nurture sequence of three
    steps (day 0, 3, 7) that leads sales sends back for nurturing join."""
    def text(zh: str, en: str) -> mpb.LocalizedText:
        return mpb.LocalizedText(zh=zh, en=en)

    marketing.call("CreateForm", mpb.CreateFormRequest(form=mpb.Form(
        name="发布会报名 Webinar sign-up", title=text("报名参加春季新品发布会", "Join the spring launch webinar"),
        campaign_id=campaign_id, lead_region="north", thank_you=text("感谢报名！", "Thank you for signing up!"),
        fields=[mpb.FormField(name="name", label=text("姓名", "Name"), required=True),
                mpb.FormField(name="email", type="email", label=text("邮箱", "Email"), required=True),
                mpb.FormField(name="company", label=text("公司", "Company")),
                mpb.FormField(name="company_size", type="select", label=text("公司规模", "Company size"),
                              options=["1-50", "51-200", "201-1000", "1000+"])],
        consent=mpb.FormConsent(enabled=True, text=text("我愿意接收市场活动邮件", "Send me event invitations")))),
        metadata=[*md[:1], ("crm-idempotency-key", "demo-form")])
    sequence = marketing.call("CreateSequence", mpb.CreateSequenceRequest(sequence=mpb.Sequence(
        name="发布会后培育 Post-webinar nurture", campaign_id=campaign_id, enroll_nurturing=True,
        steps=[mpb.SequenceStep(day=day, template_id=template_id) for day in (0, 3, 7)])),
        metadata=[*md[:1], ("crm-idempotency-key", "demo-sequence")])
    marketing.call("ChangeSequenceStatus", mpb.ChangeSequenceStatusRequest(
        id=sequence.id, status="active", expected_version=sequence.version),
        metadata=[*md[:1], ("crm-idempotency-key", "demo-sequence-active")])


def _read_some(suite: Any, message_ids: set[str]) -> None:
    """Like readers would: the first two mails opened (their pixel), the first one's link clicked."""
    mails = sorted((m for m in _kept_mails(suite) if str(m.get("Message-ID", "")).strip() in message_ids),
                   key=lambda m: str(m["To"]))
    for i, mail in enumerate(mails[:2]):
        body = mail.get_body(("html",))
        for link in _PUBLIC_LINK.finditer(body.get_content() if body is not None else ""):
            if link.group(1) == "open" or i == 0:
                _get(link.group(0))


def _kept_mails(suite: Any) -> list[EmailMessage]:
    mails: list[EmailMessage] = []
    for path in sorted(suite.mail_dir.glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=default_policy)
        if isinstance(mail, EmailMessage):
            mails.append(mail)
    return mails


def _get(url: str) -> int:
    """One GET, redirects not followed (a click answers 302 to a site that does not exist)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
    try:
        connection.request("GET", parts.path, headers={"User-Agent": "shuniu-demo-reader"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
