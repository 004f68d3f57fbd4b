"""The support service's audit log as an auditor reads it over gRPC (crm.common.v1.AuditLog):
opening and changing a ticket, and reading it, each leave an entry naming who, which ticket,
which fields, the request id and the client address; a rep may not read the log; retention
removes old idempotency answers and counts them. SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from prometheus_client import REGISTRY

from crm.common.v1 import audit_pb2 as apb
from crm.common.v1.audit_pb2_grpc import AuditLogStub
from crm.contacts.v1 import contacts_pb2 as cpb
from crm.support.v1 import support_pb2 as pb
from crm.support.v1.support_pb2_grpc import SupportServiceStub
from crmkit.audit import reads
from crmkit.auth import Principal, mint_token
from crmkit.records import dt
from crmkit.testing import wait_for

pytestmark = pytest.mark.integration
AUDITOR = Principal("auditor.hq", ("auditor",), "hq", "", "审计")


def as_agent_from(support: Any, request_id: str) -> Any:
    """The agent's calls as the gateway makes them: with a request id and the client's address."""
    stub = SupportServiceStub(grpc.insecure_channel(support.address))
    md = [("authorization", f"Bearer {support.token('agent')}"), ("x-request-id", request_id),
          ("crm-client-addr", "198.51.100.23")]
    return lambda name, request: getattr(stub, name)(request, metadata=md, timeout=20)


def audit_log(support: Any, principal: Principal) -> Any:
    stub = AuditLogStub(grpc.insecure_channel(support.address))
    token = mint_token(principal, support.secret)
    return lambda request: stub.ListAuditEntries(request, metadata=[("authorization", f"Bearer {token}")],
                                                 timeout=20)


def test_changes_and_reads_of_a_ticket_are_in_the_log_for_an_auditor_only(support: Any, api: Any) -> None:
    contact = support.contacts_as("admin").CreateContact(cpb.CreateContactRequest(contact=cpb.Contact(
        name="王强", emails=[cpb.Email(address="wang.qiang@hbsteel.cn")])))
    call = as_agent_from(support, "req-open-1")
    ticket = call("CreateTicket", pb.CreateTicketRequest(ticket=pb.Ticket(
        subject="打印机无法连接", description="办公室打印机连不上", contact_id=contact.id, priority="high")))
    updated = call("UpdateTicket", pb.UpdateTicketRequest(
        ticket=pb.Ticket(id=ticket.id, priority="urgent"), update_mask=FieldMask(paths=["priority"])))
    call("GetTicket", pb.GetTicketRequest(id=ticket.id))

    read = audit_log(support, AUDITOR)
    wait_for(lambda: any(e.action == "read" for e in read(apb.ListAuditEntriesRequest(record_id=ticket.id)).entries),
             what="the read entry (appended off the request path)")
    entries = list(reversed(read(apb.ListAuditEntriesRequest(record_type="ticket", record_id=ticket.id)).entries))
    opened, changed, seen_by = entries[0], entries[-2], entries[-1]
    assert opened.action == "created" and {"subject", "priority", "contact_id"} <= set(opened.fields)
    assert (changed.action, list(changed.fields), changed.actor) == ("updated", ["priority"], "agent.1")
    assert changed.event_id and json.loads(changed.details)["version"] == updated.version
    assert (seen_by.action, seen_by.actor) == ("read", "agent.1") and "priority" in seen_by.fields
    assert {(e.request_id, e.client_addr) for e in entries} == {("req-open-1", "198.51.100.23")}
    assert "王强" not in str(entries) and "wang.qiang" not in str(entries), "no personal data values"
    seen = read(apb.ListAuditEntriesRequest(actor="agent.1", action="read"))
    assert [e.record_id for e in seen.entries] == [ticket.id]

    with pytest.raises(grpc.RpcError) as refused:
        audit_log(support, Principal("rep.north.1", ("rep",), "north-sales", "north"))(apb.ListAuditEntriesRequest())
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_retention_removes_old_idempotency_answers_and_counts_them(support: Any, api: Any) -> None:
    contact = support.contacts_as("admin").CreateContact(cpb.CreateContactRequest(contact=cpb.Contact(name="李雷")))
    ticket = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(subject="发票", contact_id=contact.id)),
                                    key="open-once")
    runtime = support.runtime
    reads.flush(runtime.db)
    before = REGISTRY.get_sample_value("crm_retention_removed_total",
                                       {"service": "support", "data_class": "idempotency_keys"}) or 0.0
    assert runtime.retention.run(dt(ticket.created_at) + timedelta(days=1))["idempotency_keys"] == 0
    removed = runtime.retention.run(dt(ticket.created_at) + timedelta(days=400))
    assert removed["idempotency_keys"] == 1
    after = REGISTRY.get_sample_value("crm_retention_removed_total",
                                      {"service": "support", "data_class": "idempotency_keys"})
    assert after == before + 1
    again = api.agent.CreateTicket(pb.CreateTicketRequest(ticket=pb.Ticket(subject="发票", contact_id=contact.id)),
                                   key="open-once")
    assert again.id != ticket.id, "the key's stored answer is gone: the same key now opens a new ticket"
