"""Import jobs on the real schema: bad rows rejected with every reason while the rest commit,
duplicates flagged or merged, the same file twice changes nothing, and a run cut between two
batches resumes where its checkpoint says."""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from crm.common.v1.imports_pb2 import ColumnMapping, CreateImportRequest, ImportJob, ListImportsRequest
from crm.contacts.v1.contacts_pb2 import Contact
from crm_contacts import store
from crm_contacts.jobs.imports import ImportRunner
from crm_contacts.tables import contacts as contacts_table
from crm_contacts.usecases import imports
from crmkit.db import Database
from crmkit.imports import jobs as import_jobs

Contacts = Any  # the conftest fixture's type (tests/unit/conftest.py)


REP = "rep.north.1"
ROWS = [
    ["姓名", "手机", "邮箱", "来源"],
    ["王芳", "13800138000", "wf@example.cn", "website"],
    ["", "13800138001", "bad-email", "webinar"],     # three problems
    ["李雷", "140 1234 5678", "", "referral"],        # an invalid prefix: kept unverified
    ["王芳二", "138 0013 8000", "", ""],              # the same mobile as row 1
    ["韩梅梅", "", "hm@example.cn", "cold_call"],     # an unknown source
]
MAPPING = ColumnMapping(columns={"姓名": "name", "手机": "mobile", "邮箱": "email", "来源": "source"})


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def upload(c: Contacts, content: bytes, *, dry_run: bool = False, on_duplicate: str = "flag",
           mapping: ColumnMapping = MAPPING, source_name: str = "crm-old", user: str = REP) -> ImportJob:
    principal = c.users[user]
    request = CreateImportRequest(entity="contact", file_name="customers.csv", source_name=source_name,
                                  mapping=mapping, dry_run=dry_run, on_duplicate=on_duplicate,
                                  content_sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content))
    job = c.write(lambda uow: imports.create_import(uow, principal=principal, now=c.now, request=request))
    if job.reused:
        return job
    for offset in range(0, len(content), 64):  # small chunks: the order and resends matter
        c.write(lambda uow, o=offset: imports.append_chunk(uow, principal=principal, job_id=job.id, offset=o,
                                                           data=content[o:o + 64]))
    c.write(lambda uow: imports.append_chunk(uow, principal=principal, job_id=job.id, offset=0, data=content[:64]))
    return c.write(lambda uow: imports.start_import(uow, principal=principal, now=c.now, job_id=job.id))


def status(c: Contacts, job_id: str, user: str = REP) -> ImportJob:
    return c.read(lambda s: imports.get_import(s, principal=c.users[user], now=datetime.now(UTC), job_id=job_id))


def live_contacts(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(contacts_table)
                             .where(contacts_table.c.deleted.is_(False))).scalar_one())


def test_a_job_keeps_going_past_bad_rows_and_reports_every_reason(contacts: Contacts, db: Database) -> None:
    job = upload(contacts, csv_bytes(ROWS))
    ImportRunner(db, lambda: contacts.now, batch_rows=2).tick(contacts.now)
    done = status(contacts, job.id)
    assert (done.status, done.rows_total, done.rows_done) == ("done", 5, 5)
    assert (done.accepted, done.rejected, done.warnings) == (2, 3, 1)
    assert live_contacts(db) == 2
    report = contacts.read(lambda s: imports.report_csv(s, principal=contacts.users[REP], job_id=job.id))
    lines = list(csv.reader(io.StringIO(report.decode("utf-8-sig"))))
    assert lines[0] == ["row", "reasons", *ROWS[0], "outcome"]
    by_row = {int(r[0]): r for r in lines[1:]}
    assert sorted(by_row) == [2, 3, 4, 5]
    assert {n: r[-1] for n, r in by_row.items()} == {2: "rejected", 3: "kept", 4: "rejected", 5: "rejected"}
    assert all(part in by_row[2][1] for part in ("name is required", "bad-email", "webinar"))
    # the kept row's remark is shown, not only counted: its phone stored as typed, unverified
    assert "unverified" in by_row[3][1] and by_row[3][1].startswith("手机") and by_row[3][2:-1] == ROWS[3]
    # row 1 was committed with the first batch: its duplicate is found in the database (a run keeps
    # only its open batch's identities in memory, so memory stays flat over a million rows)
    with db.read() as s:
        first = s.execute(select(contacts_table.c.id).where(contacts_table.c.name == "王芳")).scalar_one()
    assert f"duplicate of contact {first}" in by_row[4][1] and by_row[4][2:-1] == ROWS[4]
    assert "cold_call" in by_row[5][1]


def test_a_duplicate_within_one_batch_names_the_row(contacts: Contacts, db: Database) -> None:
    job = upload(contacts, csv_bytes(ROWS))
    ImportRunner(db, lambda: contacts.now, batch_rows=10).tick(contacts.now)
    problems = {p.row: p.message for p in status(contacts, job.id).problems}
    assert "duplicate of row 1 of this file" in problems[4]


def test_a_row_in_another_region_is_refused_showing_the_region_typed(contacts: Contacts, db: Database) -> None:
    rows = [["姓名", "地区"], ["孙悟空", "south"]]
    job = upload(contacts, csv_bytes(rows), mapping=ColumnMapping(columns={"姓名": "name", "地区": "region"}))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    done = status(contacts, job.id)
    assert (done.accepted, done.rejected) == (0, 1)
    assert [(p.field, p.value) for p in done.problems] == [("region", "south")]


def test_a_problem_found_on_the_record_names_the_column_to_fix(contacts: Contacts, db: Database) -> None:
    """A duplicate or a rule's refusal is found after the row became a record (field `phones`,
    `owner_id`); the problem still names the file's column, the one holding the value."""
    rows = [["姓名", "座机", "手机", "负责人"], ["王芳", "010 6476 8888", "13800138000", ""],
            ["王芳二", "", "138 0013 8000", ""], ["李雷", "", "13900139000", "rep.north.2"]]
    mapping = ColumnMapping(columns={"姓名": "name", "座机": "work_phone", "手机": "mobile", "负责人": "owner_id"})
    job = upload(contacts, csv_bytes(rows), mapping=mapping)
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    problems = {p.row: (p.field, p.column) for p in status(contacts, job.id).problems}
    assert problems == {2: ("phones", "手机"), 3: ("owner_id", "负责人")}


def test_nothing_typed_is_lost_an_unverified_phone_is_stored_as_typed(contacts: Contacts, db: Database) -> None:
    upload(contacts, csv_bytes(ROWS))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    with db.read() as s:
        ids = list(s.execute(select(contacts_table.c.id).where(contacts_table.c.name == "李雷")).scalars())
        record = store.load(s, Contact, ids[0])
    assert record is not None
    assert [(p.raw, p.unverified) for p in record.phones] == [("140 1234 5678", True)]
    assert record.source == "referral"


def test_events_are_emitted_for_imported_records_as_for_creates(contacts: Contacts, db: Database) -> None:
    from crmkit.runtime_tables import outbox_row

    upload(contacts, csv_bytes(ROWS))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    with db.read() as s:
        subjects = list(s.execute(select(outbox_row.c.subject)).scalars())
    assert subjects.count("crm.contacts.contact.created") == 2


def test_the_same_file_twice_is_the_same_job_and_changes_nothing(contacts: Contacts, db: Database) -> None:
    first = upload(contacts, csv_bytes(ROWS))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    again = upload(contacts, csv_bytes(ROWS))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    assert again.reused and again.id == first.id
    assert live_contacts(db) == 2


def test_the_same_rows_in_another_file_are_flagged_as_duplicates_of_the_database(contacts: Contacts,
                                                                               db: Database) -> None:
    upload(contacts, csv_bytes(ROWS))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    second = upload(contacts, csv_bytes([*ROWS, ["新人", "13900139000", "", ""]]))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    done = status(contacts, second.id)
    assert (done.accepted, done.rejected) == (1, 5)
    assert any("duplicate of contact" in p.message for p in done.problems)


def test_merge_fills_the_existing_record_instead_of_a_new_one(contacts: Contacts, db: Database) -> None:
    rows = [["姓名", "手机", "邮箱"], ["王芳", "13800138000", ""], ["王芳", "13800138000", "wf@example.cn"]]
    job = upload(contacts, csv_bytes(rows), on_duplicate="merge")
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    done = status(contacts, job.id)
    assert (done.accepted, done.merged, done.rejected) == (1, 1, 0)
    with db.read() as s:
        [record_id] = s.execute(select(contacts_table.c.id)).scalars()
        record = store.load(s, Contact, record_id)
    assert record is not None and [e.address for e in record.emails] == ["wf@example.cn"]


def test_a_merged_row_whose_values_the_survivor_keeps_is_in_the_report(contacts: Contacts, db: Database) -> None:
    rows = [["姓名", "手机", "来源", "职位"], ["王芳", "13800138000", "website", "经理"]]
    upload(contacts, csv_bytes(rows), mapping=ColumnMapping(columns={"姓名": "name", "手机": "mobile", "来源": "source",
                                                                     "职位": "title"}))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    again = [["姓名", "手机", "来源", "职位", "邮箱"], ["王芳芳", "13800138000", "referral", "", "wf@example.cn"]]
    for dry_run in (True, False):
        job = upload(contacts, csv_bytes(again), on_duplicate="merge", dry_run=dry_run, source_name=f"m{dry_run}",
                     mapping=ColumnMapping(columns={"姓名": "name", "手机": "mobile", "来源": "source",
                                                    "职位": "title", "邮箱": "email"}))
        ImportRunner(db, lambda: contacts.now).tick(contacts.now)
        done = status(contacts, job.id)
        assert (done.merged, done.rejected, done.warnings, list(done.problems)) == (1, 0, 1, []), dry_run  # merged, kept with remarks
        report = contacts.read(lambda s, j=job.id: imports.report_csv(s, principal=contacts.users[REP], job_id=j))
        [header, row] = list(csv.reader(io.StringIO(report.decode("utf-8-sig"))))
        assert (row[0], row[-1], row[2:-1]) == ("1", "kept", again[1])
        assert "姓名: merged into contact" in row[1] and "keeps '王芳'" in row[1] and "('王芳芳')" in row[1]
        assert "来源: merged into contact" in row[1] and "keeps 'website'" in row[1] and "('referral')" in row[1]
        assert "职位" not in row[1] and "邮箱" not in row[1]  # empty in the file / applied: nothing to say
    with db.read() as s:
        [record_id] = s.execute(select(contacts_table.c.id)).scalars()
        record = store.load(s, Contact, record_id)
    assert record is not None and (record.name, record.source) == ("王芳", "website")
    assert [e.address for e in record.emails] == ["wf@example.cn"]


def test_a_duplicate_another_region_owns_is_neither_named_nor_merged_into(contacts: Contacts,
                                                                         db: Database) -> None:
    """Another region's rep uploading the same mobile learns no id of a contact they cannot see,
    and merge does not write into it: the row is refused, suggesting create."""
    rows = [["姓名", "手机", "邮箱"], ["王芳", "13800138000", ""]]
    upload(contacts, csv_bytes(rows))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    with db.read() as s:
        [north_id] = s.execute(select(contacts_table.c.id)).scalars()
    south = [["姓名", "手机", "邮箱"], ["王芳 (南)", "13800138000", "south@example.cn"]]
    for choice in ("flag", "merge"):
        job = upload(contacts, csv_bytes(south), on_duplicate=choice, user="rep.south.1", source_name=choice)
        ImportRunner(db, lambda: contacts.now).tick(contacts.now)
        done = status(contacts, job.id, user="rep.south.1")
        assert (done.accepted, done.merged, done.rejected) == (0, 0, 1), choice
        [problem] = done.problems
        assert "a contact you cannot see" in problem.message and north_id not in problem.message, problem.message
    with db.read() as s:
        north = store.load(s, Contact, north_id)
    assert north is not None and list(north.emails) == [] and north.name == "王芳"


def test_a_dry_run_reports_the_same_and_writes_no_record(contacts: Contacts, db: Database) -> None:
    job = upload(contacts, csv_bytes(ROWS), dry_run=True)
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    done = status(contacts, job.id)
    assert (done.status, done.accepted, done.rejected) == ("done", 2, 3)
    assert {p.row for p in done.problems} == {2, 4, 5}
    assert live_contacts(db) == 0


def test_a_run_cut_after_a_batch_resumes_after_its_checkpoint(contacts: Contacts, db: Database) -> None:
    rows = [["name", "mobile"], *[[f"客户{i}", f"1380013{i:04d}"] for i in range(25)]]
    job = upload(contacts, csv_bytes(rows))
    cut = ImportRunner(db, lambda: contacts.now, batch_rows=10)
    original = import_jobs.run_batch
    calls = []

    def crash_after_two(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("the process died")  # before the third batch commits
        return original(*args, **kwargs)  # type: ignore[arg-type]

    import_jobs.run_batch = crash_after_two  # type: ignore[assignment]
    try:
        with contextlib.suppress(SystemExit):
            cut.run(job.id)
    finally:
        import_jobs.run_batch = original
    assert status(contacts, job.id).rows_done == 20 and live_contacts(db) == 20
    ImportRunner(db, lambda: contacts.now, batch_rows=10).tick(contacts.now)  # the restarted process
    done = status(contacts, job.id)
    assert (done.status, done.rows_done, done.accepted, done.rejected) == ("done", 25, 25, 0)
    assert live_contacts(db) == 25


def test_the_mapping_is_remembered_per_source(contacts: Contacts, db: Database) -> None:
    upload(contacts, csv_bytes(ROWS), dry_run=True, source_name="trade-fair-2026")
    job = upload(contacts, csv_bytes(ROWS), mapping=ColumnMapping(), source_name="trade-fair-2026")
    assert dict(job.mapping.columns) == dict(MAPPING.columns)


def test_duplicates_are_found_in_the_batch_in_earlier_batches_and_in_the_database(contacts: Contacts,
                                                                                db: Database) -> None:
    upload(contacts, csv_bytes([["姓名", "手机", "邮箱"], ["老客户", "13700137000", "old@example.cn"]]))
    ImportRunner(db, lambda: contacts.now).tick(contacts.now)
    rows = [["姓名", "手机", "邮箱"],
            ["新客户", "13600136000", "new@example.cn"],
            ["", "13600136001", ""],                          # no name: rejected, its batch still commits
            ["老客户二", "13600136002", "OLD@example.cn"],     # the email of the contact already there
            ["新客户二", "136 0013 6000", "n2@example.cn"],    # row 1's phone, committed with the batch before
            ["另一位", "13600136005", ""],
            ["另一位二", "+86 136 0013 6005", ""]]            # row 5's phone, in the same batch
    job = upload(contacts, csv_bytes(rows), source_name="")
    ImportRunner(db, lambda: contacts.now, batch_rows=3).tick(contacts.now)  # batches: rows 1-3, rows 4-6
    done = status(contacts, job.id)
    assert (done.status, done.accepted, done.rejected) == ("done", 2, 4)
    with db.read() as s:
        ids = dict(s.execute(select(contacts_table.c.name, contacts_table.c.id)).tuples().all())
    assert set(ids) == {"老客户", "新客户", "另一位"}
    problems = {p.row: p.message for p in done.problems}
    assert f"duplicate of contact {ids['老客户']} (old@example.cn)" in problems[3]
    assert f"duplicate of contact {ids['新客户']} (+8613600136000)" in problems[4]
    assert "duplicate of row 5 of this file" in problems[6]
    assert "name is required" in problems[2]


def test_a_user_who_closed_the_tab_finds_their_job_in_the_list(contacts: Contacts, db: Database) -> None:
    job = upload(contacts, csv_bytes(ROWS))

    def listed(user: str, **fields: Any) -> list[str]:
        return contacts.read(lambda s: [j.id for j in imports.list_imports(
            s, principal=contacts.users[user], now=contacts.now, request=ListImportsRequest(**fields)).jobs])

    assert listed(REP) == [job.id]
    assert listed(REP, entity="contact", status="queued") == [job.id]
    assert listed(REP, entity="account") == []
    others = [u for u, p in contacts.users.items() if u != REP and not p.is_admin]
    assert listed(others[0]) == []  # a colleague does not see it
