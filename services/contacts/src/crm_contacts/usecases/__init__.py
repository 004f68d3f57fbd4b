"""What the contacts service does, one module per aggregate: `records` (accounts and contacts),
`tags`, `duplicates` (find and merge), `timeline` (interactions and other services' entries),
`custom_fields`, `segments` (saved filters and their members), `consents` (consent per purpose),
`spend` (yearly won-deal spend from sales' events). A write takes the unit of work first and
everything else by keyword; it never opens or commits a transaction and never calls another
service. A read takes a session."""
