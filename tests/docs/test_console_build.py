"""What `make run` promises about the console: it runs `npm ci` when node_modules is missing or
older than package-lock.json, rebuilds when a source is newer than the build, and serves it with
the dev sign-in of the demo users (never the internal service account)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from crm_devtools import console


def _console(tmp_path: Path) -> Path:
    root = tmp_path / "console"
    (root / "src").mkdir(parents=True)
    (root / "package-lock.json").write_text("{}")
    (root / "src" / "main.tsx").write_text("export {}")
    return root


def _age(path: Path, seconds: float) -> None:
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def test_npm_ci_runs_when_node_modules_is_missing_or_older_than_the_lock(tmp_path: Path) -> None:
    root = _console(tmp_path)
    assert console.needs_install(root)
    marker = root / "node_modules" / ".package-lock.json"
    marker.parent.mkdir()
    marker.write_text("{}")
    assert not console.needs_install(root)
    _age(marker, 60)  # package-lock.json changed after the last install
    assert console.needs_install(root)


def test_the_console_is_rebuilt_when_a_source_is_newer_than_the_build(tmp_path: Path) -> None:
    root = _console(tmp_path)
    assert console.needs_build(root) and console.built_dist(root) is None
    index = root / "dist" / "index.html"
    index.parent.mkdir()
    index.write_text("<!doctype html>")
    assert not console.needs_build(root)
    assert console.built_dist(root) == root / "dist"
    _age(index, 60)
    assert console.needs_build(root)


def test_the_suite_gateway_gets_the_demo_users_and_the_build(tmp_path: Path) -> None:
    env = console.gateway_env(tmp_path, tmp_path / "dist")
    users = json.loads(Path(env["DEV_SIGN_IN_USERS_FILE"]).read_text())
    ids = {u["user_id"] for u in users}
    assert {"rep.north.1", "manager.south", "agent.support", "admin"} <= ids
    assert "system" not in ids  # the services' own account is nobody to sign in as
    assert env["CONSOLE_DIST"] == str(tmp_path / "dist")
    assert "CONSOLE_DIST" not in console.gateway_env(tmp_path, None)
