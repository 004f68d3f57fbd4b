"""Export jobs and erasure sagas on the real schema (a migrated SQLite file), with the services
replaced by a fake at the DataSubjects port: a service that is down is asked again and the saga
completes once it answers; a worker that died mid-job leaves the job to the next one; erasing twice
is harmless; the person's identifiers are gone from the privacy database once the receipt exists."""
from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.privacy.v1 import privacy_pb2 as pb
from crm_privacy import bootstrap, jobs, rules, store
from crm_privacy.ports import ServiceDown
from crm_privacy.usecases import jobs as usecases
from crmkit.auth import SYSTEM, Principal
from crmkit.db import Database
from crmkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from crmkit.privacy import suppression_hash
from crmkit.runtime_tables import audit_row
from crmkit.testing import migrated_database

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
DPO = Principal("dpo.hq", ("dpo",))
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
PERSON = pb.Subject(contact_ids=["c-1"], emails=["li.lei@example.com"], phones=["+8613800138000"], names=["李雷"])


class FakeSubjects:
    """Every service answers from memory; `down` names those that fail; `calls` counts per service."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.erased_with: dict[str, list[str]] = {}

    def _check(self, service: str) -> None:
        self.calls[service] += 1
        if service in self.down:
            raise ServiceDown("UNAVAILABLE")

    def resolve(self, subject: pb.Subject) -> pb.Subject:
        self._check("resolve")
        return PERSON

    def export(self, service: str, subject: pb.Subject, export_id: str) -> pb.SubjectPart:
        self._check(service)
        part = pb.SubjectPart(service=service, records=1,
                              document=json.dumps({"things": [{"of": subject.names[0]}]}).encode())
        if service == "sales":
            part.attachments.append(pb.Attachment(name="quotes/Q-1.pdf", content_type="application/pdf",
                                                  content=b"%PDF-1.4"))
        return part

    def erase(self, service: str, subject: pb.Subject, erasure_id: str, hashes: list[str]) -> pb.EraseSubjectResponse:
        self._check(service)
        self.erased_with[service] = hashes
        answer = pb.EraseSubjectResponse(service=service, counts=[pb.ErasedCount(holding="rows", rows=1)])
        answer.confirmed_at.FromDatetime(NOW)
        return answer


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return migrated_database(bootstrap.MIGRATIONS, tmp_path)


def create(db: Database, kind: str, principal: Principal = DPO, **fields: object) -> str:
    with db.unit_of_work() as uow:
        if kind == rules.EXPORT:
            job: pb.ExportJob | pb.Erasure = usecases.create_export(
                uow, principal=principal, now=NOW, request=pb.CreateExportRequest(**fields))  # type: ignore[arg-type]
        else:
            job = usecases.create_erasure(uow, principal=principal, now=NOW,
                                          request=pb.CreateErasureRequest(**fields))  # type: ignore[arg-type]
        uow.commit()
    return job.id


def tick(db: Database, subjects: FakeSubjects, at: datetime) -> int:
    return jobs.run_due(db, subjects, KEY, at)


def test_an_erasure_waits_for_a_service_that_is_down_and_completes_when_it_answers(db: Database) -> None:
    subjects = FakeSubjects()
    subjects.down.add("support")
    erasure_id = create(db, rules.ERASURE, contact_ids=["c-1"], reason="Art. 17")
    assert tick(db, subjects, NOW) == 1
    with db.read() as s:
        erasure = usecases.get_erasure(s, principal=DPO, job_id=erasure_id)
        with pytest.raises(FailedPrecondition):
            usecases.get_receipt(s, principal=DPO, job_id=erasure_id)
    steps = {step.service: step for step in erasure.steps}
    assert erasure.status == "running" and steps["support"].status == "retrying"
    assert steps["support"].last_error == "UNAVAILABLE" and steps["sales"].status == "done"
    # the person's email is refused from the moment contacts resolved them, before the saga ends
    with db.read() as s:
        listed = {x.hash for x in usecases.list_suppressions(s, principal=SYSTEM, after_seq=0).suppressions}
    assert suppression_hash(KEY, "email", "LI.LEI@example.com") in listed and len(listed) == 2
    assert subjects.erased_with["sales"] == sorted(listed)

    assert tick(db, subjects, NOW + timedelta(seconds=0.5)) == 0  # backoff: not due yet
    subjects.down.clear()
    assert tick(db, subjects, NOW + timedelta(seconds=2)) == 1
    assert subjects.calls["sales"] == 1  # services that confirmed are not asked again
    with db.read() as s:
        receipt = usecases.get_receipt(s, principal=DPO, job_id=erasure_id)
        job = store.load_job(s, erasure_id)
    assert [c.service for c in receipt.confirmations] == list(rules.SERVICES)
    assert receipt.suppressed_identifiers == 2 and receipt.reason == "Art. 17"
    assert job is not None and not job.subject.emails and not job.subject.phones and not job.subject.names
    with db.read() as s:
        actions = [(r.action, r.actor) for r in s.execute(select(audit_row).where(audit_row.c.record_id == erasure_id))]
    assert actions == [("erasure_requested", "dpo.hq"), ("erasure_completed", "system")]
    raw = Path(db.url.removeprefix("sqlite:///")).read_bytes()
    assert b"li.lei@example.com" not in raw and "李雷".encode() not in raw


def test_a_job_claimed_by_a_worker_that_died_resumes_after_its_lease(db: Database) -> None:
    subjects = FakeSubjects()
    erasure_id = create(db, rules.ERASURE, emails=["li.lei@example.com"])
    with db.unit_of_work() as uow:  # a worker claimed it, then its process died
        assert store.claim(uow.session, erasure_id, NOW, rules.LEASE)
        uow.commit()
    assert tick(db, subjects, NOW + timedelta(seconds=5)) == 0
    assert tick(db, subjects, NOW + rules.LEASE + timedelta(seconds=1)) == 1
    with db.read() as s:
        assert usecases.get_erasure(s, principal=DPO, job_id=erasure_id).status == "completed"


def test_erasing_twice_completes_twice(db: Database) -> None:
    subjects = FakeSubjects()
    first, second = (create(db, rules.ERASURE, contact_ids=["c-1"]) for _ in range(2))
    tick(db, subjects, NOW)
    with db.read() as s:
        assert [usecases.get_erasure(s, principal=DPO, job_id=i).status for i in (first, second)] == ["completed"] * 2
        assert len(usecases.list_suppressions(s, principal=SYSTEM, after_seq=0).suppressions) == 2


def test_an_export_is_one_document_and_a_zip_and_goes_with_a_later_erasure(db: Database) -> None:
    subjects = FakeSubjects()
    export_id = create(db, rules.EXPORT, phones=["+86 138 0013 8000"])
    tick(db, subjects, NOW)
    with db.read() as s:
        job = usecases.get_export(s, principal=DPO, job_id=export_id)
        document = json.loads(usecases.download(s, principal=DPO, job_id=export_id, fmt="json").content)
        archive = zipfile.ZipFile(io.BytesIO(usecases.download(s, principal=DPO, job_id=export_id, fmt="zip").content))
    assert job.status == "completed" and job.records == len(rules.SERVICES) and job.attachments == 1
    assert sorted(document["services"]) == sorted(rules.SERVICES) and document["subject"]["names"] == ["李雷"]
    assert sorted(archive.namelist()) == ["export.json", "sales/quotes/Q-1.pdf"]

    create(db, rules.ERASURE, contact_ids=["c-1"])
    tick(db, subjects, NOW + timedelta(seconds=1))
    with db.read() as s, pytest.raises(FailedPrecondition, match="expired"):
        usecases.download(s, principal=DPO, job_id=export_id, fmt="json")


def test_only_a_dpo_or_an_admin_asks_and_bad_identifiers_are_named(db: Database) -> None:
    with pytest.raises(PermissionDenied):
        create(db, rules.ERASURE, REP, contact_ids=["c-1"])
    with pytest.raises(InvalidArgument) as bad:
        create(db, rules.EXPORT, emails=["li.lei@example.com", "nope"])
    assert bad.value.field == "emails[1]"
    with pytest.raises(InvalidArgument) as bad:
        create(db, rules.ERASURE, phones=["12"])
    assert bad.value.field == "phones[0]"
    with pytest.raises(InvalidArgument) as bad:
        create(db, rules.ERASURE)
    assert bad.value.field == "contact_ids"
    with pytest.raises(InvalidArgument) as bad, db.read() as s:
        usecases.download(s, principal=DPO, job_id="x", fmt="pdf")
    assert bad.value.field == "format"
    with db.read() as s:
        assert store.due(s, NOW) == []  # nothing half-written by the refused requests


def test_backoff_grows_to_a_minute() -> None:
    assert [rules.backoff(n) for n in (1, 2, 3, 7, 30)] == [1.0, 2.0, 4.0, 60.0, 60.0]
