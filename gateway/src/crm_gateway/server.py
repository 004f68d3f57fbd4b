"""The gateway's HTTP server: granian (default) or gunicorn (GATEWAY_SERVER=gunicorn).

granian's HTTP/1 handling is in Rust; only the WSGI call runs in Python, in a pool of blocking
threads per worker process. Under the same Flask app it lifts the transport floor (a request
making one gRPC call) well above gunicorn gthread's (docs/performance.md). gunicorn stays
selectable so that `make bench` can print both floors side by side.

What both servers keep: GATEWAY_WORKERS processes (2: the GIL caps each at one core),
GATEWAY_THREADS threads each, keep-alive, graceful drain on SIGTERM (stop accepting, finish
in-flight requests, exit within DRAIN_SECONDS), JSON logs on stdout with no per-request access
line (per-route RED metrics instead), the app loaded in each worker after the fork (so gRPC
channels are opened there), and Prometheus series added up over the workers through
PROMETHEUS_MULTIPROC_DIR.

    python -m crm_gateway.server [--server granian|gunicorn] [--working-dir DIR] MODULE:APP

runs any WSGI app under these settings (the bench's ping app); `python -m crm_gateway` checks
the gateway's settings first, then runs crm_gateway.wsgi:app this way."""
from __future__ import annotations

import argparse
import functools
import glob
import importlib
import logging
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmkit import logs
from crmkit.config import ConfigError, bind_host

SERVERS = ("granian", "gunicorn")
GUNICORN_CONFIG = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
DRAIN_SECONDS = 20  # SIGTERM → exit; below the pod's terminationGracePeriodSeconds (30)
# hyper closes a keep-alive connection that sends no request within this time. It must outlast
# a load balancer's idle timeout (60 s is common) so that the balancer closes first and never
# sends a request into a connection being closed; 60 s is the most granian's CLI allows.
KEEPALIVE_MS = 75_000
# Threads per worker, measured at 16 connections over 2 workers (docs/performance.md): under
# granian 8 beat 4 on the transport floor, and 8, 16 and 32 were within noise, on the floor and
# on the gateway's own rows; gunicorn gthread was flat between 4 and 16. granian starts its
# threads on demand, so a larger GATEWAY_THREADS costs nothing at rest.
DEFAULT_THREADS = 8


@dataclass(frozen=True)
class ServerSettings:
    server: str
    port: int
    workers: int
    threads: int
    log_level: str
    # BIND_HOST: every interface by default (a container); `make run` binds 127.0.0.1.
    bind_host: str = "0.0.0.0"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if env is None else env
        server = env.get("GATEWAY_SERVER", "granian").strip().lower() or "granian"
        if server not in SERVERS:
            raise ConfigError(f"GATEWAY_SERVER must be one of {', '.join(SERVERS)}, not {server!r}")
        level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        level = "WARNING" if level == "WARN" else level
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}")
        return cls(
            server=server,
            port=_int(env, "GATEWAY_PORT", 8080, 1, 65535),
            workers=_int(env, "GATEWAY_WORKERS", 2, 1, 64),
            threads=_int(env, "GATEWAY_THREADS", DEFAULT_THREADS, 1, 256),
            log_level=level,
            bind_host=bind_host(env),
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def prepare_metrics_dir(workers: int) -> None:
    """With several workers, each writes its series to files in PROMETHEUS_MULTIPROC_DIR and
    /metrics adds them up (ops.py). Made here, before the workers fork, so they inherit it;
    files of a previous run are removed, or their counts would be added to this run's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        if workers <= 1:
            return
        import tempfile

        directory = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="crm-gateway-metrics-")
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


class _ThreadsChosen(logging.Filter):
    """Drops granian's boot-time advice against more Python threads than 2 × cores + 1 (5 on
    two cores): the thread count was measured (DEFAULT_THREADS), and the advice would otherwise
    be a warning on every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Configuration allows spawning up to")


def granian_log_config(level: str) -> dict[str, Any]:
    """granian's own messages (start, worker exits) through the root logger, which carries the
    JSON handler (crmkit.logs) in the main process and in every worker; no access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {},
        "filters": {"threads_chosen": {"()": _ThreadsChosen}},
        "handlers": {},
        "loggers": {
            "_granian": {"handlers": [], "level": level, "propagate": True, "filters": ["threads_chosen"]},
            "granian.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def _load_in_worker(target: str, *, parent: int, working_dir: Path | None = None) -> Any:
    """The WSGI app, imported in a granian worker after the fork. Unlike gunicorn's, granian's
    workers outlive a main process that was killed (SIGKILL, the OOM killer) and keep serving on
    its port; so each gets SIGTERM, granian's drain, when its parent goes."""
    if sys.platform == "linux":
        import ctypes
        import signal

        # The fork copied the main process's handlers, which would swallow a SIGTERM that comes
        # before granian installs the worker's own (after this load): until then, it just ends.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
        threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    if working_dir is not None:
        sys.path.insert(0, str(working_dir))
    module, _, name = target.partition(":")
    app: Any = importlib.import_module(module)
    for part in (name or "app").split("."):
        app = getattr(app, part)
    return app


def _exit_with(parent: int) -> None:
    """Behind PR_SET_PDEATHSIG: a parent gone before it was set, or a SIGTERM that came while
    granian was still installing the worker's handler. Drain, then go, as after SIGTERM."""
    import signal
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(DRAIN_SECONDS)
    os._exit(1)


def serve_granian(target: str, settings: ServerSettings, working_dir: Path | None = None) -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    logs.configure("gateway", settings.log_level)
    server = Server(
        target,
        address=settings.bind_host.strip("[]"),
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        blocking_threads=settings.threads,
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=KEEPALIVE_MS, keep_alive=True),
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=granian_log_config(settings.log_level),
        log_access=False,
        workers_kill_timeout=DRAIN_SECONDS,
        respawn_failed_workers=True,  # as gunicorn's arbiter does
    )
    server.serve(target_loader=functools.partial(_load_in_worker, parent=os.getpid(), working_dir=working_dir))


def serve_gunicorn(target: str, settings: ServerSettings, working_dir: Path | None = None,
                   extra: list[str] | None = None) -> None:
    from gunicorn.app.wsgiapp import run

    chdir = ["--chdir", str(working_dir)] if working_dir else []
    sys.argv = ["gunicorn", "--config", str(GUNICORN_CONFIG), "--bind", f"{settings.bind_host}:{settings.port}",
                "--workers", str(settings.workers), "--threads", str(settings.threads),
                *chdir, *(extra or []), target]
    run()


def serve(target: str, settings: ServerSettings, working_dir: Path | None = None) -> None:
    prepare_metrics_dir(settings.workers)
    if settings.server == "gunicorn":
        serve_gunicorn(target, settings, working_dir)
    else:
        serve_granian(target, settings, working_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_gateway.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="MODULE:APP, a WSGI app")
    parser.add_argument("--server", choices=SERVERS, help="overrides GATEWAY_SERVER")
    parser.add_argument("--working-dir", type=Path, help="where MODULE is found")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.server:
        env["GATEWAY_SERVER"] = args.server
    try:
        settings = ServerSettings.from_env(env)
    except ConfigError as exc:
        print(f"crm_gateway.server: {exc}", file=sys.stderr)
        return 2
    serve(args.target, settings, args.working_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
