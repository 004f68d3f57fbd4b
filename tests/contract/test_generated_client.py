"""Real clients are generated from the served document: openapi-python-client must turn it into a
client without dropping a schema or an operation, and that client must work against the live suite.
One operation of every tag is called through it: a read needing no argument where the tag has one,
else the simplest call the tag offers, else a read of a record that does not exist (a 404 the
client parses as a problem), else a write with only its required fields (any documented answer
but a 5xx, parsed)."""
from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

PACKAGE = "shuniu_contract_client"
# Tags whose reads all need an argument: the call to make instead (operationId, keyword arguments,
# the body as a dict, the status expected).
SPECIAL: dict[str, tuple[str, dict[str, Any], dict[str, Any] | None, int]] = {
    "intake": ("receiveChat", {}, {"conversation_id": "contract-chat-1", "customer_email": "chat@contract.example",
                                   "messages": [{"author": "customer", "text": "打印机无法连接"}]}, 201),
    "public": ("searchPublicKb", {"q": "打印"}, None, 200),
    "search": ("searchCustomers", {"q": "华为"}, None, 200),
}


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()).strip("_")


@pytest.fixture(scope="module")
def document(suite: Any) -> dict[str, Any]:
    resp = requests.get(f"{suite.gateway_url}/api/v1/openapi.json", timeout=30)
    assert resp.status_code == 200
    return resp.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def client_package(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if generator is None:
        pytest.skip("openapi-python-client is not installed (requirements.txt, tooling section)")
    where = tmp_path_factory.mktemp("client")
    (where / "openapi.json").write_text(json.dumps(document))
    (where / "config.yaml").write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    run = subprocess.run([generator, "generate", "--path", "openapi.json", "--config", "config.yaml", "--meta", "none",
                          "--output-path", PACKAGE], cwd=where, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    # Only binary or NDJSON answers (a PDF, the open pixel, an export stream) and the raw MIME body
    # may be left out; a schema or an operation dropped is a document two schemas fight over.
    warnings = re.findall(r"WARNING parsing (\S+ \S+)[^\n]*\n\n([^\n]+)", run.stdout)
    dropped = [(op, why) for op, why in warnings
               if not re.search(r"content_type (application/pdf|image/gif|application/x-ndjson)|content type "
                                r"message/rfc822", why)]
    assert dropped == [], dropped
    assert "Unable to parse schema" not in run.stdout and "Unable to generate" not in run.stdout, run.stdout[-5000:]
    sys.path.insert(0, str(where))
    yield where
    sys.path.remove(str(where))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def _least_body(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A body with only the required fields, each the simplest value of its type."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    simplest = {"string": "contract-missing", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        field = schema["properties"][name]
        body[name] = field["enum"][-1] if "enum" in field else simplest.get(field.get("type", "object"), {})
    return body


def _one_per_tag(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any], dict[str, Any] | None, int]]:
    chosen: dict[str, tuple[str, dict[str, Any], dict[str, Any] | None, int]] = {}
    for item in document["paths"].values():
        for method, op in item.items():
            tag = op["tags"][0]
            needs = [p for p in op.get("parameters", []) if p.get("required")]
            json_answer = "application/json" in op["responses"].get("200", {}).get("content", {})
            if method == "get" and not needs and json_answer and tag not in chosen:
                chosen[tag] = (op["operationId"], {}, None, 200)
    for item in document["paths"].values():  # else a read of a record by id: one that does not exist
        for method, op in item.items():
            tag = op["tags"][0]
            needs = [p for p in op.get("parameters", []) if p.get("required")]
            if method == "get" and tag not in chosen and tag not in SPECIAL and needs \
                    and all(p["in"] == "path" for p in needs):
                chosen[tag] = (op["operationId"], {_snake(p["name"]): "contract-missing" for p in needs}, None, 404)
    for item in document["paths"].values():  # else a write with an empty body: a 400 naming what is missing
        for op in item.values():
            tag = op["tags"][0]
            json_body = "application/json" in op.get("requestBody", {}).get("content", {})
            if tag not in chosen and tag not in SPECIAL and json_body \
                    and not any(p["in"] == "path" for p in op.get("parameters", [])):
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                chosen[tag] = (op["operationId"], {}, _least_body(document, schema), 0)
    tags = {op["tags"][0] for item in document["paths"].values() for op in item.values()}
    for tag in tags - set(chosen):
        assert tag in SPECIAL, f"no call chosen for tag {tag!r}: add one to SPECIAL"
        chosen[tag] = SPECIAL[tag]
    return chosen


def test_the_generated_client_calls_one_operation_of_every_tag(
        suite: Any, document: dict[str, Any], client_package: Path, token_for: Callable[[str], str]) -> None:
    package = importlib.import_module(PACKAGE)
    client = package.AuthenticatedClient(base_url=suite.gateway_url, token=token_for("admin"), timeout=30.0)
    calls = _one_per_tag(document)
    assert len(calls) >= 15  # every domain has its tag
    failures = []
    for tag, (operation_id, kwargs, body, expected) in sorted(calls.items()):
        module = importlib.import_module(f"{PACKAGE}.api.{_snake(tag)}.{_snake(operation_id)}")
        if body is not None:
            annotation = module.sync_detailed.__annotations__["body"]
            model = next((t for t in (annotation, *typing.get_args(annotation)) if hasattr(t, "from_dict")), None)
            if model is None:  # a string annotation
                model = getattr(importlib.import_module(f"{PACKAGE}.models"), str(annotation).split(" | ")[0].strip("'"))
            kwargs = {**kwargs, "body": model.from_dict(body)}
        answer = module.sync_detailed(client=client, **kwargs)
        wrong = answer.status_code != expected if expected else answer.status_code >= 500
        if wrong or answer.parsed is None:
            failures.append((tag, operation_id, int(answer.status_code), answer.content[:300]))
    assert failures == []
