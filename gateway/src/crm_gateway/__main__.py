"""`python -m crm_gateway`: check the settings, then serve crm_gateway.wsgi:app under granian
(or gunicorn with GATEWAY_SERVER=gunicorn), with the settings in crm_gateway/server.py."""
from __future__ import annotations

import sys

from crm_gateway.server import GUNICORN_CONFIG, ServerSettings, prepare_metrics_dir, serve_granian, serve_gunicorn
from crm_gateway.settings import GatewaySettings
from crmkit.config import ConfigError

CONFIG = GUNICORN_CONFIG
TARGET = "crm_gateway.wsgi:app"


def main(argv: list[str] | None = None) -> int:
    try:
        # fail here, once, rather than in every worker
        GatewaySettings.from_env()
        server = ServerSettings.from_env()
    except ConfigError as exc:
        print(f"crm_gateway: {exc}", file=sys.stderr)
        return 2
    if argv and server.server != "gunicorn":
        print("crm_gateway: extra arguments are gunicorn flags; granian takes its settings from the "
              "environment (crm_gateway/server.py)", file=sys.stderr)
        return 2
    prepare_metrics_dir(server.workers)
    if server.server == "gunicorn":
        serve_gunicorn(TARGET, server, extra=argv)
    else:
        serve_granian(TARGET, server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
