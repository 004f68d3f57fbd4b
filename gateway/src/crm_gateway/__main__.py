"""`python -m crm_gateway`: check the settings, then run gunicorn with gateway/gunicorn.conf.py."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from crm_gateway.settings import GatewaySettings
from crmkit.config import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def main(argv: list[str] | None = None) -> int:
    try:
        GatewaySettings.from_env()  # fail here, once, rather than in every worker
    except ConfigError as exc:
        print(f"crm_gateway: {exc}", file=sys.stderr)
        return 2
    if int(os.environ.get("GATEWAY_WORKERS", "2")) > 1 and not os.environ.get(
        "PROMETHEUS_MULTIPROC_DIR"
    ):
        # Without a shared directory each worker would report only its own counts.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="crm-gateway-metrics-")
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "--config", str(CONFIG), *(argv or []), "crm_gateway.wsgi:app"]
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
