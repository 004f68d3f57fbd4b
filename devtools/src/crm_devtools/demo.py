"""Demo data for `make run`, loaded once through the contacts API (so events flow to every
read model like real traffic). Idempotency keys make a re-run after a crash harmless."""
from __future__ import annotations

from typing import Any

from crm.contacts.v1 import contacts_pb2 as pb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
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
            )), metadata=_md(owner, suite.jwt_secret, f"demo-contact-{a_index}-{p_index}"))
            created += 1
    return created
