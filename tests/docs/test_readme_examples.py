"""Every curl example of README.md, gateway/README.md and services/*/README.md, run verbatim in one
bash shell in README order against the whole suite (the tests/e2e fixture), so the examples cannot
rot: each command must exit 0 and each curl get the status its README states (`# → 400 ...`) or a
2xx. How examples are found, and how a README marks one as not runnable: tests/docs/examples.py.

What differs from a reader's machine, and why:
- the suite listens on free ports: the `make run` addresses in the text (127.0.0.1:8080, each
  service's gRPC and metrics port) are rewritten to the suite's;
- the shell runs in a scratch directory that mirrors the checkout (symlinks), whose var/ holds the
  suite's secret in jwt-secret and links to the suite's databases, mail sink and logs, so
  `make token`, `$(cat var/jwt-secret)` and `sqlite:///var/<svc>.db` work as under `make run`,
  and files the examples write (quote.pdf) touch nothing in the checkout;
- `make` runs with `-o proto -o venv` (the test's venv and gen/python are built already)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crm_devtools.devrun import Suite
from crmkit.config import DEFAULT_PORTS
from tests.docs import examples

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def _workdir(tmp: Path, suite: Suite, secret: str) -> Path:
    work = tmp / "reader"
    work.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in ("var", ".git"):
            (work / entry.name).symlink_to(entry)
    var = work / "var"
    var.mkdir()
    (var / "jwt-secret").write_text(secret + "\n")
    for entry in suite.var.iterdir():  # its databases, mail sink, logs: var/ as under `make run`
        if entry.name != "jwt-secret":
            (var / entry.name).symlink_to(entry)
    return work


def _rewrite(text: str, suite: Suite) -> str:
    text = text.replace("http://127.0.0.1:18090", suite.wechat_url)  # the WeChat simulator
    text = text.replace("http://127.0.0.1:1026", suite.sms_url.rstrip("/"))  # the SMS sink
    text = text.replace("http://127.0.0.1:8080", suite.gateway_url).replace("localhost:8080",
                                                                         suite.gateway_url.removeprefix("http://"))
    for service, (grpc_port, metrics_port) in DEFAULT_PORTS.items():
        if service in suite.ports:
            ours = suite.ports[service]
            text = text.replace(f"127.0.0.1:{grpc_port}", f"127.0.0.1:{ours[0]}")
            text = text.replace(f"127.0.0.1:{metrics_port}", f"127.0.0.1:{ours[1]}")
    return text


def test_every_readme_curl_example_answers_as_its_readme_says(suite: Suite, tmp_path: Path) -> None:
    from tests.docs.conftest import SECRET

    blocks = [b for doc in examples.readmes(REPO) for b in examples.blocks(doc, REPO)]
    assert blocks, "no curl examples found"
    for block in blocks:
        block.commands = [examples.Command(c.doc, c.line, _rewrite(c.text, suite), c.expect) for c in block.commands]
    logs, shims = tmp_path / "log", tmp_path / "bin"
    logs.mkdir()
    shims.mkdir()
    real_curl = shutil.which("curl")
    assert real_curl, "curl is needed to run the README examples"
    shim = shims / "curl"
    shim.write_text(examples.CURL_SHIM.format(real=real_curl))
    shim.chmod(0o755)
    work = _workdir(tmp_path, suite, SECRET)
    preamble = 'make() { command make -o proto -o venv "$@"; }\n'
    (tmp_path / "examples.sh").write_text(preamble + examples.script(blocks, logs))
    env = {k: v for k, v in os.environ.items()
           if k != "JWT_SECRET" and not k.endswith(("_SERVICE_ADDR", "_DATABASE_URL"))}
    env.update(PATH=f"{shims}:{env.get('PATH', '/usr/bin:/bin')}", EXAMPLES_LOG=str(logs))
    run = subprocess.run(["bash", str(tmp_path / "examples.sh")], cwd=work, env=env, capture_output=True,
                         text=True, timeout=600)

    calls: dict[str, list[tuple[str, str]]] = {}
    for row in (logs / "curl").read_text().splitlines() if (logs / "curl").exists() else []:
        where, status, rc = row.split("\t")
        calls.setdefault(where, []).append((status, rc))
    exits = dict(line.rsplit(" ", 1) for line in (logs / "exits").read_text().splitlines())
    failures: list[str] = []
    for block in blocks:
        if block.skipped is not None:
            print(f"not run: {block.doc}:{block.line} — {block.skipped}")
            continue
        for command in block.commands:
            first = command.text.splitlines()[0][:110]
            if exits.get(command.where) != "0":
                failures.append(f"{command.where}: exit {exits.get(command.where, 'never ran')}: {first}")
            if not command.is_curl:
                continue
            answers = calls.get(command.where, [])
            wanted = str(command.expect) if command.expect is not None else "2xx"
            if not answers:
                failures.append(f"{command.where}: curl never ran (wanted {wanted}): {first}")
            if answers:
                # A loop that polls until something is ready is judged by its last answer.
                status, rc = answers[-1]
                if not status.isdigit() or not command.accepts(int(status)):
                    failures.append(f"{command.where}: got {status} (curl exit {rc}), wanted {wanted}: {first}")
    ran = sum(len(b.commands) for b in blocks if b.skipped is None)
    if failures:
        for log in sorted(suite.var.glob("logs/*.log")):
            errors = [line for line in log.read_text(errors="replace").splitlines() if '"level": "error"' in line or '"level":"error"' in line]
            failures += [f"  {log.name}: {line[:400]}" for line in errors[-3:]]
    failing = len({f.split(": ", 1)[0] for f in failures if not f.startswith("  ")})
    assert not failures, (f"{failing} of {ran} README commands did not answer as documented:\n"
                          + "\n".join(failures) + f"\n--- stderr of the shell (last 3000 chars):\n{run.stderr[-3000:]}"
                          + f"\n--- its stdout (last 3000 chars):\n{run.stdout[-3000:]}")
