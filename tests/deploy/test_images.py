"""`make images` (deploy/images.py): which images it builds, and how it pins what it pushed by
digest in the production overlay, so the cluster runs exactly the bytes that were built."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("deploy_images", REPO / "deploy" / "images.py")
images = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(images)


def test_it_builds_one_image_per_workload_from_its_dockerfile():
    found = images.dockerfiles()
    services = {p.parent.name for p in REPO.glob("services/*/Dockerfile")}
    assert set(found) == {f"crm-{s}" for s in services} | {"crm-gateway", "crm-console"}
    assert all(path.is_file() for path in found.values())
    production = yaml.safe_load(images.PRODUCTION.read_text())
    assert {i["name"] for i in production["images"]} == set(found), "every built image is deployed"


def test_pinning_writes_digests_that_kustomize_renders_and_keeps_the_rest(tmp_path):
    tree = tmp_path / "k8s"
    shutil.copytree(REPO / "deploy" / "k8s", tree)
    kustomization = tree / "overlays" / "production" / "kustomization.yaml"
    before = kustomization.read_text()
    digests = {name: "sha256:" + f"{n:x}".rjust(64, "a") for n, name in enumerate(images.dockerfiles())}
    pinned = images.pin(kustomization, digests, "registry.internal/shuniu")
    kustomization.write_text(pinned)
    assert images.pin(kustomization, digests, "registry.internal/shuniu") == pinned, "pinning twice changes nothing"
    doc = yaml.safe_load(pinned)
    for entry in doc["images"]:
        assert entry["digest"] == digests[entry["name"]]
        assert entry["newName"] == f"registry.internal/shuniu/{entry['name']}"
        assert entry["newTag"], "the tag stays for people; the digest is what runs"
    # Comments and the other fields survive (an operator's notes in the overlay).
    assert [ln for ln in before.splitlines() if ln.lstrip().startswith("#")] == \
        [ln for ln in pinned.splitlines() if ln.lstrip().startswith("#")]
    assert {k: v for k, v in doc.items() if k != "images"} == \
        {k: v for k, v in yaml.safe_load(before).items() if k != "images"}
    tool = shutil.which("kustomize") or shutil.which("kubectl")
    if not tool:
        pytest.skip("neither kustomize nor kubectl is installed")
    cmd = [tool, "build"] if tool.endswith("kustomize") else [tool, "kustomize"]
    out = subprocess.run([*cmd, str(kustomization.parent)], capture_output=True, text=True, timeout=120, check=True)
    running = {c["image"] for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Deployment"
               for c in d["spec"]["template"]["spec"]["containers"]}
    # name@digest, or name:tag@digest (kubectl's kustomize keeps the tag): the digest decides.
    pattern = re.compile(r"(?P<name>[\w./-]+?)(:[\w.-]+)?@(?P<digest>sha256:[0-9a-f]{64})")
    rendered = {m["name"]: m["digest"] for m in map(pattern.fullmatch, running) if m}
    assert len(rendered) == len(running) == len(digests), running
    assert rendered == {f"registry.internal/shuniu/{n}": d for n, d in digests.items()}


def test_it_refuses_what_is_not_a_digest(tmp_path):
    kustomization = tmp_path / "kustomization.yaml"
    kustomization.write_text("images:\n  - name: crm-sales\n    newName: r/crm-sales\n    newTag: \"1\"\n")
    with pytest.raises(ValueError):
        images.pin(kustomization, {"crm-sales": "latest"})
    with pytest.raises(KeyError):
        images.pin(kustomization, {"crm-nope": "sha256:" + "0" * 64})
    assert re.search(r'digest: "sha256:0{64}"', images.pin(kustomization, {"crm-sales": "sha256:" + "0" * 64}))
