"""gRPC servicer of crm.contacts.v1.ContactImports: translation only (use cases in
usecases/imports.py; the batches run in jobs.imports.ImportRunner)."""
from __future__ import annotations

from collections.abc import Callable

from crm.common.v1 import imports_pb2 as pb
from crm.contacts.v1.imports_pb2_grpc import ContactImportsServicer
from crm_contacts.usecases import imports
from crmkit.db import Database
from crmkit.servicer import Clock, Ctx, ServicerBase, copy, system_clock


class ImportsServicer(ServicerBase, ContactImportsServicer):
    def __init__(self, db: Database, clock: Clock = system_clock, *, wake: Callable[[], None] = lambda: None) -> None:
        super().__init__(db, clock)
        self.wake = wake  # the import worker: a started job begins now, not at its next tick

    def CreateImport(self, request: pb.CreateImportRequest, context: Ctx) -> pb.ImportJob:
        return self.write(request, pb.ImportJob, lambda uow, call: imports.create_import(
            uow, principal=call.principal, now=call.now, request=copy(request)))

    def AppendImportChunk(self, request: pb.AppendImportChunkRequest, context: Ctx) -> pb.AppendImportChunkResponse:
        return self.write(request, pb.AppendImportChunkResponse, lambda uow, call: pb.AppendImportChunkResponse(
            received=imports.append_chunk(uow, principal=call.principal, job_id=request.id, offset=request.offset,
                                          data=request.data)))

    def StartImport(self, request: pb.StartImportRequest, context: Ctx) -> pb.ImportJob:
        job = self.write(request, pb.ImportJob, lambda uow, call: imports.start_import(
            uow, principal=call.principal, now=call.now, job_id=request.id))
        self.wake()
        return job

    def GetImport(self, request: pb.GetImportRequest, context: Ctx) -> pb.ImportJob:
        return self.read(lambda session, call: imports.get_import(
            session, principal=call.principal, now=call.now, job_id=request.id))

    def GetImportReport(self, request: pb.GetImportReportRequest, context: Ctx) -> pb.GetImportReportResponse:
        return self.read(lambda session, call: pb.GetImportReportResponse(csv=imports.report_csv(
            session, principal=call.principal, job_id=request.id)))

    def ListImports(self, request: pb.ListImportsRequest, context: Ctx) -> pb.ListImportsResponse:
        return self.read(lambda session, call: imports.list_imports(
            session, principal=call.principal, now=call.now, request=request))
