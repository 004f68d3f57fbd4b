"""What the sales service does, one module per aggregate. A write takes the unit of work first and
everything else by keyword; it never opens, commits or rolls back a transaction and never calls
another service (the servicer's `prepare` step does that before the transaction). A read takes a
session the same way."""
