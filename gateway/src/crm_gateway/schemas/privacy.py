"""Privacy shapes (crm.privacy.v1): data-subject export jobs, erasures and their receipts."""
from __future__ import annotations

from crm.privacy.v1 import privacy_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schema import JsonSchema
from crm_gateway.schemas import REGISTRY

_r = REGISTRY

EXPORT_INPUT = _r.input(pb.CreateExportRequest, "DataSubjectExportRequest")
EXPORT = _r.message(pb.ExportJob, name="DataSubjectExport")
ERASURE_INPUT = _r.input(pb.CreateErasureRequest, "DataSubjectErasureRequest")
ERASURE = _r.message(pb.Erasure, name="DataSubjectErasure")
RECEIPT = _r.message(pb.ErasureReceipt, name="ErasureReceipt")

DOWNLOAD_PARAMS = (
    QueryParam("format", description="json (default): the document; zip: the document and every attachment "
               "(quote PDFs)", choices=("json", "zip")),
)
DOWNLOAD: JsonSchema = {
    "type": "string",
    "description": "application/json (one document: every service's records about the person) or "
                   "application/zip (export.json plus <service>/<attachment>); Content-Disposition names the file",
}
