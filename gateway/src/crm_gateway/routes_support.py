"""Support routes: /api/v1/tickets, /kb, /csat ... → SupportService."""
from __future__ import annotations

from crm_gateway.routing import Route

ROUTES: list[Route] = []
