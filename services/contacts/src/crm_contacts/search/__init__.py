"""Customer search, the read model of this service's own events: `customer_search` (the index of
this process, fed by the outbox relay, rebuilt from the database, queried), `index_directory`
(the embedded index's ownership and clean-close markers) and `reindex` (the rebuild command)."""
