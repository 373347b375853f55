"""The directory's read tables (besides the seeded organisations, read from the reference in memory:
adapters.directory.seed): what the lookups read, written in the transaction of the events they come
from (TocsinRecorder's `also` hook), not by a projection worker.

Why in the same transaction: a grant must work on the very next request and a revocation must take effect
at once; a projection would add a lag between the event and its effect on access, and access is the one
thing that must not lag. Directory writes are rare acts of people (or one seeding), so the cost is nothing.
The tables are still derived: everything in them comes from the events (`adapters.directory.rebuild`).

Personal data (a person's name, email and telephones) is sealed (compressed and encrypted with the store's
key) in `contact`; people are found by `email_key`, an HMAC of the normalised email under a key derived
from the store's, not the email itself.

Every write also notifies CHANNEL, on which each server process's lookup cache listens
(adapters.directory.lookups): a revocation reaches every process when its transaction commits.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from adapters.store.event_store import TocsinStore, create_table_once

ORGANISATIONS = "tocsin_directory_organisations"
PEOPLE = "tocsin_directory_people"
HABILITATIONS = "tocsin_directory_habilitations"
INVITATIONS = "tocsin_directory_invitations"
SEEDS = "tocsin_directory_seeds"
DUTIES = "tocsin_directory_duties"
PUSH_SUBSCRIPTIONS = "tocsin_directory_push_subscriptions"

_CREATE = [
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_directory_organisations (
        id text PRIMARY KEY,
        kind text NOT NULL,
        name text NOT NULL,
        level text NOT NULL,
        code text NOT NULL,
        siret text,
        nexsis_id text,
        seeded boolean NOT NULL DEFAULT false)""",
    # Which reference data the directory was seeded from (adapters.directory.seed): the seeded organisations
    # themselves are read from that reference, in memory, not from the organisations table.
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_directory_seeds (
        reference text PRIMARY KEY,
        organisations integer NOT NULL,
        seeded_at timestamptz NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS tocsin_directory_organisations_territory_idx"
    " ON {schema}.tocsin_directory_organisations (level, code)",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_directory_people (
        id text PRIMARY KEY,
        email_key bytea NOT NULL UNIQUE,
        contact bytea NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_directory_habilitations (
        id text PRIMARY KEY,
        person_id text NOT NULL,
        organisation_id text NOT NULL,
        role text NOT NULL,
        position text,
        granted_by text,
        granted_at timestamptz NOT NULL,
        until timestamptz,
        revoked_at timestamptz)""",
    "CREATE INDEX IF NOT EXISTS tocsin_directory_habilitations_person_idx"
    " ON {schema}.tocsin_directory_habilitations (person_id)",
    "CREATE INDEX IF NOT EXISTS tocsin_directory_habilitations_organisation_idx"
    " ON {schema}.tocsin_directory_habilitations (organisation_id)",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_directory_invitations (
        token_sha256 bytea PRIMARY KEY,
        id text NOT NULL,
        email_key bytea NOT NULL,
        organisation_id text NOT NULL,
        role text NOT NULL,
        position text,
        expires_at timestamptz NOT NULL,
        accepted_at timestamptz)""",
    # On-duty periods (domain.on_duty): [starts_at, ends_at), removed ones deleted.
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_directory_duties (
        id text PRIMARY KEY,
        organisation_id text NOT NULL,
        person_id text NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        set_by text)""",
    "CREATE INDEX IF NOT EXISTS tocsin_directory_duties_organisation_idx"
    " ON {schema}.tocsin_directory_duties (organisation_id, ends_at)",
    # Web Push subscriptions in force: the subscription (endpoint and keys) sealed like the contacts.
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_directory_push_subscriptions (
        id text PRIMARY KEY,
        person_id text NOT NULL,
        subscription bytea NOT NULL,
        subscribed_at timestamptz NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS tocsin_directory_push_subscriptions_person_idx"
    " ON {schema}.tocsin_directory_push_subscriptions (person_id)",
]


def ensure_tables(store: TocsinStore) -> None:
    create_table_once(store, ORGANISATIONS, _CREATE)


def channel(store: TocsinStore) -> str:
    """The NOTIFY channel of this store's directory (one per schema: tests share a database)."""
    return f"tocsin_directory_{store.settings.schema}"[:63]


def email_key(store: TocsinStore, email: str) -> bytes:
    """The lookup key of a normalised email: an HMAC under a key derived from the store's cipher key."""
    return hmac.new(_email_hmac_key(store.settings.resolved_cipher_key()), email.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=16)
def _email_hmac_key(cipher_key: str) -> bytes:
    return hashlib.sha256(b"tocsin-directory-email\0" + cipher_key.encode()).digest()
