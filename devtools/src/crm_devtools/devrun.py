"""`make run`: the whole suite on this machine with embedded defaults — a nats-server it starts
itself (JetStream data under var/), an SMTP sink that keeps every mail the services send under
var/mail/, an SMS sink that keeps every SMS under var/sms/ (crmkit.sms_sink), every service and the gateway on SQLite files under var/, migrations applied, demo
data loaded once. Ctrl-C stops everything; a second run keeps the data.

Every listener (gateway, each service's gRPC and metrics ports, nats-server, the SMTP sink) binds
127.0.0.1 unless BIND_HOST says otherwise; the JWT secret is generated once into var/jwt-secret
(crm_devtools.secret) unless JWT_SECRET is set.

The same Suite class starts the suite for the end-to-end tests (temporary dirs, free ports)."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from crm_devtools import console, wechat_sim
from crm_devtools.secret import ensure_key, ensure_secret
from crmkit.config import DEFAULT_MAIL_FROM, DEFAULT_PORTS
from crmkit.sms_sink import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
from crmkit.testing import NatsServer, ServiceProcess, free_port, wait_for

REPO = Path(__file__).resolve().parents[3]
ALL_SERVICES = ("contacts", "sales", "marketing", "support", "reporting", "privacy", "webhooks")


def available_services() -> list[str]:
    """Services present in this checkout (each is a package with a __main__)."""
    return [s for s in ALL_SERVICES if (REPO / "services" / s / "src" / f"crm_{s}" / "__main__.py").exists()]


class Suite:
    def __init__(
        self,
        var_dir: Path,
        *,
        free_ports: bool = False,
        database_urls: Mapping[str, str] | None = None,
        jwt_secret: str,
        bind_host: str = "127.0.0.1",
        gateway_port: int = 8080,
        nats_port: int = 14222,
        smtp_port: int = 1025,
        sms_port: int = 1026,
        wechat_port: int = 18090,
        extra_env: Mapping[str, str] | None = None,
        console_dist: Path | None = None,
    ) -> None:
        self.var = var_dir
        self.var.mkdir(parents=True, exist_ok=True)
        (self.var / "logs").mkdir(exist_ok=True)
        self.services = available_services()
        self.free_ports = free_ports
        self.jwt_secret = jwt_secret
        # Where every listener binds; clients reach them on 127.0.0.1 either way.
        self.bind_host = bind_host
        self.database_urls = dict(database_urls or {})
        self.extra_env = dict(extra_env or {})
        # The web console the gateway serves at / (the built console/dist when there is one).
        self.console_dist = console_dist or console.built_dist()
        nats_dir = self.var / "nats"
        nats_dir.mkdir(exist_ok=True)
        self.nats = NatsServer(nats_dir, None if free_ports else nats_port, host=bind_host)
        self.ports = {s: (free_port(), free_port()) if free_ports else DEFAULT_PORTS[s] for s in self.services}
        self.gateway_port = free_port() if free_ports else gateway_port
        self.smtp_port = free_port() if free_ports else smtp_port
        self.mail_dir = self.var / "mail"
        # The local SMS provider (crmkit.sms_sink): its messages under var/sms/, its receipts and
        # the replies played on it pushed to the gateway's callbacks with this secret.
        self.sms_port = free_port() if free_ports else sms_port
        self.sms_dir = self.var / "sms"
        self.sms_callback_secret = secrets.token_urlsafe(24)
        # The WeChat / WeCom simulator (crm_devtools.wechat_sim): the platform's API for support's
        # replies, and the callbacks it signs and pushes to the gateway; fresh secrets every start.
        self.wechat_port = free_port() if free_ports else wechat_port
        self.wechat_accounts = wechat_sim.demo_accounts(self.wechat_url)
        self.procs: dict[str, ServiceProcess] = {}

    @property
    def wechat_url(self) -> str:
        return f"http://127.0.0.1:{self.wechat_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.smtp_port}"

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.sms_port}/"

    def database_url(self, service: str) -> str:
        return self.database_urls.get(service) or f"sqlite:///{self.var / f'{service}.db'}"

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update(
            NATS_URL=self.nats.url, JWT_SECRET=self.jwt_secret, DATA_DIR=str(self.var), BIND_HOST=self.bind_host,
            PYTHONUNBUFFERED="1", LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
        )
        # Two malloc arenas instead of one per thread: a gRPC thread pool otherwise holds tens of
        # MB of mostly empty arenas per process.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        for service, (grpc_port, _) in self.ports.items():
            env[f"{service.upper()}_SERVICE_ADDR"] = f"127.0.0.1:{grpc_port}"
        # Every service mails through the local sink; links in mails point at this gateway.
        env["SMTP_URL"] = self.smtp_url
        env.setdefault("MAIL_FROM", DEFAULT_MAIL_FROM)
        env.setdefault("PUBLIC_BASE_URL", self.gateway_url)
        env.update(SMS_URL=self.sms_url, SMS_ACCESS_KEY_ID=DEFAULT_KEY_ID, SMS_ACCESS_KEY_SECRET=DEFAULT_KEY_SECRET,
                   SMS_CALLBACK_SECRET=self.sms_callback_secret)
        env.setdefault("SMS_SIGN_NAME", "数牛CRM")
        env.setdefault("SUPPORT_SMS_TEMPLATE", "SMS_TICKET_UPDATE")  # the sink takes any template code
        env.update(self.extra_env)
        return env

    def service_env(self, service: str) -> dict[str, str]:
        grpc_port, metrics_port = self.ports[service]
        env = self.base_env()
        env.update(PORT=str(grpc_port), METRICS_PORT=str(metrics_port))
        env[f"{service.upper()}_DATABASE_URL"] = self.database_url(service)
        if service == "support":  # the channel credentials, as a Secret gives them in production
            env.setdefault("SUPPORT_CHANNEL_ACCOUNTS", json.dumps(self.wechat_accounts))
        if service == "webhooks":  # receivers on this machine (a developer's, the e2e tests') are allowed
            env.setdefault("WEBHOOKS_ALLOWED_CIDRS", "127.0.0.0/8,::1/128")
            # The key sealing their signing secrets, kept under var/ like the JWT secret.
            env.setdefault("WEBHOOKS_SECRET_KEY", ensure_key(self.var, "webhooks-secret-key"))
        return env

    def migrate(self, service: str) -> None:
        subprocess.run([sys.executable, "-m", "crmkit.migrate", service], env=self.service_env(service),
                       check=True, stdout=subprocess.DEVNULL)

    def start(self) -> Suite:
        self.start_smtp_sink()
        self.start_sms_sink()
        self.start_wechat_sim()
        self.nats.start()
        for service in self.services:
            self.migrate(service)
        for service in self.services:
            self.start_service(service)
        self.start_gateway()
        return self

    def start_smtp_sink(self) -> ServiceProcess:
        """First in, last out: every mail a service hands over while it runs is kept."""
        argv = [sys.executable, "-m", "crmkit.smtp_sink", "--dir", str(self.mail_dir), "--host", self.bind_host.strip("[]"),
                "--port", str(self.smtp_port)]
        proc = ServiceProcess("smtp-sink", argv, self.base_env(), self.var / "logs", self.smtp_port)
        self.procs["smtp-sink"] = proc.start()
        return proc

    def start_sms_sink(self) -> ServiceProcess:
        """Before the services (they text through it); it pushes to the gateway once that is up."""
        callbacks = f"{self.gateway_url}/api/v1/public/sms"
        argv = [sys.executable, "-m", "crmkit.sms_sink", "--dir", str(self.sms_dir), "--host",
                self.bind_host.strip("[]"), "--port", str(self.sms_port),
                "--report-url", f"{callbacks}/reports?token={self.sms_callback_secret}",
                "--reply-url", f"{callbacks}/replies?token={self.sms_callback_secret}"]
        proc = ServiceProcess("sms-sink", argv, self.base_env(), self.var / "logs", self.sms_port)
        self.procs["sms-sink"] = proc.start()
        return proc

    def start_wechat_sim(self) -> ServiceProcess:
        accounts = self.var / "wechat-accounts.json"
        accounts.write_text(json.dumps(self.wechat_accounts), encoding="utf-8")
        accounts.chmod(0o600)
        argv = [sys.executable, "-m", "crm_devtools.wechat_sim", "--host", self.bind_host.strip("[]"), "--port",
                str(self.wechat_port), "--callback-base", f"{self.gateway_url}/api/v1/channels",
                "--accounts", f"@{accounts}"]
        proc = ServiceProcess("wechat-sim", argv, self.base_env(), self.var / "logs", self.wechat_port)
        self.procs["wechat-sim"] = proc.start()
        return proc

    def start_service(self, service: str) -> ServiceProcess:
        proc = ServiceProcess(service, [sys.executable, "-m", f"crm_{service}"], self.service_env(service),
                              self.var / "logs", self.ports[service][0])
        self.procs[service] = proc.start()
        return proc

    def start_gateway(self) -> ServiceProcess:
        env = {**console.gateway_env(self.var, self.console_dist), **self.base_env()}  # extra_env may turn it off
        multiproc = self.var / "gateway-metrics"
        multiproc.mkdir(exist_ok=True)
        for stale in multiproc.glob("*.db"):
            stale.unlink()
        env.update(GATEWAY_PORT=str(self.gateway_port), PROMETHEUS_MULTIPROC_DIR=str(multiproc))
        proc = ServiceProcess("gateway", [sys.executable, "-m", "crm_gateway"], env, self.var / "logs",
                              self.gateway_port)
        self.procs["gateway"] = proc.start()
        # /readyz asks no backend (one that is down must not take the gateway out); the suite is
        # up when /backendz finds every service serving.
        wait_for(self._every_backend_serving, 30, what=f"every backend serving ({self.gateway_url}/backendz)")
        return proc

    def _every_backend_serving(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.gateway_url}/backendz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.procs[name].stop()
        self.nats.stop()


def main() -> int:
    var = REPO / "var"
    suite = Suite(var, jwt_secret=ensure_secret(var), bind_host=os.environ.get("BIND_HOST", "").strip() or "127.0.0.1",
                  gateway_port=int(os.environ.get("GATEWAY_PORT", "8080")),
                  nats_port=int(os.environ.get("DEV_NATS_PORT", "14222")),
                  smtp_port=int(os.environ.get("DEV_SMTP_PORT", "1025")),
                  sms_port=int(os.environ.get("DEV_SMS_PORT", "1026")))
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        suite.console_dist = console.build_console()
    except console.ConsoleBuildError as exc:
        state = "its last build is served" if suite.console_dist else "it is NOT served"
        print(f"{exc}\nthe web console could not be built: {state}; the API runs either way.")
    print(f"starting nats-server and {', '.join(suite.services)} + gateway (logs in {var / 'logs'}) ...")
    try:
        suite.start()
        from crm_devtools.demo import load_demo_data

        load_demo_data(suite)
        from crm_devtools.users import DEMO_USERS
        from crmkit.auth import mint_token

        print("\nShuniu CRM is up.")
        print(f"  gateway:   {suite.gateway_url}/api/v1   (OpenAPI: {suite.gateway_url}/api/v1/openapi.json)")
        if suite.console_dist is not None:
            print(f"  console:   {suite.gateway_url}/   (sign in as any demo user)")
        print(f"  nats:      {suite.nats.url}")
        mail_dir = suite.mail_dir.relative_to(REPO) if suite.mail_dir.is_relative_to(REPO) else suite.mail_dir
        print(f"  mail sink: {suite.smtp_url} — messages in {mail_dir}/")
        sms_dir = suite.sms_dir.relative_to(REPO) if suite.sms_dir.is_relative_to(REPO) else suite.sms_dir
        print(f"  sms sink:  {suite.sms_url} — messages in {sms_dir}/messages.jsonl, or GET {suite.sms_url}messages;"
              f" a reply: POST {suite.sms_url}replies {{\"phone\": \"+86…\", \"content\": \"T\"}}")
        print(f"  wechat:    {suite.wechat_url} — the WeChat / WeCom simulator: POST {suite.wechat_url}/sim/push "
              "{\"account\": \"demo\", \"from_user\": \"o-test\", \"content\": \"你好\"}, replies in GET /sim/sent")
        for service, (grpc_port, metrics_port) in suite.ports.items():
            print(f"  {service:<10} gRPC 127.0.0.1:{grpc_port}  metrics http://127.0.0.1:{metrics_port}/metrics")
        where = "this machine only (127.0.0.1)" if suite.bind_host == "127.0.0.1" else suite.bind_host
        print(f"  listening on {where}; set BIND_HOST=0.0.0.0 to serve other machines")
        signing = "JWT_SECRET from the environment" if os.environ.get("JWT_SECRET", "").strip() \
            else f"the secret generated once in {var.relative_to(REPO)}/jwt-secret"
        print(f"  tokens are signed with {signing}")
        print(f"\n  demo token (admin, 12 h):\n  {mint_token(DEMO_USERS['admin'], suite.jwt_secret)}")
        print("  other demo users: make token USER_ID=rep.north.1 (or manager.north, rep.south.1, ...)")
        print(f"\n  curl -H 'Authorization: Bearer <token>' {suite.gateway_url}/api/v1/contacts\n")
        print("Ctrl-C stops everything.")
        while not stopping:
            for name, proc in suite.procs.items():
                if proc.proc is not None and proc.proc.poll() is not None:
                    print(f"{name} exited with {proc.proc.returncode}; see {proc.log_path}")
                    stopping = True
            time.sleep(0.5)
    finally:
        print("stopping ...")
        suite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
