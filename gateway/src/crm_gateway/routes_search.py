"""Customer search: /api/v1/search/customers → ContactsService.SearchCustomers."""
from __future__ import annotations

from crm_gateway.routing import Route

ROUTES: list[Route] = []
