"""Marketing's pure domain: no database, no network, no clock (time comes in as an argument)."""
