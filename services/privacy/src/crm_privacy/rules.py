"""Pure rules of the privacy service: who may ask, what a request must name, how long to wait
before asking a service again, and how the export's parts become one document and one ZIP."""
from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from crm.privacy.v1 import privacy_pb2 as pb
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument, PermissionDenied

# The services that hold personal data, in the order a saga asks them: contacts first, so its
# outbox stops spreading the person before the others erase what they got from it; webhooks last
# (its queue holds copies of every producer's events).
SERVICES = ("contacts", "sales", "marketing", "support", "reporting", "webhooks")
RESOLVE = "resolve"  # the first step: contacts resolves the person's ids, emails and phones
EXPORT, ERASURE = "export", "erasure"
EXPORT_KEPT = timedelta(days=7)      # an export's document is dropped after this
LEASE = timedelta(seconds=30)        # a worker's claim on a job; a crashed worker's job resumes after it
MAX_BACKOFF_SECONDS = 60.0
MAX_IDS = 100

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def check_dpo(principal: Principal) -> None:
    """Data-subject requests are for a data protection officer (role `dpo`) or an admin."""
    if not principal.has_role("dpo"):
        raise PermissionDenied("data-subject exports and erasures need the dpo or admin role")


def subject_of(contact_ids: Sequence[str], emails: Sequence[str], phones: Sequence[str]) -> pb.Subject:
    """The person as the request names them, checked: every value is kept or refused by name."""
    if not (contact_ids or emails or phones):
        raise InvalidArgument("name the person by contact_ids, emails or phones", field="contact_ids")
    for name, values in (("contact_ids", contact_ids), ("emails", emails), ("phones", phones)):
        if len(values) > MAX_IDS:
            raise InvalidArgument(f"at most {MAX_IDS} {name}", field=name)
    subject = pb.Subject()
    errors: list[tuple[str, str]] = []  # every bad value, each by its path: one 400 names them all
    for i, value in enumerate(contact_ids):
        if not value.strip() or len(value) > 36:
            errors.append((f"contact_ids[{i}]", f"{value!r} is not a contact id"))
        subject.contact_ids.append(value.strip())
    for i, value in enumerate(emails):
        if not _EMAIL.match(value.strip()):
            errors.append((f"emails[{i}]", f"{value!r} is not an email address"))
        subject.emails.append(value.strip().lower())
    for i, value in enumerate(phones):
        compact = re.sub(r"[\s\-().]", "", value)
        if not _E164.match(compact):
            errors.append((f"phones[{i}]", f"{value!r} is not a phone number in E.164 form (+8613800138000)"))
        subject.phones.append(compact)
    if errors:
        raise InvalidArgument("; ".join(f"{f}: {m}" for f, m in errors[:5]), field=errors[0][0],
                              errors=[{"field": f, "message": m} for f, m in errors])
    return subject


def backoff(attempts: int) -> float:
    """Seconds before asking a service that failed `attempts` times in a row again."""
    return min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def reason_of(error: Exception) -> str:
    """What a step's failure says: the gRPC status, never the message (it may quote the request)."""
    code = getattr(error, "code", None)
    if callable(code):
        return f"{code().name}"
    return type(error).__name__


def export_document(job: pb.ExportJob, subject: pb.Subject, parts: Sequence[pb.SubjectPart],
                    generated_at: datetime) -> bytes:
    services: dict[str, Any] = {}
    for part in parts:
        services[part.service] = json.loads(part.document or b"{}")
    document = {
        "export_id": job.id,
        "generated_at": generated_at.isoformat(),
        "requested_by": job.requested_by,
        "subject": {"contact_ids": list(subject.contact_ids), "names": list(subject.names),
                    "emails": list(subject.emails), "phones": list(subject.phones)},
        "records": sum(p.records for p in parts),
        "services": services,
        "attachments": [a.name for p in parts for a in p.attachments],
    }
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode()


def export_archive(document: bytes, parts: Sequence[pb.SubjectPart]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", document)
        for part in parts:
            for attachment in part.attachments:
                archive.writestr(f"{part.service}/{attachment.name}", attachment.content)
    return buffer.getvalue()


def receipt(erasure: pb.Erasure, answers: Sequence[pb.EraseSubjectResponse], suppressed: int) -> pb.ErasureReceipt:
    out = pb.ErasureReceipt(erasure_id=erasure.id, contact_ids=erasure.contact_ids,
                            requested_by=erasure.requested_by, reason=erasure.reason,
                            suppressed_identifiers=suppressed)
    out.requested_at.CopyFrom(erasure.created_at)
    out.completed_at.CopyFrom(erasure.completed_at)
    for answer in answers:
        out.confirmations.append(pb.Confirmation(service=answer.service, confirmed_at=answer.confirmed_at,
                                                 counts=answer.counts))
    return out
