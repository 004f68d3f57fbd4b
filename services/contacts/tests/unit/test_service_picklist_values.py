"""A contact another service creates on its own behalf names the picklist values it means, and
contacts settles one an administrator retired instead of refusing it (usecases/records.py,
rules/records.py `settle_service_values`): nobody is there to fix a 400, and what was sent is
kept as a tag. Each record below is built the way its caller builds it (services never import
each other): marketing's consent contact of a form submission, support's contact of a new email
sender and of a new WeChat follower. A user's own create with the same retired key is still a 400."""
from __future__ import annotations

import pytest

from crm.common.v1.picklists_pb2 import Picklist, PicklistValue
from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.rules.records import MAX_TAGS
from crm_contacts.usecases import picklists as admin
from crm_contacts.usecases import records
from crmkit.auth import SYSTEM
from crmkit.errors import InvalidArgument
from crmkit.runtime_tables import audit_row


def _retire(contacts, name: str, *retired: str, order: tuple[str, ...] = ()) -> None:
    current = contacts.read(admin.get_picklists)
    [plist] = [p for p in current.picklists if p.name == name]
    keys = [*order, *(v.key for v in plist.values if v.key not in order)]
    contacts.write(lambda uow: admin.update_picklist(
        uow, principal=contacts.users["admin"], now=contacts.now, expected_version=current.version,
        change=Picklist(name=name, restricted=True, values=[PicklistValue(key=k, retired=k in retired) for k in keys])))


def _create(contacts, contact: pb.Contact, principal=SYSTEM) -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=principal, now=contacts.now, record=contact, allow_duplicate=False))


def _note(contacts, contact_id: str) -> str:
    """The audit entry of the create: what was kept as sent."""
    [row] = [r for r in contacts.rows(audit_row) if r.record_id == contact_id and r.action == "created"]
    return str(row.details or "")


def _form_contact(email: str) -> pb.Contact:
    # crm_marketing.usecases.delivery.contact_of_submission
    return pb.Contact(name="访客", company_name="示例科技", source="website", lifecycle_stage="lead", language="zh-CN",
                      emails=[pb.Email(address=email, kind="work")],
                      phones=[pb.Phone(number="13800138000", raw="13800138000", kind="mobile")])


def test_a_form_s_consent_contact_is_created_when_website_and_lead_are_retired(contacts) -> None:
    _retire(contacts, "source", "website")
    _retire(contacts, "lifecycle_stage", "lead")
    created = _create(contacts, _form_contact("visitor@example.com"))
    assert (created.source, created.lifecycle_stage) == ("", "prospect")  # the first active stage
    assert list(created.tags) == ["source:website", "lifecycle_stage:lead"]
    assert [e.address for e in created.emails] == ["visitor@example.com"]
    assert "source:website" in _note(contacts, created.id) and "lifecycle_stage:lead" in _note(contacts, created.id)
    assert contacts.subjects()[-1] == "crm.contacts.contact.created"
    assert contacts.payload().contact.tags == created.tags  # what marketing's projection and segments see


def test_a_user_s_own_create_with_the_retired_key_is_still_a_400_naming_the_field(contacts) -> None:
    _retire(contacts, "source", "website")
    with pytest.raises(InvalidArgument) as err:
        _create(contacts, _form_contact("rep.typed@example.com"), contacts.users["rep.north.1"])
    assert err.value.field == "source" and "retired" in err.value.message
    with pytest.raises(InvalidArgument) as err:  # an admin is a user too
        _create(contacts, _form_contact("admin.typed@example.com"), contacts.users["admin"])
    assert err.value.field == "source"


def test_active_values_are_stored_as_sent_with_no_tag(contacts) -> None:
    created = _create(contacts, _form_contact("active@example.com"))
    assert (created.source, created.lifecycle_stage, list(created.tags)) == ("website", "lead", [])
    assert "kept as sent" not in _note(contacts, created.id)


def test_a_new_email_sender_s_contact_survives_other_and_customer_retired(contacts) -> None:
    # crm_support.ports.GrpcContacts.find_or_create; the stage falls back in the admin's order
    _retire(contacts, "source", "other")
    _retire(contacts, "lifecycle_stage", "customer", order=("churned", "customer"))
    created = _create(contacts, pb.Contact(name="new.sender", emails=[pb.Email(address="new.sender@example.com")],
                                           source="other", lifecycle_stage="customer"))
    assert (created.source, created.lifecycle_stage) == ("", "churned")
    assert set(created.tags) == {"source:other", "lifecycle_stage:customer"}


def test_a_new_follower_s_contact_survives_social_retired(contacts) -> None:
    # crm_support.ports.GrpcContacts.find_or_create_identity
    _retire(contacts, "source", "social")
    identity = pb.SocialIdentity(platform="wechat", app_id="wx0123456789abcdef", kind="openid",
                                 value="o6_bmjrPTlm6_2sgVt7hMZOPfL2M")
    created = _create(contacts, pb.Contact(name="微信用户", social_identities=[identity], source="social",
                                           lifecycle_stage="customer"))
    assert (created.source, created.lifecycle_stage, list(created.tags)) == ("", "customer", ["source:social"])
    assert created.social_identities[0].value == identity.value


def test_a_label_names_its_key_and_a_full_tag_list_still_creates_the_contact(contacts) -> None:
    _retire(contacts, "source", "website")
    full = [f"t{i}" for i in range(MAX_TAGS)]
    created = _create(contacts, pb.Contact(name="标签满", source="官网", level="VIP", tags=full,
                                           emails=[pb.Email(address="full.tags@example.com")]))
    # "官网" is the retired website's label: it names no active key; "VIP" names vip
    assert (created.source, created.level, list(created.tags)) == ("", "vip", full)
    assert "source:官网" in _note(contacts, created.id)  # no room for the tag: the audit entry keeps it


def test_an_account_a_service_creates_gets_the_same_treatment(contacts) -> None:
    _retire(contacts, "level", "prospect")
    created = _create(contacts, pb.Account(name="示例科技", level="prospect", source="website"))
    assert (created.level, created.source, list(created.tags)) == ("", "website", ["level:prospect"])
