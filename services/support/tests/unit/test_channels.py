"""WeChat / WeCom intake and replies: a signed callback is taken once by its MsgId, the channel
worker makes or threads the conversation's ticket on the sender's contact, an agent's reply is
queued with the comment and sent through the platform inside the 48-hour window, and a failed
send stays visible on the comment and is retried. Real schema, fakes at the ports."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crm.privacy.v1.privacy_pb2 import Subject
from crm.support.v1 import support_pb2 as pb
from crm_support import jobs, tables
from crm_support import store as support_store
from crm_support.rules import channels as rules
from crm_support.usecases import channels, replies, subject, tickets
from crmkit.auth import Principal
from crmkit.errors import FailedPrecondition, NotFound, PermissionDenied
from crmkit.privacy import erase
from crmkit.wechat.api import SendFailed
from crmkit.wechat.protocol import aes_key, build_xml, encrypt, sign

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
AGENT = Principal("agent.1", ("support",), "support", "", "客服小王")
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = rules.ChannelAccount(name="demo", platform="wechat", token="tok", encoding_aes_key=AES,
                               app_id="wx5823bf96d3bd56c7", secret="s", api_base="http://sim.test")
ACCOUNTS = {"demo": ACCOUNT}


def callback(fields: dict[str, str], *, token: str = "tok") -> pb.ChannelCallbackRequest:
    envelope = encrypt(aes_key(AES), build_xml(fields), ACCOUNT.app_id)
    ts, nonce = fields["CreateTime"], "nonce1"
    return pb.ChannelCallbackRequest(
        platform="wechat", account="demo", method="POST", body=build_xml({"ToUserName": "gh_demo", "Encrypt": envelope}),
        query={"timestamp": ts, "nonce": nonce, "encrypt_type": "aes", "msg_signature": sign(token, ts, nonce, envelope)})


def text(msg_id: str, content: str, *, user: str = "o-wang", at: datetime = NOW) -> pb.ChannelCallbackRequest:
    return callback({"ToUserName": "gh_demo", "FromUserName": user, "CreateTime": str(int(at.timestamp())),
                     "MsgType": "text", "Content": content, "MsgId": msg_id})


def deliver(store: Any, request: pb.ChannelCallbackRequest, at: datetime = NOW) -> pb.ChannelCallbackResponse:
    opened = channels.open_callback(ACCOUNTS, request, now=at)
    return store.write(lambda uow: channels.take(uow, opened=opened, now=at))


def ticket_of(store: Any, user: str = "o-wang") -> pb.Ticket:
    found = store.read(lambda s: support_store.ticket_by_ref(s, "wechat", rules.conversation("demo", user)))
    assert found is not None
    return found


def test_a_message_becomes_a_ticket_on_the_senders_contact_once(store: Any, contacts: Any) -> None:
    first = deliver(store, text("1001", "发票开错了，怎么重开？"))
    assert (first.reply, first.duplicate) == ("success", False)
    assert deliver(store, text("1001", "发票开错了，怎么重开？")).duplicate  # the platform's retry
    assert jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW) == 1
    assert jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW) == 0
    ticket = ticket_of(store)
    contact = contacts.contacts[ticket.contact_id]
    assert [(i.platform, i.kind, i.value, i.app_id) for i in contact.social_identities] == [
        ("wechat", "openid", "o-wang", ACCOUNT.app_id)]
    assert ticket.channel == "wechat" and ticket.subject.startswith("微信: 发票开错了")
    assert ticket.reply_window_ends_at.ToDatetime(UTC) == NOW + timedelta(hours=48)
    assert "crm.support.ticket.created" in store.events()
    # the next message of the conversation joins the open ticket, and moves the window
    later = NOW + timedelta(hours=5)
    deliver(store, text("1002", "还有一个问题", at=later), later)
    jobs.handle_messages(store.db, contacts, ACCOUNTS, later)
    again = ticket_of(store)
    assert again.id == ticket.id and again.reply_window_ends_at.ToDatetime(UTC) == later + timedelta(hours=48)
    bodies = [c.body for c in store.read(lambda s: tickets.list_comments(s, principal=AGENT, key=ticket.id,
                                                                         public_only=False))]
    assert bodies == ["发票开错了，怎么重开？", "还有一个问题"]
    assert contacts.calls["find_or_create_identity"] == 1  # the open ticket has its contact


def test_a_bad_signature_is_refused_and_nothing_is_stored(store: Any, contacts: Any) -> None:
    forged = text("1003", "hi")
    forged.query["msg_signature"] = "0" * 40
    with pytest.raises(PermissionDenied) as refused:
        channels.open_callback(ACCOUNTS, forged, now=NOW)
    assert refused.value.field == "msg_signature"
    with pytest.raises(NotFound):
        channels.open_callback({}, text("1004", "hi"), now=NOW)
    assert jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW) == 0


def test_a_callback_signed_long_ago_is_refused_as_a_replay(store: Any) -> None:
    old = text("1005", "旧的", at=NOW - timedelta(days=31))
    with pytest.raises(PermissionDenied, match="24 hours") as refused:
        channels.open_callback(ACCOUNTS, old, now=NOW)
    assert refused.value.field == "timestamp"
    channels.open_callback(ACCOUNTS, text("1006", "刚才的", at=NOW - timedelta(minutes=3)), now=NOW)


def _opened_ticket(store: Any, contacts: Any) -> pb.Ticket:
    deliver(store, text("2001", "在吗？"))
    jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW)
    return ticket_of(store)


def test_an_agents_reply_goes_out_through_the_platform_and_shows_its_delivery(store: Any, contacts: Any,
                                                                             sender: Any) -> None:
    ticket = _opened_ticket(store, contacts)
    _, comment = store.write(lambda uow: tickets.add_comment(
        uow, principal=AGENT, now=NOW + timedelta(minutes=3), key=ticket.id,
        comment=pb.Comment(body="您好，请把发票号发给我", public=True)))
    assert comment.delivery_status == "pending"
    sender.fail_with = SendFailed("system error (-1)")
    at = NOW + timedelta(minutes=4)
    assert jobs.send_replies(store.db, sender, ACCOUNTS, at) == 0
    shown = store.read(lambda s: tickets.list_comments(s, principal=AGENT, key=ticket.id, public_only=False))[-1]
    assert (shown.delivery_status, shown.delivery_attempts, shown.delivery_error) == ("pending", 1,
                                                                                     "system error (-1)")
    assert jobs.send_replies(store.db, sender, ACCOUNTS, at) == 0  # waits for its backoff
    sender.fail_with = None
    assert jobs.send_replies(store.db, sender, ACCOUNTS, at + timedelta(minutes=1)) == 1
    assert sender.sent == [(ACCOUNT.app_id, "o-wang", "您好，请把发票号发给我")]
    shown = store.read(lambda s: tickets.list_comments(s, principal=AGENT, key=ticket.id, public_only=False))[-1]
    assert (shown.delivery_status, shown.delivery_attempts) == ("sent", 2)
    # an internal note stays inside
    store.write(lambda uow: tickets.add_comment(uow, principal=AGENT, now=at, key=ticket.id,
                                                comment=pb.Comment(body="客户很急", public=False)))
    assert len(store.read(lambda s: replies.replies_of(s, ticket_id=ticket.id))) == 1


def test_a_permanent_refusal_marks_the_reply_failed(store: Any, contacts: Any, sender: Any) -> None:
    ticket = _opened_ticket(store, contacts)
    store.write(lambda uow: tickets.add_comment(uow, principal=AGENT, now=NOW, key=ticket.id,
                                                comment=pb.Comment(body="好的", public=True)))
    sender.fail_with = SendFailed("user unfollowed (43004)", permanent=True)
    jobs.send_replies(store.db, sender, ACCOUNTS, NOW)
    shown = store.read(lambda s: tickets.list_comments(s, principal=AGENT, key=ticket.id, public_only=False))[-1]
    assert shown.delivery_status == "failed" and "43004" in shown.delivery_error


def test_a_reply_after_the_48_hour_window_is_refused(store: Any, contacts: Any) -> None:
    ticket = _opened_ticket(store, contacts)
    late = NOW + timedelta(hours=48, seconds=1)
    with pytest.raises(FailedPrecondition, match="48-hour reply window") as refused:
        store.write(lambda uow: tickets.add_comment(uow, principal=AGENT, now=late, key=ticket.id,
                                                    comment=pb.Comment(body="抱歉久等", public=True)))
    assert refused.value.field == "comment"
    assert store.read(lambda s: replies.replies_of(s, ticket_id=ticket.id)) == []
    # a note is still fine, and the customer writing again reopens the window
    store.write(lambda uow: tickets.add_comment(uow, principal=AGENT, now=late, key=ticket.id,
                                                comment=pb.Comment(body="超时了", public=False)))
    deliver(store, text("2002", "还在吗", at=late), late)
    jobs.handle_messages(store.db, contacts, ACCOUNTS, late)
    store.write(lambda uow: tickets.add_comment(uow, principal=AGENT, now=late, key=ticket.id,
                                                comment=pb.Comment(body="在的", public=True)))


def test_contacts_down_postpones_then_the_ticket_opens_without_a_contact(store: Any, contacts: Any) -> None:
    contacts.down = True
    deliver(store, text("3001", "你好"))
    at = NOW
    for _ in range(channels.CONTACT_ATTEMPTS - 1):
        assert jobs.handle_messages(store.db, contacts, ACCOUNTS, at) == 0
        assert store.read(lambda s: support_store.ticket_by_ref(s, "wechat", "demo:o-wang")) is None
        at += timedelta(hours=1)
    assert jobs.handle_messages(store.db, contacts, ACCOUNTS, at) == 1  # never lost
    ticket = ticket_of(store)
    assert ticket.contact_id == "" and ticket.requester_name == "o-wang"


def test_a_subscribe_with_a_campaign_scene_publishes_the_follower(store: Any, contacts: Any) -> None:
    event = callback({"ToUserName": "gh_demo", "FromUserName": "o-li", "CreateTime": str(int(NOW.timestamp())),
                      "MsgType": "event", "Event": "subscribe", "EventKey": "qrscene_camp-42"})
    deliver(store, event)
    assert deliver(store, event).duplicate  # events dedup by sender and time
    assert jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW) == 1
    assert store.events().count("crm.support.channel.followed") == 1
    assert "crm.support.ticket.created" not in store.events()
    assert any(i.value == "o-li" for c in contacts.contacts.values() for i in c.social_identities)


def test_account_configuration_errors_name_the_entry() -> None:
    assert rules.parse_accounts("") == {}
    with pytest.raises(ValueError, match=r"\[0\]\.platform"):
        rules.parse_accounts('[{"name": "a", "platform": "sms"}]')
    with pytest.raises(ValueError, match="43 characters"):
        rules.parse_accounts('[{"name": "a", "platform": "wecom", "token": "t", "app_id": "ww1", "secret": "s", '
                             '"api_base": "http://x", "encoding_aes_key": "short"}]')


def test_retention_purges_handled_messages_but_not_pending_ones(store: Any, contacts: Any) -> None:
    deliver(store, text("4001", "旧消息"))
    jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW)
    contacts.down = True
    deliver(store, text("4002", "等联系人", user="o-other"))
    jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW)  # postponed: still pending
    later = NOW + timedelta(days=31)
    assert store.write(lambda uow: jobs.purge_channel_rows(uow.session, later, 100)) == 1
    assert deliver(store, text("4002", "等联系人", user="o-other")).duplicate  # the pending one is kept


def test_an_image_is_kept_as_an_attachment_of_the_customers_comment(store: Any, contacts: Any) -> None:
    deliver(store, callback({"ToUserName": "gh_demo", "FromUserName": "o-pic", "CreateTime": str(int(NOW.timestamp())),
                             "MsgType": "image", "PicUrl": "http://mmbiz.example/pic.jpg", "MediaId": "m-1",
                             "MsgId": "5001"}))
    jobs.handle_messages(store.db, contacts, ACCOUNTS, NOW)
    ticket = ticket_of(store, "o-pic")
    [comment] = store.read(lambda s: tickets.list_comments(s, principal=AGENT, key=ticket.id, public_only=False))
    assert comment.body == "[图片 image]"
    assert [(a.file_name, a.url) for a in comment.attachments] == [("m-1.jpg", "http://mmbiz.example/pic.jpg")]


def test_erasing_the_person_takes_their_wechat_messages_and_replies(store: Any, contacts: Any) -> None:
    ticket = _opened_ticket(store, contacts)
    store.write(lambda uow: tickets.add_comment(uow, principal=AGENT, now=NOW, key=ticket.id,
                                                comment=pb.Comment(body="好的", public=True)))
    store.write(lambda uow: erase(uow.session, subject.HOLDINGS, Subject(contact_ids=[ticket.contact_id])))
    assert store.read(lambda s: s.execute(select(tables.channel_messages.c.seq)).all()) == []
    assert store.read(lambda s: replies.replies_of(s, ticket_id=ticket.id)) == []
