"""Pure sales domain: validation, state machines, calculations, rendering. No database, no
network, no clock (the time is always an argument)."""
