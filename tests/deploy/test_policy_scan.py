"""The policy scan an operator's security team runs before a deploy: checkov over both overlays
as `kubectl kustomize` renders them (what reaches the cluster, patches and components applied),
0 failed checks. A finding accepted on purpose is skipped in the manifest itself, with the
annotation `checkov.io/skipN: CKV_…=<reason>`; a skip without a reason fails here.

checkov lives in its own venv (`make checkov`, pinned in tools/checkov/requirements.txt); when
it could not be installed (no network), these tests skip and say why."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
TOOL = REPO / "var" / "checkov"
CHECKOV = TOOL / "venv" / "bin" / "checkov"
OVERLAYS = ("dev", "production")
# What the scan must refuse, scanned beside the overlays (one checkov start-up for all three).
BAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: shuniu-crm}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: bad
          image: busybox:latest
          securityContext: {privileged: true, runAsUser: 0}
"""


def _checkov() -> Path:
    if not CHECKOV.exists():
        log = TOOL / "install.log"
        why = log.read_text().strip().splitlines()[-1:] if log.exists() else ["`make checkov` has not run"]
        pytest.skip(f"checkov is not installed ({why[0] if why else 'install failed'}): run `make checkov`")
    return CHECKOV


def _render(overlay: str) -> str:
    if overlay == "dev":  # its secretGenerator reads the per-machine key files, as `make dev-secrets` writes
        subprocess.run([sys.executable, str(REPO / "deploy" / "dev_secrets.py")], check=True, capture_output=True)
    if shutil.which("kustomize"):
        cmd = ["kustomize", "build"]
    elif shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize"]
    else:
        pytest.skip("neither kustomize nor kubectl is installed: overlays not built")
    run = subprocess.run([*cmd, str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _scan(directory: Path) -> dict[str, Any]:
    # --skip-download: no call home for severities or guidelines; the checks are the installed ones.
    run = subprocess.run([str(_checkov()), "--directory", str(directory), "--framework", "kubernetes",
                          "--compact", "--skip-download", "--output", "json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 1), run.stderr[-2000:]  # 1: failed checks, reported below
    report = json.loads(run.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["results"]["parsing_errors"]
    return report


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One scan of both rendered overlays and BAD (checkov's start-up is most of its time)."""
    rendered = tmp_path_factory.mktemp("rendered")
    for overlay in OVERLAYS:
        (rendered / f"{overlay}.yaml").write_text(_render(overlay))
    (rendered / "bad.yaml").write_text(BAD)
    return _scan(rendered)


def _of(report: dict[str, Any], kind: str, overlay: str) -> list[dict[str, Any]]:
    return [c for c in report["results"][kind] if c["file_path"] == f"/{overlay}.yaml"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rendered_overlay_passes_every_policy_check(report: dict[str, Any], overlay: str) -> None:
    failed = [f"{c['check_id']} {c['resource']} ({c['check_name']}) lines {c['file_line_range']}"
              for c in _of(report, "failed_checks", overlay)]
    assert not failed, "\n".join(failed)
    # Every workload was read and checked: a scan of nothing would pass too.
    resources = {c["resource"] for c in _of(report, "passed_checks", overlay)}
    workloads = {r for r in resources if r.split(".")[0] in ("Deployment", "StatefulSet")}
    assert len(workloads) >= 10, sorted(resources)
    assert len(_of(report, "passed_checks", overlay)) > 500


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_skipped_check_says_why_in_the_manifest(report: dict[str, Any], overlay: str) -> None:
    skipped = _of(report, "skipped_checks", overlay)
    silent = [f"{c['check_id']} {c['resource']}" for c in skipped
              if len(c["check_result"].get("suppress_comment", "").split()) < 5
              or c["check_result"]["suppress_comment"] == "No comment provided"]
    assert not silent, f"skipped without a reason: {silent}"
    # Only the findings deploy/README.md#checks lists as accepted, not whatever someone skipped.
    assert {c["check_id"] for c in skipped} <= {"CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_40", "CKV_K8S_43"}


def test_a_manifest_that_breaks_policy_fails_the_scan(report: dict[str, Any]) -> None:
    """The scan sees a finding, so the 0 above means something: a root, privileged container
    (BAD, scanned beside the overlays)."""
    failed = {c["check_id"] for c in _of(report, "failed_checks", "bad")}
    assert {"CKV_K8S_16", "CKV_K8S_14"} <= failed, failed  # privileged; image without a fixed tag
