"""How a list of import jobs pages (ListImports): newest first by (created_at, id), the cursor
being the last job's pair. Shared by the services' use case and the gateway, which merges the
services' lists and writes each service's cursor after the last job it took from it."""
from __future__ import annotations

from datetime import UTC, datetime

from crm.common.v1.imports_pb2 import ImportJob
from crmkit.errors import InvalidArgument
from crmkit.paging import decode_key, encode_key

MAX_PAGE = 200
DEFAULT_PAGE = 50
STATUSES = ("uploading", "queued", "running", "done", "failed")


def cursor_of(job: ImportJob) -> str:
    """The page token that continues after `job`."""
    at = job.created_at.ToDatetime(tzinfo=UTC)
    return encode_key(at.isoformat(timespec="microseconds"), job.id)


def parse_cursor(token: str) -> tuple[datetime, str]:
    """The (created_at, id) a token carries; anything else is the caller's mistake."""
    created, job_id = decode_key(token, 2)
    try:
        at = datetime.fromisoformat(created)
    except ValueError:
        raise InvalidArgument("page_token is not a token this service issued", field="page_token") from None
    if at.tzinfo is None or not job_id:
        raise InvalidArgument("page_token is not a token this service issued", field="page_token")
    return at.astimezone(UTC), job_id
