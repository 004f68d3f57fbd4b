"""gRPC servicer of crm.contacts.v1.PicklistAdmin: translation only (usecases/picklists.py)."""
from __future__ import annotations

from crm.common.v1.picklists_pb2 import Picklists
from crm.contacts.v1 import picklists_pb2 as pb
from crm.contacts.v1.picklists_pb2_grpc import PicklistAdminServicer
from crm_contacts.usecases import picklists
from crmkit.servicer import Ctx, ServicerBase, copy


class PicklistsServicer(ServicerBase, PicklistAdminServicer):
    def GetPicklists(self, request: pb.GetPicklistsRequest, context: Ctx) -> Picklists:
        return self.read(lambda session, call: picklists.get_picklists(session))

    def UpdatePicklist(self, request: pb.UpdatePicklistRequest, context: Ctx) -> Picklists:
        return self.write(request, Picklists, lambda uow, call: picklists.update_picklist(
            uow, principal=call.principal, now=call.now, change=copy(request.picklist),
            expected_version=request.expected_version if request.HasField("expected_version") else None))
