"""An import uploaded over gRPC as the gateway does it (create, chunks, start): for service tests."""
from __future__ import annotations

import hashlib
from typing import Any

from crm.common.v1 import imports_pb2 as pb


def upload(stub: Any, entity: str, file_name: str, content: bytes, chunk: int = 16 * 1024,
           **options: Any) -> pb.ImportJob:
    """`stub`: a caller of crm.common.v1.Imports (or contacts' ContactImports)."""
    job: pb.ImportJob = stub.CreateImport(pb.CreateImportRequest(entity=entity, file_name=file_name, size_bytes=len(content),
                                                   content_sha256=hashlib.sha256(content).hexdigest(), **options))
    if job.reused:
        return job
    for offset in range(0, len(content), chunk):
        stub.AppendImportChunk(pb.AppendImportChunkRequest(id=job.id, offset=offset,
                                                           data=content[offset:offset + chunk]))
    started: pb.ImportJob = stub.StartImport(pb.StartImportRequest(id=job.id))
    return started
