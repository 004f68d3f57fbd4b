"""Builds every image of the suite and pins what was pushed by digest in the production overlay.

    python deploy/images.py [--registry R] [--tag T] [--push]      (make images [PUSH=1] ...)

Builds services/<svc>/Dockerfile, gateway/Dockerfile and console/Dockerfile from the repository root as
<registry>/crm-<name>:<tag>. With --push each image is pushed, and its digest (what the registry
answered, `RepoDigests`) is written into deploy/k8s/overlays/production/kustomization.yaml as
`digest:` beside newName/newTag, so the cluster runs exactly the bytes that were built: a tag can
be moved, a digest cannot. Without --push nothing is pinned (a digest exists only in a registry).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCTION = REPO / "deploy" / "k8s" / "overlays" / "production" / "kustomization.yaml"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def dockerfiles(repo: Path = REPO) -> dict[str, Path]:
    """crm-<name> → its Dockerfile, for every service of the checkout, the gateway and the console."""
    found = {f"crm-{p.parent.name}": p for p in sorted(repo.glob("services/*/Dockerfile"))}
    found["crm-gateway"] = repo / "gateway" / "Dockerfile"
    found["crm-console"] = repo / "console" / "Dockerfile"
    return found


def pin(kustomization: Path, digests: dict[str, str], registry: str | None = None) -> str:
    """The kustomization's text with `digest:` set (and newName moved to `registry`, when given)
    for each image named in `digests`; comments and order are kept."""
    text = kustomization.read_text()
    for name, digest in digests.items():
        if not DIGEST.fullmatch(digest):
            raise ValueError(f"{name}: {digest!r} is not a sha256 digest")
        entry = re.compile(rf"(?m)^(?P<ind>\s*)- name: {re.escape(name)}\n(?P<body>(?:(?P=ind)  \S.*\n)*)")
        match = entry.search(text)
        if match is None:
            raise KeyError(f"{kustomization}: no images entry for {name}")
        ind, body = match["ind"], match["body"]
        lines = [line for line in body.splitlines() if not line.strip().startswith("digest:")]
        if registry:
            lines = [f"{ind}  newName: {registry}/{name}" if line.strip().startswith("newName:") else line
                     for line in lines]
        lines.append(f'{ind}  digest: "{digest}"')
        text = text[:match.start()] + f"{ind}- name: {name}\n" + "".join(f"{line}\n" for line in lines) \
            + text[match.end():]
    return text


def _docker(*args: str) -> str:
    run = subprocess.run(["docker", *args], cwd=REPO, text=True, capture_output=True)
    if run.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:2])} failed:\n{run.stderr.strip()[-2000:]}")
    return run.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", default="", help="e.g. registry.example.com/shuniu (default: local names)")
    parser.add_argument("--tag", default="dev")
    parser.add_argument("--push", action="store_true", help="push, then pin the digests in production")
    args = parser.parse_args(argv)
    if args.push and not args.registry:
        parser.error("--push needs --registry")
    if shutil.which("docker") is None:
        print("docker is not installed: no image built", file=sys.stderr)
        return 1
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        print("docker cannot reach its daemon (is dockerd running?): no image built", file=sys.stderr)
        return 1
    prefix = f"{args.registry.rstrip('/')}/" if args.registry else ""
    digests = {}
    for name, dockerfile in dockerfiles().items():
        ref = f"{prefix}{name}:{args.tag}"
        print(f"building {ref} from {dockerfile.relative_to(REPO)}", flush=True)
        _docker("build", "-f", str(dockerfile), "-t", ref, ".")
        if args.push:
            _docker("push", ref)
            repo_digests = json.loads(_docker("inspect", "--format", "{{json .RepoDigests}}", ref))
            ours = [d.split("@", 1)[1] for d in repo_digests if d.startswith(f"{prefix}{name}@")]
            if not ours:
                raise SystemExit(f"{ref}: the registry returned no digest")
            digest = digests[name] = ours[0]
            print(f"pushed {ref}@{digest}")
    if digests:
        PRODUCTION.write_text(pin(PRODUCTION, digests, args.registry.rstrip("/")))
        print(f"pinned {len(digests)} digests in {PRODUCTION.relative_to(REPO)}")
    else:
        print("built; nothing pinned (digests exist once pushed: make images PUSH=1 REGISTRY=...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
