"""The yearly spend band from sales' opportunity events, through the consumer's handler on the real
schema: won deals add up per contact and per account in their calendar year, a redelivered or
late event counts once, a deal lost or reopened after the win leaves the sums, merges carry the
spend to the survivor."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm.common.v1.envelope_pb2 import Actor, EventEnvelope
from crm.common.v1.types_pb2 import Money
from crm.contacts.v1 import contacts_pb2 as pb
from crm.sales.v1 import events_pb2 as sales_ev
from crm.sales.v1.sales_pb2 import Opportunity
from crm_contacts import handlers, store
from crm_contacts.events import SALES
from crm_contacts.store import spend as spend_store
from crm_contacts.usecases import duplicates, records, segments, timeline
from crmkit.events import new_event, parse_envelope
from crmkit.records import stamp_new

MANAGER = Actor(user_id="manager.north", roles=["manager"], team="north-sales", region="north")
SUBJECTS = {"won": SALES.OPPORTUNITY_WON, "lost": SALES.OPPORTUNITY_LOST,
            "open": SALES.OPPORTUNITY_STAGE_CHANGED}


def person(contacts, name: str, account_id: str = "") -> pb.Contact:
    if account_id and contacts.read(lambda s: store.load(s, pb.Account, account_id)) is None:
        # a contact joins only an account that exists (and its author sees): the rep's, by this id
        account = pb.Account(id=account_id, name=account_id, owner_id="rep.north.1", team="north-sales",
                             region="north")
        stamp_new(account, contacts.now)
        contacts.write(lambda uow: store.insert_record(uow.session, account))
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now, allow_duplicate=True,
        record=pb.Contact(name=name, account_id=account_id)))


def deal(contacts, opp_id: str, version: int, status: str, amount: str, *, contact_id: str = "",
         account_id: str = "", currency: str = "CNY", closed: datetime | None = None) -> EventEnvelope:
    opportunity = Opportunity(id=opp_id, name="年度框架", status=status, contact_id=contact_id, account_id=account_id,
                              amount=Money(currency_code=currency, amount=amount))
    if status != "open":
        opportunity.closed_at.FromDatetime(closed or contacts.now)
    payload = (sales_ev.OpportunityStageChanged(opportunity=opportunity) if status == "open"
               else sales_ev.OpportunityClosed(opportunity=opportunity))
    env = parse_envelope(new_event(producer="sales", event_type=SUBJECTS[status], aggregate_type="opportunity",
                                   aggregate_id=opp_id, aggregate_version=version, payload=payload,
                                   actor=MANAGER).data)
    contacts.write(lambda uow: handlers.make_handler(lambda: contacts.now)(uow, env))
    return env


def band(contacts, text: str, scope: str = "") -> list[str]:
    answer = contacts.read(lambda s: segments.preview(
        s, principal=contacts.users["admin"], now=contacts.now,
        filter=pb.SegmentFilter(spend_band=text, spend_of=scope), page_size=100))
    return sorted(c.name for c in answer.contacts)


def spend(contacts, contact_id: str, entity: str = "contact") -> dict[tuple[int, str], int]:
    return contacts.read(lambda s: spend_store.spend_of(s, entity, contact_id))


def test_won_deals_add_up_per_contact_and_the_band_is_this_years_sum(contacts) -> None:
    big, small = person(contacts, "大客户"), person(contacts, "小客户")
    person(contacts, "没成交")
    deal(contacts, "o1", 3, "won", "60000.00", contact_id=big.id)
    deal(contacts, "o2", 2, "won", "45000.50", contact_id=big.id)
    deal(contacts, "o3", 5, "won", "8000", contact_id=small.id)
    deal(contacts, "o4", 2, "won", "500000", contact_id=small.id, closed=datetime(2025, 6, 1, tzinfo=UTC))  # last year
    deal(contacts, "o5", 2, "won", "90000", contact_id=small.id, currency="USD")  # not yuan: not in the band
    assert spend(contacts, big.id) == {(2026, "CNY"): 10500050}
    assert spend(contacts, small.id) == {(2026, "CNY"): 800000, (2025, "CNY"): 50000000, (2026, "USD"): 9000000}
    assert band(contacts, "0-10000") == ["小客户", "没成交"]  # no won deal spends 0
    assert band(contacts, "10000-100000") == []
    assert band(contacts, "100000-") == ["大客户"]
    assert band(contacts, "8000-8001") == ["小客户"]  # from inclusive, to exclusive


def test_a_deal_counts_once_and_its_newest_version_wins(contacts) -> None:
    buyer = person(contacts, "买家")
    won = deal(contacts, "o1", 4, "won", "20000", contact_id=buyer.id)
    again = EventEnvelope()
    again.CopyFrom(won)
    contacts.write(lambda uow: handlers.make_handler(lambda: contacts.now)(uow, again))  # redelivered
    assert spend(contacts, buyer.id) == {(2026, "CNY"): 2000000}
    assert len(contacts.read(lambda s: timeline.list_timeline(
        s, principal=contacts.users["rep.north.1"], contact_id=buyer.id, page_size=10, page_token=""))[0]) == 1

    deal(contacts, "o1", 6, "open", "20000", contact_id=buyer.id)  # reopened after the win
    assert spend(contacts, buyer.id) == {}
    deal(contacts, "o1", 5, "won", "20000", contact_id=buyer.id)  # a late copy of an older version
    assert spend(contacts, buyer.id) == {}
    deal(contacts, "o1", 8, "won", "25000", contact_id=buyer.id)  # won again, for more
    assert spend(contacts, buyer.id) == {(2026, "CNY"): 2500000}
    deal(contacts, "o1", 9, "lost", "25000", contact_id=buyer.id)
    assert spend(contacts, buyer.id) == {} and band(contacts, "0-1") == ["买家"]


def test_the_year_is_beijings_and_the_band_moves_with_the_clock(contacts) -> None:
    buyer = person(contacts, "跨年客户")
    deal(contacts, "o1", 2, "won", "150000", contact_id=buyer.id,
         closed=datetime(2025, 12, 31, 17, 0, tzinfo=UTC))  # 2026-01-01 01:00 in Beijing
    assert spend(contacts, buyer.id) == {(2026, "CNY"): 15000000}
    assert band(contacts, "100000-") == ["跨年客户"]
    contacts.now = contacts.now + timedelta(days=365)  # next year: nothing won yet
    assert band(contacts, "100000-") == [] and band(contacts, "0-10000") == ["跨年客户"]


def test_the_account_band_sums_every_deal_of_the_account(contacts) -> None:
    buyer, colleague = person(contacts, "采购", "acct-1"), person(contacts, "同事", "acct-1")
    person(contacts, "别家", "acct-2")
    person(contacts, "个人")
    deal(contacts, "o1", 2, "won", "70000", account_id="acct-1", contact_id=buyer.id)
    deal(contacts, "o2", 2, "won", "40000", account_id="acct-1")  # the account's, no contact named
    assert spend(contacts, "acct-1", "account") == {(2026, "CNY"): 11000000}
    assert band(contacts, "100000-", "account") == ["同事", "采购"]
    assert band(contacts, "100000-") == []  # the buyer's own deals: 70000
    assert band(contacts, "0-100000", "account") == ["个人", "别家"]
    assert colleague.account_id == "acct-1"


def test_a_merged_contacts_spend_goes_to_the_survivor(contacts) -> None:
    survivor, duplicate = person(contacts, "张伟"), person(contacts, "张伟 重复")
    deal(contacts, "o1", 2, "won", "30000", contact_id=survivor.id)
    deal(contacts, "o2", 2, "won", "40000", contact_id=duplicate.id)
    contacts.write(lambda uow: duplicates.merge_contacts(uow, principal=contacts.users["rep.north.1"],
                                                         now=contacts.now, survivor_id=survivor.id,
                                                         merged_ids=[duplicate.id]))
    assert spend(contacts, survivor.id) == {(2026, "CNY"): 7000000} and spend(contacts, duplicate.id) == {}
    deal(contacts, "o3", 2, "won", "50000", contact_id=duplicate.id)  # sales still names the old id
    assert spend(contacts, survivor.id) == {(2026, "CNY"): 12000000}
    assert band(contacts, "100000-") == ["张伟"]


def test_an_event_without_an_opportunity_id_changes_nothing(contacts) -> None:
    buyer = person(contacts, "买家")
    deal(contacts, "", 2, "won", "1000", contact_id=buyer.id)
    assert spend(contacts, buyer.id) == {}
