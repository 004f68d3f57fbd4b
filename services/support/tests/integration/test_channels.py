"""WeChat callbacks through support's real gRPC server (SQLite, and PostgreSQL when reachable),
contacts played by the contract fake: a message from an openid a contact holds lands on that
contact, a redelivery is taken once whatever the database (the unique key, not a cache), and a
forged one is PERMISSION_DENIED naming the signature."""
from __future__ import annotations

from typing import Any

import grpc
import pytest

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb
from crm_support.rules.channels import ChannelAccount
from crmkit.testing import wait_for
from crmkit.wechat.protocol import aes_key, build_xml, encrypt, sign

pytestmark = pytest.mark.integration
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = ChannelAccount(name="demo", platform="wechat", token="tok", encoding_aes_key=AES,
                         app_id="wx5823bf96d3bd56c7", secret="s", api_base="http://127.0.0.1:9")


@pytest.fixture
def support_overrides() -> dict[str, Any]:
    return {"channels": {"demo": ACCOUNT}, "channel_interval": 0.1}


def callback(support: Any, msg_id: str, content: str, *, token: str = "tok") -> pb.ChannelCallbackRequest:
    created = str(int(support.clock().timestamp()))
    fields = {"ToUserName": "gh_demo", "FromUserName": "o-zhao", "CreateTime": created, "MsgType": "text",
              "Content": content, "MsgId": msg_id}
    envelope = encrypt(aes_key(AES), build_xml(fields), ACCOUNT.app_id)
    return pb.ChannelCallbackRequest(
        platform="wechat", account="demo", method="POST", body=build_xml({"ToUserName": "gh_demo", "Encrypt": envelope}),
        query={"timestamp": created, "nonce": msg_id, "msg_signature": sign(token, created, msg_id, envelope)})


def test_a_message_lands_on_the_contact_holding_the_openid_once(support: Any, contacts: Any) -> None:
    customer = contacts.add_contact(cpb.Contact(name="赵敏", social_identities=[cpb.SocialIdentity(
        platform="wechat", app_id=ACCOUNT.app_id, kind="openid", value="o-zhao")]))
    public = support.as_user("public")
    request = callback(support, "8001", "退货怎么办理？")
    assert public.ReceiveChannelCallback(request).reply == "success"
    assert public.ReceiveChannelCallback(request).duplicate  # the platform's retry
    agent = support.as_user("agent")

    def tickets() -> list[pb.Ticket]:
        return list(agent.ListTickets(pb.ListTicketsRequest(filter=pb.TicketFilter(channel="wechat"))).tickets)
    wait_for(lambda: len(tickets()) == 1, 20, what="the WeChat ticket")
    [ticket] = tickets()
    assert (ticket.contact_id, ticket.requester_name) == (customer.id, "赵敏")
    assert len(agent.ListComments(pb.ListCommentsRequest(ticket_id=ticket.id)).comments) == 1


def test_a_forged_callback_is_permission_denied_naming_the_signature(support: Any) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        support.as_user("public").ReceiveChannelCallback(callback(support, "8002", "x", token="guess"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert dict(refused.value.trailing_metadata())["crm-error-field"] == "msg_signature"
