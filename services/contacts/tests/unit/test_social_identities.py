"""Social identities on a contact (WeChat openid / unionid, WeCom external_userid): validated,
found by lookup, treated as duplicates like a phone, and carried over by a merge."""
from __future__ import annotations

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.usecases import duplicates, identities, records
from crmkit.auth import Principal
from crmkit.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied

SERVICE = Principal("support", ("service",), "", "", "support service")


def openid(value: str, app_id: str = "wx1234", source: str = "wechat_callback:demo") -> pb.SocialIdentity:
    return pb.SocialIdentity(platform="wechat", kind="openid", app_id=app_id, value=value, verified_source=source)


def create(contacts, contact: pb.Contact, user: str = "rep.north.1", allow_duplicate: bool = False) -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=contact, allow_duplicate=allow_duplicate))


def find(contacts, identity: pb.SocialIdentity, principal: Principal = SERVICE) -> pb.Contact:
    return contacts.read(lambda s: identities.find_contact_by_identity(s, principal=principal, identity=identity))


def test_a_contact_is_found_by_its_openid_within_its_app_only(contacts) -> None:
    made = create(contacts, pb.Contact(name="王强", social_identities=[openid(" o-wang ")]))
    assert [(i.value, i.verified_source) for i in made.social_identities] == [("o-wang", "wechat_callback:demo")]
    assert find(contacts, openid("o-wang")).id == made.id
    with pytest.raises(NotFound):  # the same openid string in another app is another person
        find(contacts, openid("o-wang", app_id="wx9999"))
    with pytest.raises(PermissionDenied):
        find(contacts, openid("o-wang"), contacts.users["rep.north.1"])


def test_the_same_identity_twice_is_a_duplicate_like_a_phone(contacts) -> None:
    create(contacts, pb.Contact(name="王强", social_identities=[openid("o-dup")]))
    with pytest.raises(AlreadyExists) as refused:
        create(contacts, pb.Contact(name="王强 (微信)", social_identities=[openid("o-dup")]))
    assert refused.value.field == "social_identities"


def test_bad_identities_name_their_field(contacts) -> None:
    for bad, field in ((pb.SocialIdentity(platform="qq", kind="openid", app_id="a", value="v"), "platform"),
                       (pb.SocialIdentity(platform="wechat", kind="nick", app_id="a", value="v"), "kind"),
                       (pb.SocialIdentity(platform="wechat", kind="openid", value="v"), "app_id"),
                       (pb.SocialIdentity(platform="wechat", kind="openid", app_id="a", value="a b"), "value")):
        with pytest.raises(InvalidArgument) as refused:
            create(contacts, pb.Contact(name="x", social_identities=[bad]))
        assert refused.value.field == f"social_identities[0].{field}"


def test_a_merge_moves_the_identity_onto_the_survivor(contacts) -> None:
    person = create(contacts, pb.Contact(name="王强", emails=[pb.Email(address="wang@hbsteel.cn")]))
    follower = create(contacts, pb.Contact(name="微信用户 wang", social_identities=[openid("o-merge")]))
    contacts.write(lambda uow: duplicates.merge_contacts(uow, principal=contacts.users["rep.north.1"],
                                                         now=contacts.now, survivor_id=person.id,
                                                         merged_ids=[follower.id]))
    assert find(contacts, openid("o-merge")).id == person.id  # the next message lands on the right person
