"""gRPC servicer of `crm.privacy.v1.PrivacyService`: translation only. A new job wakes the worker."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from crm.privacy.v1 import privacy_pb2 as pb
from crm.privacy.v1.privacy_pb2_grpc import PrivacyServiceServicer
from crm_privacy import rules
from crm_privacy.usecases import jobs
from crmkit.db import Database
from crmkit.servicer import Clock, Ctx, ServicerBase, system_clock


class PrivacyServicer(ServicerBase, PrivacyServiceServicer):
    def __init__(self, db: Database, clock: Clock = system_clock, *, wake: Callable[[], None] = lambda: None,
                 services: Sequence[str] = rules.SERVICES) -> None:
        super().__init__(db, clock)
        self.wake = wake
        self.services = tuple(services)

    def CreateExport(self, request: pb.CreateExportRequest, context: Ctx) -> pb.ExportJob:
        job = self.write(request, pb.ExportJob, lambda uow, c: jobs.create_export(
            uow, principal=c.principal, now=c.now, request=request, services=self.services))
        self.wake()
        return job

    def GetExport(self, request: pb.GetExportRequest, context: Ctx) -> pb.ExportJob:
        return self.read(lambda s, c: jobs.get_export(s, principal=c.principal, job_id=request.id))

    def DownloadExport(self, request: pb.DownloadExportRequest, context: Ctx) -> pb.ExportDownload:
        return self.read(lambda s, c: jobs.download(s, principal=c.principal, job_id=request.id, fmt=request.format))

    def CreateErasure(self, request: pb.CreateErasureRequest, context: Ctx) -> pb.Erasure:
        erasure = self.write(request, pb.Erasure, lambda uow, c: jobs.create_erasure(
            uow, principal=c.principal, now=c.now, request=request, services=self.services))
        self.wake()
        return erasure

    def GetErasure(self, request: pb.GetErasureRequest, context: Ctx) -> pb.Erasure:
        return self.read(lambda s, c: jobs.get_erasure(s, principal=c.principal, job_id=request.id))

    def GetErasureReceipt(self, request: pb.GetErasureRequest, context: Ctx) -> pb.ErasureReceipt:
        return self.read(lambda s, c: jobs.get_receipt(s, principal=c.principal, job_id=request.id))

    def ListSuppressions(self, request: pb.ListSuppressionsRequest, context: Ctx) -> pb.ListSuppressionsResponse:
        return self.read(lambda s, c: jobs.list_suppressions(s, principal=c.principal, after_seq=request.after_seq))
