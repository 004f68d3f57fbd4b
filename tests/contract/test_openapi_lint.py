"""The OpenAPI document passes a well-kept linter: Redocly CLI (pinned in tools/openapi-lint's
package-lock.json) with the rule set in tools/openapi-lint/redocly.yaml, recommended-strict and
more; findings accepted on purpose are in its .redocly.lint-ignore.yaml, each with its reason.
The document is the one the gateway serves with every backend configured, built in-process (no
service runs): a route added anywhere is linted here."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crm_gateway.app import create_app
from crm_gateway.settings import OPTIONAL_SERVICES, GatewaySettings
from crmkit.config import AuthSettings

LINT = Path(__file__).resolve().parents[2] / "tools" / "openapi-lint"
REDOCLY = LINT / "node_modules" / ".bin" / "redocly"


@pytest.fixture(scope="module")
def redocly() -> Path:
    if not REDOCLY.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed (Node.js 20.19+ runs the OpenAPI lint)")
        # exactly the lock file's versions; nothing is resolved anew
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=LINT, check=True, capture_output=True,
                       timeout=300)
    return REDOCLY


def served_document() -> dict[str, Any]:
    nowhere = "127.0.0.1:1"  # never dialled: serving the document calls no backend
    settings = GatewaySettings(
        contacts_addr=nowhere, reporting_addr=nowhere,
        auth=AuthSettings(jwt_secret="lint-secret-for-the-openapi-document-0123", jwks_url=None, issuer=None,
                          audience=None),
        optional_addrs={name: nowhere for name in OPTIONAL_SERVICES},
    )
    app = create_app(settings)
    try:
        resp = app.test_client().get("/api/v1/openapi.json")
        assert resp.status_code == 200
        return resp.get_json()  # type: ignore[no-any-return]
    finally:
        app.extensions["crm_gateway"].backends.close()


def test_the_document_passes_the_linter_with_the_repositorys_rules(redocly: Path, tmp_path: Path) -> None:
    # the ignore file's keys name the document by its file name next to the config
    for name in ("redocly.yaml", ".redocly.lint-ignore.yaml"):
        shutil.copy(LINT / name, tmp_path / name)
    (tmp_path / "openapi.json").write_text(json.dumps(served_document(), ensure_ascii=False))
    run = subprocess.run([str(redocly), "lint", "--config", "redocly.yaml", "--max-problems", "1000",
                          "--format", "stylish", "openapi.json"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "REDOCLY_TELEMETRY": "off",
                                           "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"})
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-4000:]
    assert "openapi.json" in run.stdout + run.stderr  # it linted the document, not nothing


def test_a_finding_fails_the_lint(redocly: Path, tmp_path: Path) -> None:
    # the rules are live: an operation without a 4xx answer and an undescribed tag are refused
    shutil.copy(LINT / "redocly.yaml", tmp_path / "redocly.yaml")
    doc = served_document()
    op = doc["paths"]["/api/v1/contacts"]["get"]
    op["responses"] = {code: r for code, r in op["responses"].items() if not code.startswith("4")}
    doc["tags"] = [t for t in doc["tags"] if t["name"] != "contacts"]
    (tmp_path / "openapi.json").write_text(json.dumps(doc, ensure_ascii=False))
    run = subprocess.run([str(redocly), "lint", "--config", "redocly.yaml", "--format", "stylish", "openapi.json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "REDOCLY_TELEMETRY": "off"})
    assert run.returncode != 0
    assert "operation-4xx-response" in run.stdout + run.stderr
    assert "operation-tag-defined" in run.stdout + run.stderr
