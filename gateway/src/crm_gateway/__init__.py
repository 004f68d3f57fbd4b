"""Shuniu CRM gateway: the only public surface, REST/JSON under /api/v1 translated to gRPC."""
