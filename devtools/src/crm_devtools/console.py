"""The web console for `make run` and the end-to-end tests: build it when its sources changed
(`npm ci` when node_modules is missing or older than package-lock.json, then `vite build`), and
the gateway settings that serve it beside the API with the dev sign-in of the demo users."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from crm_devtools.users import DEMO_USERS
from crm_gateway.console_settings import write_users_file
from crmkit.auth import SYSTEM

REPO = Path(__file__).resolve().parents[3]
CONSOLE = REPO / "console"
_SOURCES = ("src", "index.html", "vite.config.ts", "tsconfig.json", "package.json", "package-lock.json", "public")


class ConsoleBuildError(RuntimeError):
    pass


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            newest = max([newest, *(p.stat().st_mtime for p in path.rglob("*") if p.is_file())])
    return newest


def needs_install(console: Path = CONSOLE) -> bool:
    marker = console / "node_modules" / ".package-lock.json"  # npm rewrites it on every install
    return not marker.exists() or marker.stat().st_mtime < (console / "package-lock.json").stat().st_mtime


def needs_build(console: Path = CONSOLE) -> bool:
    index = console / "dist" / "index.html"
    return not index.exists() or index.stat().st_mtime < _newest([console / s for s in _SOURCES])


def build_console(console: Path = CONSOLE, *, say: Callable[[str], None] = print) -> Path:
    """console/dist, (re)built when needed; ConsoleBuildError says what failed."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConsoleBuildError("npm not found: install Node.js 20.19+ (the console is built with Vite)")
    dist = console / "dist"
    fresh = console / f"dist.new-{os.getpid()}"
    steps = []
    if needs_install(console):
        steps.append(("npm ci", [npm, "ci", "--no-audit", "--no-fund"]))
    if steps or needs_build(console):
        # Built beside dist and swapped in, so a gateway serving dist never finds it half written;
        # the directory is this process's own, so another build running meanwhile is no conflict.
        steps.append(("vite build", [npm, "run", "--silent", "build", "--", "--outDir", fresh.name, "--emptyOutDir",
                                     "--bypass-lock"]))
    try:
        for what, argv in steps:
            say(f"console: {what} ...")
            run = subprocess.run(argv, cwd=console, capture_output=True, text=True, timeout=900)
            if run.returncode != 0:
                raise ConsoleBuildError(f"console: {what} failed ({run.returncode}):\n{(run.stdout + run.stderr)[-4000:]}")
        if fresh.exists():
            old = console / f"dist.old-{os.getpid()}"
            if dist.exists():
                dist.rename(old)
            fresh.rename(dist)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return dist


def built_dist(console: Path = CONSOLE) -> Path | None:
    """The built console, when there is one (the suite serves it then)."""
    dist = console / "dist"
    return dist if (dist / "index.html").is_file() else None


def gateway_env(var: Path, dist: Path | None) -> dict[str, str]:
    """What the gateway of the dev suite needs for the console: the demo users of the dev sign-in
    (never set in production) and the built files to serve at /."""
    users = write_users_file(var / "dev-users.json", [u for u in DEMO_USERS.values() if u != SYSTEM])
    env = {"DEV_SIGN_IN_USERS_FILE": str(users)}
    if dist is not None:
        env["CONSOLE_DIST"] = str(dist)
    return env


def main() -> int:
    """`python -m crm_devtools.console` (make console-build): build the console when stale."""
    try:
        print(build_console())
    except ConsoleBuildError as exc:
        print(exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
