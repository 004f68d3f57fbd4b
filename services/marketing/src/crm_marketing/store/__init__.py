"""Persistence, one module per concern: `records` (campaigns, invitees, templates), `projection`
(the contacts marketing may mail and what it learned of their addresses), `sending` (waves, the
send log, links, consent jobs). Plain functions over a SQLAlchemy session; no rules here."""
