"""Accounts (companies): /api/v1/accounts."""
from __future__ import annotations

from crm_gateway.crud import Resource, crud_routes
from crm_gateway.routing import Route
from crm_gateway.shapes import ACCOUNT, ACCOUNT_INPUT, ACCOUNT_LIST_PARAMS, ACCOUNT_PAGE

ACCOUNTS = Resource("Account", "accounts", ACCOUNT, ACCOUNT_INPUT, ACCOUNT_PAGE, ACCOUNT_LIST_PARAMS)

ROUTES: list[Route] = crud_routes(ACCOUNTS)
