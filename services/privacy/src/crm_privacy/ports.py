"""The services the privacy service drives, as it needs them: each one's `crm.privacy.v1.DataSubject`
endpoint at `<SVC>_SERVICE_ADDR`, called with this service's own credential (crmkit.credentials).
A failure is `ServiceDown` with a reason that names the status only (the worker retries)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import grpc

from crm.privacy.v1 import privacy_pb2 as pb
from crm.privacy.v1.privacy_pb2_grpc import DataSubjectStub
from crmkit.grpc_client import GrpcPort

CALL_TIMEOUT = 60.0  # an erasure compacts a SQLite file; an export may carry PDFs


class ServiceDown(Exception):
    """The service did not answer, or refused: asked again later."""


class DataSubjects(Protocol):
    def resolve(self, subject: pb.Subject) -> pb.Subject: ...

    def export(self, service: str, subject: pb.Subject, export_id: str) -> pb.SubjectPart: ...

    def erase(self, service: str, subject: pb.Subject, erasure_id: str,
              hashes: list[str]) -> pb.EraseSubjectResponse: ...


class _Port(GrpcPort):
    stub = DataSubjectStub


class GrpcDataSubjects:
    def __init__(self, addresses: Mapping[str, str], authorization: Callable[[], str]) -> None:
        self._ports = {name: _Port(addr, timeout=CALL_TIMEOUT) for name, addr in addresses.items()}
        self._authorization = authorization

    def _call(self, service: str, method: str, request: object) -> object:
        port = self._ports.get(service)
        if port is None:
            raise ServiceDown(f"{service} is not configured")
        try:
            # Every DataSubject call is safe to repeat (erasure is idempotent): retried on UNAVAILABLE.
            return port.client.call(method, request, metadata=(("authorization", self._authorization()),),
                                    idempotent=True)
        except grpc.RpcError as exc:
            raise ServiceDown(exc.code().name) from None

    def resolve(self, subject: pb.Subject) -> pb.Subject:
        answer = self._call("contacts", "ResolveSubject", pb.ResolveSubjectRequest(subject=subject))
        assert isinstance(answer, pb.Subject)
        return answer

    def export(self, service: str, subject: pb.Subject, export_id: str) -> pb.SubjectPart:
        answer = self._call(service, "ExportSubject", pb.ExportSubjectRequest(subject=subject, export_id=export_id))
        assert isinstance(answer, pb.SubjectPart)
        return answer

    def erase(self, service: str, subject: pb.Subject, erasure_id: str,
              hashes: list[str]) -> pb.EraseSubjectResponse:
        answer = self._call(service, "EraseSubject", pb.EraseSubjectRequest(
            subject=subject, erasure_id=erasure_id, suppression_hashes=hashes))
        assert isinstance(answer, pb.EraseSubjectResponse)
        return answer
