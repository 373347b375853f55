"""Tokens revoked before their expiry (a logout), shared by every process that serves the API.

A signed token stays valid until it expires wherever it was copied; logging out must end it for
everyone, so the revocation is written here, keyed by the token's id (its `jti`), and every server
process checks its copy of this list on each request. A row is useless once its token has expired:
it is dropped then.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.sql import SQL

from adapters.store.event_store import TocsinStore, create_table_once

TABLE = "tocsin_revoked_tokens"

_CREATE = """CREATE TABLE IF NOT EXISTS {schema}.tocsin_revoked_tokens (
    token_id text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now())"""



def ensure_table(store: TocsinStore) -> None:
    create_table_once(store, TABLE, [_CREATE])


def revoke(store: TocsinStore, token_id: str, expires_at: datetime) -> None:
    """Revoke a token until its expiry (again: no change), and forget the tokens expired since."""
    ensure_table(store)
    table = store.table(TABLE)
    with store.connect() as conn, conn.transaction():
        conn.execute(SQL("INSERT INTO {} (token_id, expires_at) VALUES (%s, %s) ON CONFLICT DO NOTHING").format(table),
                     (token_id, expires_at))
        conn.execute(SQL("DELETE FROM {} WHERE expires_at < now()").format(table))


def revoked(store: TocsinStore) -> set[str]:
    """The ids of the revoked tokens that have not expired yet."""
    ensure_table(store)
    with store.connect() as conn:
        rows = conn.execute(SQL("SELECT token_id FROM {} WHERE expires_at >= now()").format(store.table(TABLE)))
        return {row["token_id"] for row in rows}
