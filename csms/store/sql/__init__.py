"""The SQL store: the domain's store ports on SQLAlchemy async, for SQLite and PostgreSQL.

Call `open_store(config.database)` once at start-up: it creates the engine, migrates the schema to the
newest revision and returns the store; `await store.close()` at shutdown, after the batched writer stopped.
Direct methods each run in their own short session; `apply_batch` (called by `BatchedWriter`) writes a whole
batch in one database transaction with bulk statements.

One module per aggregate (`stations`, `tokens`, `transactions`, `reservations`, `message_log`, `api_keys`,
`device_model`), the batch writes (`batch`), and what they share written once: engine and paging (`base`,
`engine`) and row mapping (`rows`).
"""

from __future__ import annotations

from csms.store.sql.base import dialect_insert
from csms.store.sql.engine import make_engine
from csms.store.sql.store import SqlStore, open_store

__all__ = ["SqlStore", "dialect_insert", "make_engine", "open_store"]
