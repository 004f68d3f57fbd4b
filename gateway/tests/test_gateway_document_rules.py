"""Rules the OpenAPI document now states, and the gateway enforcing them alike: exclusive numeric
bounds, a path variable limited to its values, "not blank" as the services strip, every tag
described, every media type an export may answer."""
from __future__ import annotations

import re
from typing import Any

import pytest

from crm_gateway.schema import NOT_BLANK, SchemaRegistry
from crm_gateway.schemas.reports import STANDARD_NAMES


@pytest.fixture
def doc(client: Any) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").get_json()  # type: ignore[no-any-return]


def test_exclusive_bounds_are_enforced_as_documented() -> None:
    level = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5}
    registry = SchemaRegistry()
    assert registry.validate(0.05, level) == []
    for outside in (0, 0.0, 0.5, -1, 2):
        errors = registry.validate(outside, level)
        assert [e.message for e in errors] == ["must be more than 0 and less than 0.5"], outside


def test_a_standard_report_name_is_one_of_the_documented_ones(client: Any, auth: dict[str, str],
                                                              doc: dict[str, Any]) -> None:
    param = doc["paths"]["/api/v1/reports/standard/{name}"]["get"]["parameters"][0]
    assert param["name"] == "name" and param["schema"]["enum"] == list(STANDARD_NAMES)
    resp = client.get("/api/v1/reports/standard/campaign_roi", headers=auth)
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"


def test_not_blank_refuses_what_python_strips_to_nothing() -> None:
    for blank in ("", " ", "\t\n", "\x1c", "\x1f\x85", "\u3000", "a\x00"):
        assert not re.search(NOT_BLANK, blank), repr(blank)
    for text in ("a", " 张伟 ", "x\x1c"):
        assert re.search(NOT_BLANK, text), repr(text)


def test_every_tag_is_declared_with_a_description(doc: dict[str, Any]) -> None:
    used = {op["tags"][0] for item in doc["paths"].values() for op in item.values()}
    declared = {t["name"]: t["description"] for t in doc["tags"]}
    assert set(declared) == used
    assert [name for name, text in declared.items() if not text] == []


def test_exports_document_every_media_type_they_answer(doc: dict[str, Any]) -> None:
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    for path in ("/api/v1/contacts/export", "/api/v1/accounts/export"):
        assert set(doc["paths"][path]["get"]["responses"]["200"]["content"]) == {"text/csv", xlsx}
    audit = doc["paths"]["/api/v1/audit/export"]["get"]["responses"]["200"]["content"]
    assert set(audit) == {"application/x-ndjson", "text/csv"}
