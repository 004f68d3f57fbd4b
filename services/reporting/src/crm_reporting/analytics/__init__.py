"""Analytics over the read models: the catalogue of what a custom query may name (`catalogue`), the
query builder that turns a `crm.reporting.v1.Query` into one SELECT with the caller's visibility
inside it, and its drill-down to the record ids behind a figure (`query`)."""
