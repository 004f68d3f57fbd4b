"""Persistence, one module per kind of row: each record is its protobuf snapshot (`data`) plus the
columns queries filter, sort, aggregate and check visibility on, kept in step on every save.
Plain functions over a SQLAlchemy session; no rules. Hot statements are built once at import and
run with parameters: building `insert(t).values(...)` or `select(...).where(t.c.id == value)` per
call (coercing values, computing the cache key) cost more than the SQL they run. Placeholders are
never column names ("record_id", not "id")."""
