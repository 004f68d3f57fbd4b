"""WSGI entry point for gunicorn: `crm_gateway.wsgi:app`. Reads the settings (failing fast when
one is missing) and builds the app; nothing connects until the first request."""
from __future__ import annotations

import os

from crm_gateway.app import create_app
from crmkit import logs

logs.configure("gateway", os.environ.get("LOG_LEVEL", "INFO"))
app = create_app()
