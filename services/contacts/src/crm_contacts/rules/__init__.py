"""Pure domain rules of the contacts service: no database, no network, no clock.

`records` normalizes and validates accounts and contacts, `visibility` says who sees and changes
which customer, `search_docs` maps records to search documents and queries, `timeline` maps
other services' events to timeline entries."""
