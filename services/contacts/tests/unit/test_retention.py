"""Retention of soft-deleted records: a contact deleted longer ago than its setting is gone with
its tags, identities and timeline; one deleted recently and a live one stay; the removal is
counted and named in the audit log."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts import jobs
from crm_contacts.tables import contacts as contact_rows
from crm_contacts.tables import identities, tags
from crm_contacts.usecases import records
from crmkit import retention
from crmkit.runtime_tables import audit_row


def make(contacts, name: str, phone: str) -> pb.Contact:
    return contacts.write(lambda uow: records.create_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now,
        record=pb.Contact(name=name, phones=[pb.Phone(raw=phone)], tags=["展会"]), allow_duplicate=False))


def delete(contacts, made: pb.Contact, days_ago: int) -> None:
    contacts.write(lambda uow: records.delete_record(
        uow, principal=contacts.users["rep.north.1"], now=contacts.now - timedelta(days=days_ago), kind=pb.Contact,
        record_id=made.id, expected_version=0))


def test_deleted_records_past_their_age_are_removed_with_what_hangs_on_them(contacts) -> None:
    old, recent, live = (make(contacts, "旧", "13800138001"), make(contacts, "新", "13800138002"),
                         make(contacts, "在", "13800138003"))
    delete(contacts, old, 40)
    delete(contacts, recent, 3)
    job = retention.Retention(contacts.db, "contacts", [*retention.RUNTIME_CLASSES, *jobs.RETENTION],
                              {"soft_deleted_contacts": 30})
    removed = job.run(contacts.now)
    assert removed["soft_deleted_contacts"] == 1 and removed["soft_deleted_accounts"] == 0
    left = contacts.read(lambda s: set(s.execute(select(contact_rows.c.id)).scalars()))
    assert left == {recent.id, live.id}
    assert old.id not in {r.entity_id for r in contacts.rows(tags)}
    assert old.id not in {r.entity_id for r in contacts.rows(identities)}
    purged = [r for r in contacts.rows(audit_row) if r.action == "purged"]
    assert [(r.record_id, json.loads(r.details)["rows"]) for r in purged] == [("soft_deleted_contacts", 1)]
