"""Support and contacts as real services (in-process gRPC, SQLite), the platform played by the
WeChat simulator's API in a thread: a new follower's messages make one contact carrying their
openid and one ticket; the agent's reply reaches the platform, and again after the platform
expired the access token; once an agent merged that contact into the customer's own record, the
follower's next conversation opens on the customer."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.contacts.v1.contacts_pb2_grpc import ContactsServiceStub
from crm.support.v1 import support_pb2 as spb
from crm.support.v1.support_pb2_grpc import SupportServiceStub
from crm_contacts import bootstrap as contacts_bootstrap
from crm_devtools.users import DEMO_USERS
from crm_devtools.wechat_sim import WechatSimulator
from crm_support import bootstrap as support_bootstrap
from crm_support.ports import GrpcContacts
from crm_support.rules.channels import parse_accounts
from crmkit.auth import Principal, mint_token
from crmkit.config import ServiceSettings
from crmkit.credentials import ServiceCredentials
from crmkit.migrations import upgrade
from crmkit.service import ServiceRuntime
from crmkit.testing import NatsServer, wait_for
from crmkit.wechat.protocol import aes_key, build_xml, encrypt, sign

pytestmark = pytest.mark.integration

SECRET = "wechat-integration-secret-0123456789abcdef"
ADMIN = [("authorization", f"Bearer {mint_token(DEMO_USERS['admin'], SECRET)}")]
# What the gateway calls callbacks with: the public principal (the signature is the credential).
PUBLIC = [("authorization", f"Bearer {mint_token(Principal('public-web', ('public',), '', '', 'gw'), SECRET)}")]
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class Suite:
    sim: WechatSimulator
    account: dict[str, str]
    contacts: ContactsServiceStub
    support: SupportServiceStub

    def push(self, from_user: str, msg_id: str, content: str) -> spb.ChannelCallbackResponse:
        created = str(int(datetime.now(UTC).timestamp()))
        fields = {"ToUserName": "gh_demo", "FromUserName": from_user, "CreateTime": created, "MsgType": "text",
                  "Content": content, "MsgId": msg_id}
        envelope = encrypt(aes_key(AES), build_xml(fields), self.account["app_id"])
        query = {"timestamp": created, "nonce": msg_id, "encrypt_type": "aes",
                 "msg_signature": sign(self.account["token"], created, msg_id, envelope)}
        return self.support.ReceiveChannelCallback(spb.ChannelCallbackRequest(
            platform="wechat", account="demo", method="POST", query=query,
            body=build_xml({"ToUserName": "gh_demo", "Encrypt": envelope})), metadata=PUBLIC, timeout=15)

    def tickets(self, contact_id: str = "", status: str = "") -> list[spb.Ticket]:
        return list(self.support.ListTickets(spb.ListTicketsRequest(filter=spb.TicketFilter(
            channel="wechat", contact_id=contact_id, status=status)), metadata=ADMIN, timeout=15).tickets)

    def follower(self, openid: str) -> cpb.Contact:
        return self.contacts.FindContactByIdentity(cpb.FindContactByIdentityRequest(identity=cpb.SocialIdentity(
            platform="wechat", app_id=self.account["app_id"], kind="openid", value=openid)), metadata=ADMIN, timeout=15)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    tmp = tmp_path_factory.mktemp("wechat")
    nats_server = NatsServer(tmp_path_factory.mktemp("wechat-nats")).start()
    sim = WechatSimulator([], "http://127.0.0.1:9/unused").start()
    account = {"name": "demo", "platform": "wechat", "token": "integration-token", "encoding_aes_key": AES,
               "app_id": "wx5823bf96d3bd56c7", "secret": "app-secret", "api_base": sim.url}
    sim.platform.accounts = {"demo": account}
    sim.platform.by_app = {account["app_id"]: account}
    common = {"NATS_URL": nats_server.url, "PORT": "0", "METRICS_PORT": "0", "JWT_SECRET": SECRET,
              "DATA_DIR": str(tmp / "data")}
    contacts_url, support_url = f"sqlite:///{tmp / 'contacts.db'}", f"sqlite:///{tmp / 'support.db'}"
    contacts_spec = contacts_bootstrap.spec()
    upgrade(contacts_url, contacts_spec.migrations)
    contacts = ServiceRuntime(contacts_spec, ServiceSettings.from_env(
        "contacts", env={**common, "CONTACTS_DATABASE_URL": contacts_url})).start()
    support_spec = support_bootstrap.spec(
        contacts=lambda settings: GrpcContacts(contacts.address, ServiceCredentials(settings.auth)),
        channels=parse_accounts(json.dumps([account])), channel_interval=0.2)
    upgrade(support_url, support_spec.migrations)
    support = ServiceRuntime(support_spec, ServiceSettings.from_env(
        "support", env={**common, "SUPPORT_DATABASE_URL": support_url})).start()
    channels = [grpc.insecure_channel(contacts.address), grpc.insecure_channel(support.address)]
    try:
        yield Suite(sim, account, ContactsServiceStub(channels[0]), SupportServiceStub(channels[1]))
    finally:
        for channel in channels:
            channel.close()
        support.stop()
        contacts.stop()
        sim.stop()
        nats_server.stop()


def _sent_to(suite: Suite, openid: str) -> list[Any]:
    return [s["content"] for s in suite.sim.platform.sent if s["touser"] == openid]


def test_a_new_follower_becomes_one_contact_with_one_ticket_and_hears_the_reply(suite: Suite) -> None:
    assert suite.push("o-new-follower", "9001", "你好，想咨询一下").reply == "success"
    assert suite.push("o-new-follower", "9002", "在吗？").reply == "success"
    wait_for(lambda: sum(len(suite.support.ListComments(spb.ListCommentsRequest(ticket_id=t.id), metadata=ADMIN,
                                                        timeout=15).comments) for t in suite.tickets()) == 2,
             20, what="both messages on the ticket")
    follower = suite.follower("o-new-follower")
    [ticket] = suite.tickets(contact_id=follower.id)
    assert [i.verified_source for i in follower.social_identities] == ["wechat_callback:demo"]

    suite.support.AddComment(spb.AddCommentRequest(ticket_id=ticket.id, comment=spb.Comment(
        body="您好，请问是哪款产品？", public=True)), metadata=ADMIN, timeout=15)
    wait_for(lambda: _sent_to(suite, "o-new-follower") == ["您好，请问是哪款产品？"], 20, what="the first reply")
    fetched = suite.sim.platform.token_fetches
    suite.sim.platform.tokens.clear()  # the platform expired the token: the next send is told 42001
    suite.support.AddComment(spb.AddCommentRequest(ticket_id=ticket.id, comment=spb.Comment(
        body="我们有 S-100 和 S-200。", public=True)), metadata=ADMIN, timeout=15)
    wait_for(lambda: len(_sent_to(suite, "o-new-follower")) == 2, 20, what="the reply after the token expired")
    assert suite.sim.platform.token_fetches == fetched + 1


def test_after_a_merge_the_followers_next_conversation_opens_on_the_customer(suite: Suite) -> None:
    suite.push("o-merged", "9101", "发票抬头错了")
    wait_for(lambda: len(suite.tickets()) >= 1 and _has(suite, "o-merged"), 20, what="the follower's contact")
    follower = suite.follower("o-merged")
    customer = suite.contacts.CreateContact(cpb.CreateContactRequest(contact=cpb.Contact(
        name="钱程", emails=[cpb.Email(address="qian.cheng@example.cn")])), metadata=ADMIN, timeout=15)
    suite.contacts.MergeContacts(cpb.MergeContactsRequest(survivor_id=customer.id, merged_ids=[follower.id]),
                                 metadata=ADMIN, timeout=15)
    assert suite.follower("o-merged").id == customer.id
    [old] = suite.tickets(contact_id=follower.id)
    solved = suite.support.ChangeTicketStatus(spb.ChangeTicketStatusRequest(
        id=old.id, status="solved", resolution_note="已改"), metadata=ADMIN, timeout=15)
    suite.support.ChangeTicketStatus(spb.ChangeTicketStatusRequest(id=old.id, status="closed"), metadata=ADMIN,
                                     timeout=15)
    assert solved.ticket.status == "solved"
    suite.push("o-merged", "9102", "新的问题：发货时间？")
    wait_for(lambda: len(suite.tickets(contact_id=customer.id)) == 1, 20, what="the new ticket on the customer")
    [fresh] = suite.tickets(contact_id=customer.id)
    assert fresh.requester_email == "qian.cheng@example.cn"


def _has(suite: Suite, openid: str) -> bool:
    try:
        suite.follower(openid)
    except grpc.RpcError:
        return False
    return True
