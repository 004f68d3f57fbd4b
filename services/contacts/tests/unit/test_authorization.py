"""Authorization findings, as a second rep and a manager of another region would try them: a rep
cannot move a customer to another team or region, cannot file a contact under an account they
cannot see, and a duplicate refusal names the existing record only to someone who may see it.
Offboarding moves every customer of a leaving rep, those without deals included."""
from __future__ import annotations

from datetime import timedelta

import pytest

from crm.common.v1.ownership_pb2 import ReassignRequest
from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.rules import visibility as policy
from crm_contacts.usecases import ownership, records
from crmkit.auth import Principal
from crmkit.errors import AlreadyExists, NotFound, PermissionDenied


def create(contacts, record, user: str = "rep.north.1", allow_duplicate: bool = False):
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users[user], now=contacts.now, record=record, allow_duplicate=allow_duplicate))


def update(contacts, patch, paths: list[str], user: str = "rep.north.1"):
    return contacts.write(lambda uow: records.update_record(
        uow, principal=contacts.users[user], now=contacts.now + timedelta(minutes=1), patch=patch, mask=paths,
        expected_version=0))


def get(contacts, kind, record_id: str, user: str):
    return contacts.read(lambda s: records.get_record(s, principal=contacts.users[user], kind=kind,
                                                      record_id=record_id))


@pytest.mark.parametrize("field, value", [("region", "south"), ("team", "south-sales")])
def test_a_rep_cannot_create_a_contact_in_another_region_or_team(contacts, field: str, value: str) -> None:
    with pytest.raises(PermissionDenied) as refused:
        create(contacts, pb.Contact(name="张伟", **{field: value}))
    assert refused.value.field == field
    with pytest.raises(PermissionDenied):
        create(contacts, pb.Account(name="华为", **{field: value}))


def test_a_rep_cannot_move_their_contact_out_of_their_managers_view(contacts) -> None:
    mine = create(contacts, pb.Contact(name="张伟"))
    with pytest.raises(PermissionDenied) as refused:
        update(contacts, pb.Contact(id=mine.id, region="south"), ["region"])
    assert refused.value.field == "region"
    assert get(contacts, pb.Contact, mine.id, "manager.north").region == "north"  # still the manager's
    # restating the value it has is no move
    assert update(contacts, pb.Contact(id=mine.id, region="north", title="经理"), ["region", "title"]).title == "经理"


def test_a_manager_keeps_records_in_their_view_and_an_admin_moves_them_anywhere(contacts) -> None:
    mine = create(contacts, pb.Contact(name="张伟"))
    with pytest.raises(PermissionDenied):
        update(contacts, pb.Contact(id=mine.id, region="south", team="south-sales"), ["region", "team"],
               user="manager.north")
    moved = update(contacts, pb.Contact(id=mine.id, region="south", team="south-sales"), ["region", "team"],
                   user="admin")
    assert (moved.region, moved.team) == ("south", "south-sales")
    assert get(contacts, pb.Contact, mine.id, "manager.south").id == mine.id


def test_a_contact_cannot_join_an_account_its_author_cannot_see(contacts) -> None:
    theirs = create(contacts, pb.Account(name="别人的公司"), user="rep.north.2")
    with pytest.raises(NotFound) as refused:
        create(contacts, pb.Contact(name="张伟", account_id=theirs.id))
    assert refused.value.field == "account_id"
    mine = create(contacts, pb.Contact(name="张伟"))
    with pytest.raises(NotFound):
        update(contacts, pb.Contact(id=mine.id, account_id=theirs.id), ["account_id"])
    # the manager who sees both may link them
    linked = update(contacts, pb.Contact(id=mine.id, account_id=theirs.id), ["account_id"], user="manager.north")
    assert linked.account_id == theirs.id


def test_a_duplicate_names_the_existing_record_only_to_whoever_may_see_it(contacts) -> None:
    first = create(contacts, pb.Contact(name="张伟", phones=[pb.Phone(raw="13800138000")]), user="rep.north.2")
    with pytest.raises(AlreadyExists) as hidden:
        create(contacts, pb.Contact(name="张伟", phones=[pb.Phone(raw="138 0013 8000")]))
    assert "existing_id" not in hidden.value.details and first.id not in hidden.value.message
    with pytest.raises(AlreadyExists) as shown:
        create(contacts, pb.Contact(name="张伟", phones=[pb.Phone(raw="138 0013 8000")]), user="manager.north")
    assert shown.value.details == {"existing_id": first.id}


def test_offboarding_moves_every_customer_of_the_leaving_rep_and_a_retry_moves_nothing(contacts) -> None:
    account = create(contacts, pb.Account(name="没有商机的公司"))
    people = [create(contacts, pb.Contact(name=f"客户{i}", account_id=account.id)) for i in range(2)]
    other = create(contacts, pb.Contact(name="别人的客户"), user="rep.north.2")
    request = ReassignRequest(from_user_id="rep.north.1", to_user_id="rep.north.2", operation_id="op-1")

    def reassign(user: str):
        return contacts.write(lambda uow: ownership.reassign(uow, principal=contacts.users[user], now=contacts.now,
                                                             request=request))

    with pytest.raises(PermissionDenied):
        reassign("rep.north.1")
    assert reassign("manager.south").moved == {"accounts": 0, "contacts": 0}  # not theirs to move
    result = reassign("manager.north")
    assert (result.service, dict(result.moved)) == ("contacts", {"accounts": 1, "contacts": 2})
    for record_id, kind in [(account.id, pb.Account), *((p.id, pb.Contact) for p in people)]:
        assert get(contacts, kind, record_id, "rep.north.2").owner_id == "rep.north.2"
    assert get(contacts, pb.Contact, other.id, "rep.north.2").version == 1  # untouched
    assert dict(reassign("manager.north").moved) == {"accounts": 0, "contacts": 0}


def test_a_delegation_lends_the_delegators_customers_until_it_ends(contacts) -> None:
    from crm.sales.v1 import events_pb2 as sev
    from crm.sales.v1.sales_pb2 import Delegation
    from crm_contacts import handlers
    from crm_contacts.events import SALES
    from crmkit.events import new_event, parse_envelope

    customer = create(contacts, pb.Contact(name="张伟"))
    d = Delegation(id="d-1", from_user_id="rep.north.1", to_user_id="rep.north.2")
    d.starts_at.FromDatetime(contacts.now - timedelta(hours=1))
    d.ends_at.FromDatetime(contacts.now + timedelta(days=7))
    handle = handlers.make_handler(lambda: contacts.now)

    def deliver(event_type: str, delegation: Delegation) -> None:
        assert handlers.wants(event_type)
        env = new_event(producer="sales", event_type=event_type, aggregate_type="delegation", aggregate_id=d.id,
                        aggregate_version=1, payload=sev.WorkDelegated(delegation=delegation))
        contacts.write(lambda uow: handle(uow, parse_envelope(env.data)))

    def as_delegate():
        return contacts.read(lambda s: ownership.lend(s, contacts.users["rep.north.2"], contacts.now))

    with pytest.raises(NotFound):
        contacts.read(lambda s: records.get_record(s, principal=as_delegate(), kind=pb.Contact, record_id=customer.id))
    deliver(SALES.DELEGATION_CREATED, d)
    delegate = as_delegate()
    assert delegate.delegators == ("rep.north.1",)
    assert contacts.read(lambda s: records.get_record(s, principal=delegate, kind=pb.Contact,
                                                      record_id=customer.id)).id == customer.id
    listed, _ = contacts.read(lambda s: records.list_records(s, principal=delegate, kind=pb.Contact,
                                                             filter=pb.ListFilter(), page_size=50, page_token=""))
    assert [c.id for c in listed] == [customer.id]
    ended = Delegation()
    ended.CopyFrom(d)
    ended.revoked = True
    deliver(SALES.DELEGATION_ENDED, ended)       # ended early
    assert as_delegate().delegators == ()


ANALYST = Principal("analyst.1", ("analyst",), "bi", "")


def test_an_analyst_reads_customers_with_phones_and_emails_masked(contacts) -> None:
    made = create(contacts, pb.Contact(name="张伟", phones=[pb.Phone(raw="138 0013 8000")],
                                       emails=[pb.Email(address="Zhang.Wei@Example.com")]))
    seen = contacts.read(lambda s: records.get_record(s, principal=ANALYST, kind=pb.Contact, record_id=made.id))
    assert [(p.number, p.raw) for p in seen.phones] == [("+861******8000", "+861******8000")]
    assert [e.address for e in seen.emails] == ["z***@example.com"]
    listed, _ = contacts.read(lambda s: records.list_records(s, principal=ANALYST, kind=pb.Contact,
                                                             filter=pb.ListFilter(), page_size=10, page_token=""))
    assert [e.address for c in listed for e in c.emails] == ["z***@example.com"]
    # the people who work with the customer see them in full, and the stored record is untouched
    for user in ("rep.north.1", "support.1", "manager.north"):
        assert get(contacts, pb.Contact, made.id, user).emails[0].address == "zhang.wei@example.com"


def test_search_results_carry_no_phone_or_email_fragment_for_an_analyst() -> None:
    response = pb.SearchCustomersResponse(hits=[pb.CustomerHit(id="c-1", name="张伟", highlights=[
        pb.SearchHighlight(field="name", fragments=["<em>张伟</em>"]),
        pb.SearchHighlight(field="phones", fragments=["+86<em>13800138000</em>"]),
        pb.SearchHighlight(field="emails", fragments=["<em>zhang</em>.wei@example.com"])])])
    kept = policy.masked_hits(ANALYST, pb.SearchCustomersResponse(hits=list(response.hits)))
    assert [h.field for h in kept.hits[0].highlights] == ["name"]
    rep = Principal("rep.north.1", ("rep",), "north-sales", "north")
    assert len(policy.masked_hits(rep, response).hits[0].highlights) == 3


def test_finance_and_analysts_see_that_a_conversation_happened_not_what_was_said(contacts) -> None:
    from crm_contacts.usecases import timeline
    made = create(contacts, pb.Contact(name="张伟"))
    contacts.write(lambda uow: timeline.log_interaction(uow, principal=contacts.users["rep.north.1"], now=contacts.now,
                                                        interaction=pb.Interaction(contact_id=made.id, kind="call",
                                                                                   subject="报价", content="给 8 折")))
    [entry], _ = contacts.read(lambda s: timeline.list_timeline(s, principal=ANALYST, contact_id=made.id,
                                                                page_size=10, page_token=""))
    assert entry.kind == "call" and entry.interaction.content == ""
    assert policy.reads_conversations(contacts.users["support.1"])       # support reads the service history
    assert not policy.reads_conversations(contacts.users["finance.hq"])


def test_support_reads_every_customer_but_edits_no_profile(contacts) -> None:
    made = create(contacts, pb.Contact(name="张伟"))
    assert get(contacts, pb.Contact, made.id, "support.1").id == made.id
    with pytest.raises(PermissionDenied):
        update(contacts, pb.Contact(id=made.id, title="经理"), ["title"], user="support.1")
