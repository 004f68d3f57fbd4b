"""The shared picklists (source, industry, level, lifecycle_stage) are the tenant's: an admin
edits them in contacts, so the document states each such field as a string with `x-picklist`
(never a fixed enum) pointing at the picklist routes, and the gateway passes any key to the
service, whose 400 names the field and the active keys. The picklist routes map onto contacts'
PicklistAdmin: If-Match is the document's version, the single picklist answers it as its ETag."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from crm.common.v1.picklists_pb2 import Picklists
from crm.contacts.v1 import picklists_pb2_grpc
from crmkit import picklists
from crmkit.auth import Principal, TokenVerifier, mint_token
from crmkit.grpc_server import GrpcServer

from .conftest import SECRET


def test_every_picklist_field_is_a_string_naming_its_picklist_not_an_enum(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    fields = {("ContactInput", "source"): "source", ("AccountInput", "source"): "source",
              ("LeadInput", "source"): "source", ("ContactInput", "level"): "level",
              ("AccountPatch", "level"): "level", ("ContactPatch", "lifecycle_stage"): "lifecycle_stage",
              ("ContactInput", "industry"): "industry", ("LeadInput", "industry"): "industry",
              ("Contact", "source"): "source"}
    for (schema, field), name in fields.items():
        prop = schemas[schema]["properties"][field]
        assert prop["type"] == "string" and prop["x-picklist"] == name and "enum" not in prop, (schema, field)
        assert "/api/v1/admin/picklists" in prop["description"]
    sources = schemas["SegmentFilter"]["properties"]["sources"]["items"]
    assert sources["x-picklist"] == "source" and "enum" not in sources


def test_list_filters_name_their_picklist_instead_of_fixing_its_keys(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, name in (("/api/v1/contacts", "source"), ("/api/v1/accounts", "level"), ("/api/v1/leads", "source")):
        [param] = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        assert param["schema"].get("x-picklist") == name and "enum" not in param["schema"], path


def test_a_new_key_reaches_the_service_which_names_the_field_when_it_refuses(client, auth, fake):
    resp = client.post("/api/v1/contacts", json={"name": "李雷", "source": "webinar"}, headers=auth)
    assert resp.status_code == 201  # the gateway no longer decides: contacts checks its vocabulary
    assert fake.last("CreateContact").request.source == "webinar"


class FakePicklists(picklists_pb2_grpc.PicklistAdminServicer):
    def __init__(self) -> None:
        self.document = picklists.defaults()
        self.document.version = 4
        self.updates: list[Any] = []

    def GetPicklists(self, request: Any, context: Any) -> Picklists:
        return self.document

    def UpdatePicklist(self, request: Any, context: Any) -> Picklists:
        self.updates.append(request)
        # as contacts: absent is no check, 0 included, any other version is a conflict
        if request.HasField("expected_version") and request.expected_version != self.document.version:
            context.abort(grpc.StatusCode.ABORTED, "stale")
        document = picklists.updated(self.document, request.picklist)
        document.version = self.document.version + 1
        self.document = document
        return document


@pytest.fixture
def owner(settings: Any) -> Iterator[tuple[FakePicklists, str]]:
    fake = FakePicklists()
    server = GrpcServer(service="contacts", port=0, host="127.0.0.1", verifier=TokenVerifier(settings.auth),
                        registrations=[lambda s: picklists_pb2_grpc.add_PicklistAdminServicer_to_server(fake, s)],
                        service_names=["crm.contacts.v1.PicklistAdmin"], max_workers=2).start()
    yield fake, f"127.0.0.1:{server.port}"
    server.server.stop(0)


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(Principal('admin', ('admin',), 'hq', ''), SECRET)}"}


def test_an_admin_adds_a_source_with_both_labels_through_put_with_if_match(make_client, settings, owner, admin):
    fake, addr = owner
    client = make_client(settings, contacts_addr=addr)
    one = client.get("/api/v1/admin/picklists/source", headers=admin)
    assert one.status_code == 200 and one.headers["ETag"] == '"4"'
    body = one.get_json()
    assert body["version"] == 4 and body["values"][0] == {
        "key": "website", "label_zh": "官网", "label_en": "Website", "retired": False, "built_in": True}
    values = [{"key": v["key"], "retired": v["retired"]} for v in body["values"]]
    values.append({"key": "webinar", "label_zh": "线上研讨会", "label_en": "Webinar"})
    resp = client.put("/api/v1/admin/picklists/source", json={"values": values, "restricted": True},
                      headers={**admin, "If-Match": '"4"'})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["ETag"] == '"5"'
    [sent] = fake.updates
    assert (sent.picklist.name, sent.expected_version) == ("source", 4)
    [source] = [p for p in resp.get_json()["picklists"] if p["name"] == "source"]
    assert source["values"][-1] == {"key": "webinar", "label_zh": "线上研讨会", "label_en": "Webinar",
                                    "retired": False, "built_in": False}
    stale = client.put("/api/v1/admin/picklists/source", json={"values": values, "restricted": True},
                       headers={**admin, "If-Match": '"4"'})
    assert stale.status_code == 409


def test_the_body_is_checked_before_the_service_and_an_unknown_picklist_is_404(make_client, settings, owner, admin):
    fake, addr = owner
    client = make_client(settings, contacts_addr=addr)
    bad = client.put("/api/v1/admin/picklists/source", json={"values": [{"key": "Web Inar"}], "restricted": True},
                     headers=admin)
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "values[0].key"
    assert not fake.updates
    missing = client.get("/api/v1/admin/picklists/colour", headers=admin)
    assert missing.status_code == 404 and "source, industry, level, lifecycle_stage" in missing.get_json()["detail"]


def test_restricted_must_be_said_so_a_forgotten_flag_never_opens_the_list(make_client, settings, owner, admin):
    fake, addr = owner
    client = make_client(settings, contacts_addr=addr)
    resp = client.put("/api/v1/admin/picklists/source", json={"values": [{"key": "website"}]}, headers=admin)
    assert resp.status_code == 400 and [e["field"] for e in resp.get_json()["errors"]] == ["restricted"]
    assert not fake.updates


def test_the_get_answer_sent_back_as_it_is_is_accepted_and_only_a_read_only_change_is_refused(
        make_client, settings, owner, admin):
    fake, addr = owner
    client = make_client(settings, contacts_addr=addr)
    got = client.get("/api/v1/admin/picklists/source", headers=admin)
    body = got.get_json()
    assert {"name", "version"} <= set(body) and all("built_in" in v for v in body["values"])
    same = client.put("/api/v1/admin/picklists/source", json=body, headers={**admin, "If-Match": got.headers["ETag"]})
    assert same.status_code == 200, same.get_data(as_text=True)
    [sent] = fake.updates
    assert (sent.picklist.name, sent.expected_version) == ("source", 4)
    assert sent.picklist.values[0].HasField("built_in") and sent.picklist.values[0].built_in

    body = client.get("/api/v1/admin/picklists/source", headers=admin).get_json()  # version 5 now
    flipped = {**body, "values": [{**body["values"][0], "built_in": False}, *body["values"][1:]]}
    refused = client.put("/api/v1/admin/picklists/source", json=flipped, headers=admin)
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert [e["field"] for e in refused.get_json()["errors"]] == ["values[0].built_in"]
    other = client.put("/api/v1/admin/picklists/source", json={**body, "name": "level"}, headers=admin)
    assert other.status_code == 400 and [e["field"] for e in other.get_json()["errors"]] == ["name"]
    mismatch = client.put("/api/v1/admin/picklists/source", json={**body, "version": 4},
                          headers={**admin, "If-Match": '"5"'})
    assert mismatch.status_code == 400 and [e["field"] for e in mismatch.get_json()["errors"]] == ["version"]
    # the body's version alone is a precondition like If-Match: a stale copy is 409, not a silent overwrite
    stale = client.put("/api/v1/admin/picklists/source", json={**body, "version": 4}, headers=admin)
    assert stale.status_code == 409 and fake.updates[-1].expected_version == 4


def test_the_defaults_read_before_any_change_go_back_as_they_are(make_client, settings, owner, admin):
    fake, addr = owner
    fake.document.version = 0  # nobody changed a picklist yet: version 0, and its ETag "0"
    client = make_client(settings, contacts_addr=addr)
    got = client.get("/api/v1/admin/picklists/industry", headers=admin)
    assert got.get_json()["version"] == 0 and got.headers["ETag"] == '"0"'
    resp = client.put("/api/v1/admin/picklists/industry", json={**got.get_json(), "restricted": True}, headers=admin)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert not fake.updates[-1].HasField("expected_version") and fake.updates[-1].picklist.restricted


def test_the_defaults_etag_is_if_matched_and_a_second_first_change_conflicts(make_client, settings, owner, admin):
    fake, addr = owner
    fake.document.version = 0
    client = make_client(settings, contacts_addr=addr)
    got = client.get("/api/v1/admin/picklists/industry", headers=admin)
    read_at = {**admin, "If-Match": got.headers["ETag"]}
    first = client.put("/api/v1/admin/picklists/industry", json={**got.get_json(), "restricted": True}, headers=read_at)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert fake.updates[-1].HasField("expected_version") and fake.updates[-1].expected_version == 0
    assert first.headers["ETag"] == '"1"'
    # another admin who read the defaults too: their change is refused, not laid over the first
    late = client.put("/api/v1/admin/picklists/industry", json={**got.get_json(), "restricted": False}, headers=read_at)
    assert late.status_code == 409 and fake.document.version == 1
    bad = client.put("/api/v1/admin/picklists/industry", json={**got.get_json(), "version": 1}, headers=read_at)
    assert bad.status_code == 400 and [e["field"] for e in bad.get_json()["errors"]] == ["version"]
