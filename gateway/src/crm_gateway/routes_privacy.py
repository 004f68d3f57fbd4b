"""Data-subject requests → crm.privacy.v1.PrivacyService: /api/v1/privacy/* (a DPO or an admin).

An export or an erasure is a job: POST answers 202 with the job and its progress per service;
GET the same URL follows it; the export's document (JSON, or a ZIP with the quote PDFs) and the
erasure's receipt (every service's confirmation and time) follow once it completed. An accepted
erasure also removes the gateway's export job files (routes_exports): they may hold the person."""
from __future__ import annotations

import dataclasses
from typing import Any

from flask import Response, request

from crm.privacy.v1 import privacy_pb2 as pb
from crm_gateway.actions import JSON, Action
from crm_gateway.routes_exports import jobs
from crm_gateway.routing import API, Call, Route, metadata, state
from crm_gateway.schemas import privacy as sh

TAG = "privacy"
EXPORTS = f"{API}/privacy/exports"
ERASURES = f"{API}/privacy/erasures"


def download_export(c: Call, id: str) -> Response:
    fmt = request.args.get("format", "json")
    answer = state().backends.client("privacy").call(
        "DownloadExport", pb.DownloadExportRequest(id=id, format=fmt), metadata=metadata(), idempotent=True)
    filename = answer.file_name.replace('"', "")
    return Response(answer.content, mimetype=answer.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def forgetting_export_files(action: Action) -> Route:
    """The erasure's route, which once privacy accepted it removes every export job's file."""
    route = action.route()
    erase = route.view

    def view(c: Call, **path: Any) -> Response:
        answer = erase(c, **path)
        jobs().forget_files()
        return answer

    return dataclasses.replace(route, view=view)


ROUTES: list[Action | Route] = [
    Action("POST", EXPORTS, "createDataSubjectExport",
           "Export everything every service holds about a person (by contact ids, emails or phones): a job", TAG,
           "CreateExport", pb.CreateExportRequest, sh.EXPORT, JSON, body=sh.EXPORT_INPUT, status=202),
    Action("GET", f"{EXPORTS}/<id>", "getDataSubjectExport", "An export job and its progress per service", TAG,
           "GetExport", pb.GetExportRequest, sh.EXPORT, JSON),
    Route("GET", f"{EXPORTS}/<id>/download", download_export, "downloadDataSubjectExport",
          "The completed export: one JSON document, or a ZIP with the quote PDFs (?format=zip)", TAG,
          response=sh.DOWNLOAD, query=sh.DOWNLOAD_PARAMS),
    forgetting_export_files(Action("POST", ERASURES, "createDataSubjectErasure",
           "Erase a person from every service (a saga until each confirms); their emails and phones are refused "
           "from then on", TAG,
           "CreateErasure", pb.CreateErasureRequest, sh.ERASURE, JSON, body=sh.ERASURE_INPUT, status=202)),
    Action("GET", f"{ERASURES}/<id>", "getDataSubjectErasure", "An erasure and its progress per service", TAG,
           "GetErasure", pb.GetErasureRequest, sh.ERASURE, JSON),
    Action("GET", f"{ERASURES}/<id>/receipt", "getErasureReceipt",
           "The receipt of a completed erasure: every service's confirmation and time", TAG,
           "GetErasureReceipt", pb.GetErasureRequest, sh.RECEIPT, JSON),
]
