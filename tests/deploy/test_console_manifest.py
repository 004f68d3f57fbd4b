"""The console's image and manifests agree with each other: the port nginx listens on is the
container's, the probe path exists, every console path falls back to index.html, the image runs
as the user the pod demands, and the runtime config each environment mounts is one the console
accepts, naming the provider whose tokens the gateway verifies."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML reads the manifests: pip install pyyaml")

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
NGINX = (REPO / "console" / "nginx" / "default.conf").read_text()
DOCKERFILE = (REPO / "console" / "Dockerfile").read_text()


def _deployment() -> dict:
    docs = [d for d in yaml.safe_load_all((K8S / "base/console/console.yaml").read_text()) if d]
    return next(d for d in docs if d["kind"] == "Deployment")


def test_nginx_listens_where_the_pod_and_its_probes_look() -> None:
    (server,) = _deployment()["spec"]["template"]["spec"]["containers"]
    (port,) = server["ports"]
    assert re.search(rf"listen {port['containerPort']};", NGINX)
    for probe in ("readinessProbe", "livenessProbe"):
        path = server[probe]["httpGet"]["path"]
        assert f"location = {path} " in NGINX, f"{probe} asks {path}, which nginx does not answer"


def test_every_console_route_falls_back_to_index_and_hashed_assets_are_cached() -> None:
    assert "try_files $uri /index.html;" in NGINX
    assert re.search(r"location /assets/ \{[^}]*immutable", NGINX)
    assert re.search(r"location = /console/config.json \{[^}]*no-cache", NGINX)


def test_the_image_runs_as_the_unprivileged_user_the_pod_demands() -> None:
    pod = _deployment()["spec"]["template"]["spec"]
    uid = pod["securityContext"]["runAsUser"]
    assert re.search(r"(?m)^ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:", DOCKERFILE)
    assert re.search(rf"(?m)^USER {uid}:{uid}$", DOCKERFILE)
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert "/tmp" in mounts, "nginx writes its pid and temp files to /tmp (read-only root)"
    assert "/usr/share/nginx/html/console/config.json" in mounts


@pytest.mark.parametrize("config", ["base/console/config.json", "overlays/production/console-config.json"])
def test_each_runtime_config_is_one_the_console_accepts(config: str) -> None:
    doc = json.loads((K8S / config).read_text())
    # what console/src/auth/config.ts parseConfig accepts for production: OIDC with both names
    assert doc["sign_in"] == "oidc"
    assert doc["oidc"]["authority"].startswith("https://") and doc["oidc"]["client_id"]


def test_production_signs_in_at_the_issuer_the_gateway_trusts() -> None:
    doc = json.loads((K8S / "overlays/production/console-config.json").read_text())
    crm_config = yaml.safe_load((K8S / "overlays/production/crm-config.yaml").read_text())
    assert doc["oidc"]["authority"] == crm_config["data"]["JWT_ISSUER"]
