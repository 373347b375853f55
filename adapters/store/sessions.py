"""The dashboard's server-side sessions, and the OpenID Connect logins under way, shared by every server
process.

A session's id is a random secret that only the browser holds (in an HttpOnly cookie): the table keeps
its SHA-256, so that reading the table (a backup, a replica) gives nobody a session. A session is ended by
setting `ended_at` (a logout), never by trusting the browser to forget its cookie. Rows are dropped a day
after they expired or ended.

A login under way (between the redirect to the provider and its callback) keeps the state, nonce and PKCE
verifier here, under the hash of a random value held in the browser's cookie: the callback takes the row
once (DELETE … RETURNING), so a replayed callback finds nothing, and a callback reaching another browser
than the one that started the login finds nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.sql import SQL

from adapters.store.event_store import TocsinStore, create_table_once

SESSIONS = "tocsin_sessions"
LOGINS = "tocsin_login_requests"

_CREATE_SESSIONS = """CREATE TABLE IF NOT EXISTS {schema}.tocsin_sessions (
    id_hash text PRIMARY KEY,
    email text NOT NULL,
    name text,
    grant_id text,
    id_token text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz)"""

_CREATE_LOGINS = """CREATE TABLE IF NOT EXISTS {schema}.tocsin_login_requests (
    binding_hash text PRIMARY KEY,
    state text NOT NULL,
    nonce text NOT NULL,
    code_verifier text NOT NULL,
    redirect_uri text NOT NULL,
    expires_at timestamptz NOT NULL)"""


@dataclass(frozen=True)
class StoredSession:
    id_hash: str
    email: str
    name: str | None
    grant_id: str | None  # the habilitation chosen; None until the person has chosen one
    id_token: str | None  # the provider's ID token, as the hint of the logout at the provider
    expires_at: datetime


@dataclass(frozen=True)
class LoginRequest:
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


def ensure_tables(store: TocsinStore) -> None:
    create_table_once(store, SESSIONS, [_CREATE_SESSIONS])
    create_table_once(store, LOGINS, [_CREATE_LOGINS])


def open_session(store: TocsinStore, id_hash: str, *, email: str, name: str | None, grant_id: str | None,
                 id_token: str | None, expires_at: datetime) -> None:
    ensure_tables(store)
    table = store.table(SESSIONS)
    with store.connect() as conn, conn.transaction():
        conn.execute(SQL("INSERT INTO {} (id_hash, email, name, grant_id, id_token, expires_at)"
                         " VALUES (%s, %s, %s, %s, %s, %s)").format(table),
                     (id_hash, email, name, grant_id, id_token, expires_at))
        conn.execute(SQL("DELETE FROM {} WHERE coalesce(ended_at, expires_at) < now() - interval '1 day'")
                     .format(table))


def find_session(store: TocsinStore, id_hash: str) -> StoredSession | None:
    """The session, when it exists, has not expired and has not been ended."""
    found = session_state(store, id_hash)
    return found[0] if found is not None and found[1] is None else None


def session_state(store: TocsinStore, id_hash: str) -> tuple[StoredSession, str | None] | None:
    """The session, in force or not, and why not (`ended`, `expired`) or None; None: no such session."""
    ensure_tables(store)
    with store.connect() as conn:
        row = conn.execute(
            SQL("SELECT id_hash, email, name, grant_id, id_token, expires_at,"
                " CASE WHEN ended_at IS NOT NULL THEN 'ended' WHEN expires_at <= now() THEN 'expired' END AS why"
                " FROM {} WHERE id_hash = %s").format(store.table(SESSIONS)),
            (id_hash,)).fetchone()
    if row is None:
        return None
    why = row.pop("why")
    return StoredSession(**row), why


def choose_grant(store: TocsinStore, id_hash: str, grant_id: str) -> bool:
    """The habilitation the session acts under from now on (False: no such session in force)."""
    ensure_tables(store)
    with store.connect() as conn:
        cursor = conn.execute(
            SQL("UPDATE {} SET grant_id = %s WHERE id_hash = %s AND ended_at IS NULL AND expires_at > now()")
            .format(store.table(SESSIONS)), (grant_id, id_hash))
        return cursor.rowcount == 1


def end_session(store: TocsinStore, id_hash: str) -> StoredSession | None:
    """End the session for every server process; the session as it was (None: none in force)."""
    ensure_tables(store)
    with store.connect() as conn:
        row = conn.execute(
            SQL("UPDATE {} SET ended_at = now() WHERE id_hash = %s AND ended_at IS NULL AND expires_at > now()"
                " RETURNING id_hash, email, name, grant_id, id_token, expires_at").format(store.table(SESSIONS)),
            (id_hash,)).fetchone()
    return None if row is None else StoredSession(**row)


def expire_session(store: TocsinStore, id_hash: str, at: datetime) -> None:
    """Move a session's expiry (an operator cutting sessions short; the tests)."""
    ensure_tables(store)
    with store.connect() as conn:
        conn.execute(SQL("UPDATE {} SET expires_at = %s WHERE id_hash = %s").format(store.table(SESSIONS)),
                     (at, id_hash))


def put_login(store: TocsinStore, binding_hash: str, request: LoginRequest, expires_at: datetime) -> None:
    ensure_tables(store)
    table = store.table(LOGINS)
    with store.connect() as conn, conn.transaction():
        conn.execute(SQL("INSERT INTO {} (binding_hash, state, nonce, code_verifier, redirect_uri, expires_at)"
                         " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (binding_hash) DO NOTHING").format(table),
                     (binding_hash, request.state, request.nonce, request.code_verifier, request.redirect_uri,
                      expires_at))
        conn.execute(SQL("DELETE FROM {} WHERE expires_at < now()").format(table))


def take_login(store: TocsinStore, binding_hash: str) -> LoginRequest | None:
    """The login under way for this browser, removed as it is read: a second callback finds nothing."""
    ensure_tables(store)
    with store.connect() as conn:
        row = conn.execute(
            SQL("DELETE FROM {} WHERE binding_hash = %s RETURNING state, nonce, code_verifier, redirect_uri,"
                " expires_at > now() AS fresh").format(store.table(LOGINS)), (binding_hash,)).fetchone()
    if row is None or not row.pop("fresh"):
        return None
    return LoginRequest(**row)
