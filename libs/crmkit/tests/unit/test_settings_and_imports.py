"""Nothing reads the environment at import: settings are read once at start, and SQLite's
durability comes from them (SQLITE_SYNCHRONOUS) rather than from a module constant."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from crmkit.config import ConfigError, ServiceSettings
from crmkit.db import Database

REPO = Path(__file__).resolve().parents[4]
PACKAGES = {"crmkit": REPO / "libs/crmkit/src/crmkit", "crm_fakes": REPO / "libs/fakes/src/crm_fakes",
            "crm_devtools": REPO / "devtools/src/crm_devtools"}
BASE_ENV = {"CONTACTS_DATABASE_URL": "sqlite:///x.db", "NATS_URL": "nats://127.0.0.1:4222", "JWT_SECRET": "s" * 32}

# Third-party packages are imported first (some read their own variables); then os.environ is
# replaced by a mapping that records every read made from the checkout's own code.
PROBE = r"""
import collections.abc, importlib, json, os, sys
import google.protobuf, grpc, jwt, nats, sqlalchemy, alembic, prometheus_client  # noqa: F401
roots = json.loads(sys.argv[1])
reads = []

def ours():
    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename in ("<string>", os.__file__)
                                 or frame.f_code.co_filename.startswith("<frozen")):
        frame = frame.f_back
    name = frame.f_code.co_filename if frame else ""
    return name if any(name.startswith(root) for root in roots.values()) else None

class Watched(collections.abc.MutableMapping):
    def __init__(self, real): self.real = real
    def __getitem__(self, key):
        where = ours()
        if where: reads.append((key, where))
        return self.real[key]
    def __iter__(self):
        where = ours()
        if where: reads.append(("*", where))
        return iter(self.real)
    def __len__(self): return len(self.real)
    def __setitem__(self, key, value): self.real[key] = value
    def __delitem__(self, key): del self.real[key]
    def copy(self): return dict(self.real)

os.environ = Watched(os.environ)
for package, root in roots.items():
    for path in sorted(__import__("pathlib").Path(root).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__main__" or "migrations" in parts:
            continue
        importlib.import_module(".".join([package, *parts[:-1]] if parts[-1] == "__init__" else [package, *parts]))
print(json.dumps(reads))
"""


def test_no_module_of_crmkit_fakes_or_devtools_reads_the_environment_at_import():
    import json

    roots = {name: str(path) for name, path in PACKAGES.items()}
    run = subprocess.run([sys.executable, "-c", PROBE, json.dumps(roots)], capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "SQLITE_SYNCHRONOUS": "bogus"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


def test_the_probe_would_see_a_read_at_import(tmp_path):
    """The check above can fail: a module that reads a variable at import is reported."""
    import json

    package = tmp_path / "crm_readsenv"
    package.mkdir()
    (package / "__init__.py").write_text("import os\nLEVEL = os.environ.get('SOME_LEVEL', 'x')\n")
    run = subprocess.run([sys.executable, "-c", PROBE, json.dumps({"crm_readsenv": str(package)})],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-3000:]
    assert [key for key, _ in json.loads(run.stdout.strip().splitlines()[-1])] == ["SOME_LEVEL"]


def sync_level(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("PRAGMA synchronous")).scalar_one())


def test_sqlite_is_fully_synchronous_unless_the_settings_say_otherwise(tmp_path):
    settings = ServiceSettings.from_env("contacts", BASE_ENV)
    assert settings.sqlite_synchronous == "FULL"
    normal = ServiceSettings.from_env("contacts", {**BASE_ENV, "SQLITE_SYNCHRONOUS": "normal"})
    assert normal.sqlite_synchronous == "NORMAL"
    full_db = Database(f"sqlite:///{tmp_path / 'full.db'}", sqlite_synchronous=settings.sqlite_synchronous)
    normal_db = Database(f"sqlite:///{tmp_path / 'normal.db'}", sqlite_synchronous=normal.sqlite_synchronous)
    default_db = Database(f"sqlite:///{tmp_path / 'default.db'}")
    try:
        assert (sync_level(full_db), sync_level(normal_db), sync_level(default_db)) == (2, 1, 2)
    finally:
        for db in (full_db, normal_db, default_db):
            db.dispose()


def test_an_unknown_synchronous_level_stops_the_start_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="SQLITE_SYNCHRONOUS"):
        ServiceSettings.from_env("contacts", {**BASE_ENV, "SQLITE_SYNCHRONOUS": "OFF"})
    with pytest.raises(ValueError, match="OFF"):
        Database(f"sqlite:///{tmp_path / 'off.db'}", sqlite_synchronous="OFF")
