"""Sales routes: /api/v1/leads, /opportunities, /quotes, ... → SalesService."""
from __future__ import annotations

from crm_gateway.routing import Route

ROUTES: list[Route] = []
