"""Customer search through the real gRPC API: the index is fed by the service's own events
(from its outbox relay once NATS acknowledged them), so every check polls with a bound until
the index caught up."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import StatusCode

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.rules.search_docs import SCHEMA
from crm_contacts.search.customer_search import CustomerSearch
from crm_contacts.search.index_directory import IndexDirectory
from crm_devtools.users import DEMO_USERS
from crmkit.search import SearchUnavailable, open_index
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration


def search(client, query: str, kind: str = "", limit: int = 50) -> pb.SearchCustomersResponse:  # noqa: ANN001
    return client.SearchCustomers(pb.SearchCustomersRequest(query=query, kind=kind, limit=limit))


def ids(client, query: str, kind: str = "") -> set[str]:  # noqa: ANN001
    return {hit.id for hit in search(client, query, kind).hits}


def eventually(check: Callable[[], bool], what: str) -> None:
    wait_for(check, timeout=20, interval=0.1, what=what)


def unique() -> str:
    """A Latin word nobody else in this module uses: isolates a test's searches."""
    return "zq" + uuid.uuid4().hex[:8]


def new_contact(client, name: str, **fields) -> pb.Contact:  # noqa: ANN001
    return client.CreateContact(pb.CreateContactRequest(contact=pb.Contact(name=name, **fields),
                                                        allow_duplicate=True))


def test_search_finds_two_chinese_characters_any_phone_format_and_a_typed_prefix(api, new_phone) -> None:
    rep = api("rep.north.1")
    typed = new_phone()  # "+86 139-0123-4567"
    digits = "".join(ch for ch in typed if ch.isdigit())[2:]  # 13901234567
    word = unique()
    person = new_contact(rep, f"张伟 {word}", company_name="华为技术有限公司", title="采购总监",
                         phones=[pb.Phone(raw=typed)], emails=[pb.Email(address=f"{word}@huawei.example")],
                         addresses=[pb.Address(country="CN", province="广东省", city="深圳市")])
    company = rep.CreateAccount(pb.CreateAccountRequest(account=pb.Account(
        name=f"Shuniu Robotics {word}", level="vip"), allow_duplicate=True))

    eventually(lambda: person.id in ids(rep, "华为"), "华为 to find 华为技术有限公司")
    hit = next(h for h in search(rep, "华为").hits if h.id == person.id)
    assert (hit.kind, hit.name, hit.company, hit.title, hit.city) == (
        "contact", f"张伟 {word}", "华为技术有限公司", "采购总监", "深圳市")
    assert any("<em>华为</em>" in f for h in hit.highlights if h.field == "company" for f in h.fragments)
    assert hit.score > 0
    for written in (digits, f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"0086-{digits}", f"+86 {digits}"):
        assert person.id in ids(rep, written), written
    assert person.id in ids(rep, digits[:7]), "a partly typed number finds it as you type"
    assert person.id in ids(rep, f"{word.upper()}@HUAWEI.EXAMPLE"), "an email in any case"
    assert person.id in ids(rep, "深圳"), "the city of an address"

    eventually(lambda: company.id in ids(rep, "Shun"), "a typed prefix to find the account")
    assert ids(rep, "Shun", kind="account") >= {company.id}
    assert company.id not in ids(rep, "Shun", kind="contact")
    assert person.id not in ids(rep, "华为", kind="account")


def test_a_search_asked_without_highlights_finds_the_same_hits_bare(api) -> None:
    rep = api("rep.north.1")
    word = unique()
    for n in range(3):
        new_contact(rep, f"Shuniu {word} {n}", company_name=f"{word} Trading")
    eventually(lambda: len(ids(rep, word)) == 3, "the three contacts to be searchable")
    lit = search(rep, word)
    bare = rep.SearchCustomers(pb.SearchCustomersRequest(query=word, limit=50, highlight=False))
    assert all(hit.highlights for hit in lit.hits), "absent means highlighted, as before"
    assert [(h.id, h.name, h.company) for h in bare.hits] == [(h.id, h.name, h.company) for h in lit.hits]
    assert bare.total == lit.total == 3
    assert [list(h.highlights) for h in bare.hits] == [[], [], []]


def test_a_rep_never_sees_another_reps_customer(api) -> None:
    word = unique()
    mine = new_contact(api("rep.north.1"), f"华为 {word} 一号")
    colleague = new_contact(api("rep.north.2"), f"华为 {word} 二号")
    south = new_contact(api("rep.south.1"), f"华为 {word} 三号")
    everyone = {mine.id, colleague.id, south.id}
    eventually(lambda: ids(api("admin"), word) == everyone, "all three indexed")

    assert ids(api("rep.north.1"), word) == {mine.id}
    assert ids(api("rep.north.2"), word) == {colleague.id}
    assert ids(api("rep.south.1"), word) == {south.id}
    assert ids(api("manager.north"), word) == {mine.id, colleague.id}
    assert ids(api("manager.south"), word) == {south.id}
    assert ids(api("support.1"), word) == everyone
    assert search(api("rep.north.1"), word).total == 1, "totals count only what the caller may see"


def test_updates_tags_deletes_and_merges_are_reflected(api, new_phone) -> None:
    rep = api("rep.north.1")
    word, renamed = unique(), unique()
    person = new_contact(rep, f"李娜 {word}")
    eventually(lambda: person.id in ids(rep, word), "the new contact")

    changed = rep.UpdateContact(pb.UpdateContactRequest(contact=pb.Contact(id=person.id, name=f"李娜 {renamed}"),
                                                        update_mask=FieldMask(paths=["name"])))
    eventually(lambda: person.id in ids(rep, renamed) and person.id not in ids(rep, word), "the new name only")
    rep.TagContact(pb.TagContactRequest(id=person.id, add=[f"展会{renamed}"]))
    eventually(lambda: person.id in ids(rep, f"展会{renamed}"), "a tag to be searchable")
    rep.DeleteContact(pb.DeleteContactRequest(id=person.id, expected_version=changed.version + 1))
    eventually(lambda: person.id not in ids(rep, renamed), "a deleted contact to disappear")

    phone = new_phone()
    survivor = new_contact(rep, f"王芳 {word}")
    duplicate = new_contact(rep, f"王芳 {word} 展会", phones=[pb.Phone(raw=phone)])
    eventually(lambda: ids(rep, word) == {survivor.id, duplicate.id}, "both duplicates")
    rep.MergeContacts(pb.MergeContactsRequest(survivor_id=survivor.id, merged_ids=[duplicate.id]))
    eventually(lambda: ids(rep, word) == {survivor.id}, "the merged duplicate to disappear")
    eventually(lambda: ids(rep, phone) == {survivor.id}, "the survivor to be found by the merged phone")


def test_a_contact_without_a_company_is_found_under_its_accounts_current_name(api) -> None:
    rep = api("rep.north.1")
    word, renamed = unique(), unique()
    account = rep.CreateAccount(pb.CreateAccountRequest(account=pb.Account(name=f"顺纽科技 {word}"),
                                                        allow_duplicate=True))
    person = new_contact(rep, "赵敏", account_id=account.id)
    eventually(lambda: ids(rep, word) == {account.id, person.id}, "the account and its contact")
    rep.UpdateAccount(pb.UpdateAccountRequest(account=pb.Account(id=account.id, name=f"顺纽科技 {renamed}"),
                                              update_mask=FieldMask(paths=["name"])))
    eventually(lambda: ids(rep, renamed) == {account.id, person.id} and not ids(rep, word),
               "the contact to follow the account's new name")


QUERIES = ("华为", "张伟", "Shun", "李娜", "王芳", "深圳", "zq", "顺纽")


def _results(client) -> dict[str, tuple[int, set[str]]]:  # noqa: ANN001
    return {q: (r.total, {h.id for h in r.hits}) for q in QUERIES for r in [search(client, q, limit=100)]}


def test_a_rebuild_from_scratch_gives_the_same_results(api, contacts, tmp_path) -> None:
    admin, rep = api("admin"), api("rep.north.1")
    marker = new_contact(rep, f"华为 {unique()}")
    eventually(lambda: marker.id in ids(admin, "华为"), "the index to have caught up")
    before_admin, before_rep = _results(admin), _results(rep)
    assert before_admin["华为"][0] > 0

    answer = admin.RebuildSearchIndex(pb.RebuildSearchIndexRequest())
    assert answer.contacts >= 1 and answer.seconds >= 0
    assert _results(admin) == before_admin
    assert _results(rep) == before_rep

    # From nothing at all: a second index over the same database, in an empty directory.
    fresh = CustomerSearch(contacts.db, open_index(SCHEMA, opensearch_url=None, data_dir=tmp_path))
    fresh.start()  # empty while the database is not: it rebuilds in the background
    fresh.wait_recovered(timeout=30)
    try:
        principal = DEMO_USERS["admin"]
        for query, (total, found) in before_admin.items():
            result = fresh.search(principal, query, "", 100, 0)
            assert (result.total, {h.id for h in result.hits}) == (total, found), query
    finally:
        fresh.stop()


def test_changes_made_while_a_rebuild_runs_are_not_lost(api, contacts, monkeypatch) -> None:
    admin, rep = api("admin"), api("rep.north.1")
    [search_of_runtime] = [w for w in contacts.workers if isinstance(w, CustomerSearch)]
    real_rebuild = search_of_runtime.index.rebuild
    word = unique()
    during: list[pb.Contact] = []

    def slow_rebuild(docs):  # noqa: ANN001, ANN202
        docs = list(docs)  # the database as the new index will hold it
        during.extend(new_contact(rep, f"陈晨 {word} {i}") for i in range(3))
        # the consumer writes them to the live (old) index, which the swap below replaces
        eventually(lambda: len(ids(rep, word)) == 3, "the old index to hold the new contacts")
        return real_rebuild(docs)

    monkeypatch.setattr(search_of_runtime.index, "rebuild", slow_rebuild)
    answer = admin.RebuildSearchIndex(pb.RebuildSearchIndexRequest())
    assert answer.replayed >= 3
    assert ids(rep, word) == {c.id for c in during}


CRASHING_OWNER = """
import os, sys
from pathlib import Path
from crm_contacts.rules.search_docs import SCHEMA
from crm_contacts.search.customer_search import CustomerSearch
from crm_contacts.search.index_directory import IndexDirectory
from crmkit.db import Database
from crmkit.search.embedded import EmbeddedSearchIndex

url, data_dir, lost_id = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
search = CustomerSearch(Database(url), EmbeddedSearchIndex(SCHEMA, data_dir),
                        IndexDirectory(data_dir, SCHEMA.name))
search.start()
search.wait_recovered(60)
search.index.delete([lost_id])  # the index now misses a customer, as after losing a write ...
search.index.refresh()
os._exit(9)  # ... and the process dies without closing
"""


def owned_search(contacts, data_dir) -> CustomerSearch:  # noqa: ANN001
    return CustomerSearch(contacts.db, open_index(SCHEMA, opensearch_url=None, data_dir=data_dir),
                          IndexDirectory(data_dir, SCHEMA.name))


def test_an_index_left_open_by_a_crash_is_rebuilt_at_start(api, contacts, tmp_path) -> None:
    rep = api("rep.north.1")
    word = unique()
    person = new_contact(rep, f"孙丽 {word}")
    new_contact(rep, f"孙丽 {unique()}")  # the index must not end up empty: that alone rebuilds it
    crashed = subprocess.run([sys.executable, "-c", CRASHING_OWNER, contacts.settings.database_url,
                              str(tmp_path), person.id], capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 9, crashed.stderr
    assert (tmp_path / "customers.open").exists()

    restarted = owned_search(contacts, tmp_path)
    restarted.start()
    restarted.wait_recovered(timeout=30)
    try:
        assert person.id in {h.id for h in restarted.search(DEMO_USERS["rep.north.1"], word, "", 10, 0).hits}
    finally:
        restarted.stop()
    assert not (tmp_path / "customers.open").exists(), "a clean close removes the marker"


def test_an_index_built_from_another_database_is_rebuilt_and_a_shared_one_left_alone(
        api, contacts, tmp_path) -> None:
    rep = api("rep.north.1")
    person = new_contact(rep, f"郑爽 {unique()}")
    other = CustomerSearch(contacts.db, open_index(SCHEMA, opensearch_url=None, data_dir=tmp_path),
                           IndexDirectory(tmp_path, SCHEMA.name))
    other.index.upsert([{"id": "ghost", "kind": "contact", "name": person.name, "owner_id": "rep.north.1"}])
    other.stop()  # a clean close of an index that holds another database's customer
    (tmp_path / "customers.source").write_text("another-database")

    first = owned_search(contacts, tmp_path)
    first.start()  # not empty, closed cleanly, but from another database: rebuilt
    first.wait_recovered(timeout=30)
    try:
        assert {h.id for h in first.search(DEMO_USERS["admin"], person.name, "", 10, 0).hits} == {person.id}
        second = owned_search(contacts, tmp_path)
        second.start()  # the same directory while `first` owns it
        with pytest.raises(SearchUnavailable):
            second.search(DEMO_USERS["admin"], person.name, "", 10, 0)
        with pytest.raises(SearchUnavailable):
            second.rebuild()
        second.stop()
        assert person.id in {h.id for h in first.search(DEMO_USERS["admin"], person.name, "", 10, 0).hits}
    finally:
        first.stop()


def test_only_an_admin_may_rebuild_and_bad_searches_name_their_field(api, fails) -> None:
    for user in ("rep.north.1", "manager.north", "support.1"):
        failure = fails(StatusCode.PERMISSION_DENIED, api(user).RebuildSearchIndex, pb.RebuildSearchIndexRequest())
        assert "admin" in failure.message
    rep = api("rep.north.1")
    assert fails(StatusCode.INVALID_ARGUMENT, search, rep, " ").field == "query"
    assert fails(StatusCode.INVALID_ARGUMENT, search, rep, "x" * 257).field == "query"
    assert fails(StatusCode.INVALID_ARGUMENT, search, rep, "华为", "lead").field == "kind"
    assert fails(StatusCode.INVALID_ARGUMENT, search, rep, "华为", "", 1000).field == "limit"


def test_the_reindex_command_rebuilds_through_the_running_service(contacts, jwt_secret) -> None:
    env = {**os.environ, "JWT_SECRET": jwt_secret, "CONTACTS_SERVICE_ADDR": contacts.address}
    env.pop("CRM_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "crm_contacts.search.reindex"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "customer search index rebuilt:" in done.stdout and "contacts" in done.stdout

    refused = subprocess.run([sys.executable, "-m", "crm_contacts.search.reindex", "--addr", contacts.address],
                             env={**env, "JWT_SECRET": "not-the-secret-of-this-service-0123456789"},
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr


def test_index_writes_that_fail_are_retried_with_the_next_batch_and_owed_ones_force_a_rebuild(
        api, contacts, tmp_path, monkeypatch) -> None:
    from crmkit.events import new_event

    rep = api("rep.north.1")
    first, second = new_contact(rep, f"周杰 {unique()}"), new_contact(rep, f"周杰 {unique()}")
    search = owned_search(contacts, tmp_path)
    search.start()
    search.wait_recovered(timeout=30)

    def published(contact: pb.Contact) -> list[tuple[str, bytes]]:
        env = new_event(producer="contacts", event_type="crm.contacts.contact.updated", aggregate_type="contact",
                        aggregate_id=contact.id, aggregate_version=contact.version, payload=contact)
        return [(env.subject, env.data)]

    real_upsert = search.index.upsert
    monkeypatch.setattr(search.index, "upsert", lambda docs: (_ for _ in ()).throw(SearchUnavailable("away")))
    search.apply_published(published(first))          # fails: kept for the next batch, no exception
    monkeypatch.setattr(search.index, "upsert", real_upsert)
    indexed: list[str] = []
    monkeypatch.setattr(search.index, "upsert", lambda docs: (indexed.extend(d["id"] for d in docs),
                                                               real_upsert(docs))[1])
    search.apply_published(published(second))          # the next batch brings the failed one along
    assert {first.id, second.id} <= set(indexed)

    monkeypatch.setattr(search.index, "upsert", lambda docs: (_ for _ in ()).throw(SearchUnavailable("away")))
    search.apply_published(published(first))          # owed when the process stops ...
    search.stop()
    assert (tmp_path / "customers.open").exists(), "... so the next start rebuilds"
