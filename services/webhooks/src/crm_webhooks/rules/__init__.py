"""Pure domain of outgoing webhooks: signatures, target addresses (SSRF), the retry schedule, the
event catalogue, payloads and subscription validation. No database, no network, no clock."""
