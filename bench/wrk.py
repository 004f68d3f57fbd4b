"""Running wrk (a C load generator, so the client costs little CPU) and reading its figures."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, *, connections: int = 16, threads: int = 2, seconds: int = 10,
            script: str | None = None) -> WrkResult:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run `make system-deps` (Debian package wrk)")
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    with tempfile.TemporaryDirectory() as tmp:
        if script:
            path = Path(tmp) / "script.lua"
            path.write_text(script)
            argv += ["-s", str(path)]
        out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return WrkResult(rps, p50, p99, errors, requests)


def auth_script(token: str, *, method: str = "GET", paths: list[str] | None = None,
                body_template: str | None = None) -> str:
    """Lua: bearer auth, optional rotation over paths, optional per-request unique body (%d)."""
    lines = [f'local token = "Bearer {token}"', "local n = 0"]
    if paths:
        lines.append("local paths = {" + ",".join(f'"{p}"' for p in paths) + "}")
    lines.append("request = function()")
    lines.append("  n = n + 1")
    lines.append('  local headers = {["Authorization"] = token, ["Content-Type"] = "application/json"}')
    path = "paths[(n % #paths) + 1]" if paths else "wrk.path"
    body = f"string.format('{body_template}', math.random(1, 2000000000), n)" if body_template else "nil"
    lines.append(f'  return wrk.format("{method}", {path}, headers, {body})')
    lines.append("end")
    return "\n".join(lines) + "\n"
