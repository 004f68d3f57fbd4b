"""A data-subject erasure leaves no export job file behind: the files the gateway wrote before (or
while) the person was erased may hold them, and the erasure saga cannot reach the gateway's
volume, so an accepted erasure removes them and says why on the job."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm.privacy.v1 import privacy_pb2 as ppb
from crm.privacy.v1 import privacy_pb2_grpc
from crm_gateway.export_jobs import ERASED, JobStore
from crmkit.auth import Principal, TokenVerifier, mint_token
from crmkit.errors import InvalidArgument
from crmkit.grpc_server import GrpcServer

from .conftest import SECRET

PERSON_ROW = ["孙悟空", "sun.wukong@huaguo.example", "+8613912345678"]
HEADER = ["name", "email", "phone"]


class Privacy(privacy_pb2_grpc.PrivacyServiceServicer):
    def CreateErasure(self, request: Any, context: Any) -> Any:
        if not request.contact_ids:
            raise InvalidArgument("name the person", field="contact_ids")
        return ppb.Erasure(id="erasure-1", status="pending", contact_ids=request.contact_ids)


@pytest.fixture
def privacy_addr(settings: Any) -> Iterator[str]:
    server = GrpcServer(
        service="privacy", port=0, host="127.0.0.1", verifier=TokenVerifier(settings.auth),
        registrations=[lambda s: privacy_pb2_grpc.add_PrivacyServiceServicer_to_server(Privacy(), s)],
        service_names=["crm.privacy.v1.PrivacyService"], max_workers=2,
    ).start()
    yield f"127.0.0.1:{server.port}"
    server.server.stop(0)


def _written(store: JobStore, owner: str = "rep.north.1") -> Any:
    job = store.new(owner=owner, list_name="contacts", filters={}, fmt="csv")
    store.run(job, HEADER, ["text"] * 3, [PERSON_ROW])
    assert job.status == "done" and store.file(job).is_file()
    return job


def test_an_erasure_removes_every_finished_export_file_and_the_job_says_why(tmp_path: Path) -> None:
    store = JobStore(tmp_path, retention=3600)
    mine, theirs = _written(store), _written(store, owner="manager.north")
    assert store.forget_files() == 2
    for job in (mine, theirs):
        assert not store.file(job).exists()
        got = store.get(job.id, job.owner)
        assert got is not None and got.status == "failed" and got.error == ERASED
    assert not any("huaguo" in p.read_text(errors="ignore") for p in tmp_path.iterdir() if p.is_file())


def test_a_job_still_reading_when_the_erasure_comes_discards_its_file(tmp_path: Path) -> None:
    store = JobStore(tmp_path, retention=3600)
    job = store.new(owner="rep.north.1", list_name="contacts", filters={}, fmt="csv")

    def rows() -> Iterator[list[str]]:
        yield PERSON_ROW  # read from contacts before the person was erased ...
        store.forget_files()  # ... then the erasure is asked while the file is being written
        yield ["猪八戒", "", ""]

    store.run(job, HEADER, ["text"] * 3, rows())
    assert job.status == "failed" and job.error == ERASED and not store.file(job).exists()


def test_a_job_started_after_the_erasure_keeps_its_file(tmp_path: Path) -> None:
    now = [1000.0]
    store = JobStore(tmp_path, retention=3600, clock=lambda: now[0])
    store.forget_files()
    now[0] += 5
    assert store.file(_written(store)).is_file()


def test_an_accepted_erasure_through_the_gateway_removes_the_export_files(make_client, settings, mint, privacy_addr,
                                                                          tmp_path):
    gw = make_client(settings, optional_addrs={"privacy": privacy_addr}, export_dir=str(tmp_path))
    store = JobStore(tmp_path, retention=3600)  # the directory the gateway's jobs live in
    job = _written(store)
    rep = {"Authorization": f"Bearer {mint('rep.north.1')}"}
    assert gw.get(f"/api/v1/exports/{job.id}/download", headers=rep).status_code == 200
    dpo = {"Authorization": f"Bearer {mint_token(Principal('dpo.hq', ('dpo',)), SECRET)}"}
    refused = gw.post("/api/v1/privacy/erasures", headers=dpo, json={"reason": "no person named"})
    assert refused.status_code == 400 and store.file(job).is_file()  # a refused request removes nothing
    resp = gw.post("/api/v1/privacy/erasures", headers=dpo, json={"contact_ids": ["c-1"], "reason": "GDPR Art. 17"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    download = gw.get(f"/api/v1/exports/{job.id}/download", headers=rep)
    assert download.status_code == 409 and ERASED in download.get_json()["detail"]
    assert not store.file(job).exists()
