"""The gRPC servicer of crm.common.v1.Imports (sales and support serve it; contacts serves it as
its ContactImports, which has the same methods): translation only, the use cases in
crmkit.imports.jobs."""
from __future__ import annotations

from collections.abc import Callable

from crm.common.v1 import imports_pb2 as pb
from crm.common.v1.imports_pb2_grpc import ImportsServicer as ImportsBase
from crmkit.db import Database
from crmkit.imports import jobs
from crmkit.servicer import Clock, Ctx, ServicerBase, copy, system_clock


class ImportsServicer(ServicerBase, ImportsBase):
    def __init__(self, db: Database, kind: jobs.ImportKind, clock: Clock = system_clock, *,
                 wake: Callable[[], None] = lambda: None) -> None:
        super().__init__(db, clock)
        self.kind = kind
        self.wake = wake  # the import worker: a started job begins now, not at its next tick

    def CreateImport(self, request: pb.CreateImportRequest, context: Ctx) -> pb.ImportJob:
        return self.write(request, pb.ImportJob, lambda uow, call: jobs.create_import(
            uow, kind=self.kind, principal=call.principal, now=call.now, request=copy(request)))

    def AppendImportChunk(self, request: pb.AppendImportChunkRequest, context: Ctx) -> pb.AppendImportChunkResponse:
        return self.write(request, pb.AppendImportChunkResponse, lambda uow, call: pb.AppendImportChunkResponse(
            received=jobs.append_chunk(uow, kind=self.kind, principal=call.principal, job_id=request.id,
                                       offset=request.offset, data=request.data)))

    def StartImport(self, request: pb.StartImportRequest, context: Ctx) -> pb.ImportJob:
        job = self.write(request, pb.ImportJob, lambda uow, call: jobs.start_import(
            uow, kind=self.kind, principal=call.principal, now=call.now, job_id=request.id))
        refused = jobs.refusal(job)
        if refused is not None:
            raise refused  # after the commit: the job is listed as failed, with this reason
        self.wake()
        return job

    def GetImport(self, request: pb.GetImportRequest, context: Ctx) -> pb.ImportJob:
        return self.read(lambda session, call: jobs.get_import(
            session, kind=self.kind, principal=call.principal, now=call.now, job_id=request.id))

    def GetImportReport(self, request: pb.GetImportReportRequest, context: Ctx) -> pb.GetImportReportResponse:
        return self.read(lambda session, call: pb.GetImportReportResponse(csv=jobs.report_csv(
            session, kind=self.kind, principal=call.principal, job_id=request.id)))

    def ListImports(self, request: pb.ListImportsRequest, context: Ctx) -> pb.ListImportsResponse:
        return self.read(lambda session, call: jobs.list_imports(
            session, kind=self.kind, principal=call.principal, now=call.now, request=request))


SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Imports"].full_name
