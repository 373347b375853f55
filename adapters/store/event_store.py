"""The event store: the eventsourcing library on PostgreSQL, extended with what ingestion needs.

One transaction records, together: the events, the message index that makes ingestion idempotent on
`distributionID`, the encrypted raw messages, the quarantined input, and the source position (e.g. a
NATS stream sequence). So a crash can never leave an event without its message, or a position ahead
of the events it covers.

The events, message index, raw messages and the record of messages a stream lost before their
ingestion are append-only in the database itself: a trigger refuses any UPDATE, DELETE or TRUNCATE,
whoever asks.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

import psycopg
from eventsourcing.application import Application, ProjectorFunction, Repository, project_aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from psycopg.conninfo import conninfo_to_dict
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from adapters.settings import Settings
from adapters.store.audit_schema import CREATE_STATEMENTS as AUDIT_CHAIN_STATEMENTS
from adapters.store.codec import Sealer
from domain.crisis import Crisis
from domain.logbook import LogBook, SituationReports

log = logging.getLogger(__name__)

APPLICATION_NAME = "Tocsin"  # the library derives table names from it: tocsin_events
APPEND_ONLY_TABLES = (
    "tocsin_events", "tocsin_messages", "tocsin_raw_messages", "tocsin_stream_gaps", "tocsin_case_parties",
)


class MessageRow(NamedTuple):
    """A row of the message index, its fields in the table's column order (a tuple: no per-field
    __setattr__ of a frozen dataclass, and the batch's columns are read straight off the rows)."""

    distribution_id: str
    originator_id: UUID
    originator_version: int
    case_id: str | None
    kind: str
    sender_id: str | None
    sent_at: datetime | None
    received_at: datetime
    sha256: bytes
    source: str


class PartyRow(NamedTuple):
    """A case's new party (domain.case_parties), written with the event that made it one: the parties are
    read at ingestion with the case's last version, without reading (and decrypting) its events."""

    originator_id: UUID
    party: str


class Position(NamedTuple):
    """Where ingestion of a source stands: the last sequence stored, and the SHA-256 of the bytes that
    sequence held, so that a source later found to hold other bytes there (a NATS stream recreated, or
    one that lost its end in a crash and numbered new messages again) is noticed instead of trusted."""

    source: str
    seq: int
    sha256: bytes | None = None


@dataclass(frozen=True)
class QuarantineRow:
    received_at: datetime
    source: str
    content_type: str | None
    sha256: bytes
    body: bytes  # already encrypted
    size: int
    reasons: list[dict]
    distribution_id: str | None
    sender_id: str | None


class ColumnArrayRecorder(PostgresApplicationRecorder):
    """The library's application recorder, inserting the stored events as binary column arrays.

    This is Tocsin's one override of a private method of the eventsourcing library other than the
    documented `_insert_events` hook, kept here alone so that a library upgrade has one place to check.
    Why: the library sends a batch as an array of composite values (in text, bytea escaped), which costs
    more than the rows themselves on ingestion's hot path; one `INSERT … SELECT * FROM unnest(%b::…[])`
    over column arrays sent in binary writes the same rows for much less.

    What it relies on in the library (pinned by tests/integration/test_recorder_contract.py):
    `insert_events` (with `enable_db_functions` off) calls `_insert_stored_events(curs, stored_events,
    **kwargs)` inside its transaction and then `_fetch_ids_after_insert_events`, which reads a
    `notification_id` per row from the cursor; `_lock_table(curs)` serialises writers so that
    notification ids commit in order, and listeners of `channel_name` are woken (as `_notify_channel(curs)`
    does; the NOTIFY is sent here, unprepared, see below). The override does what
    the library's `_insert_stored_events` does (lock, notify, insert returning the ids, in order), only
    with a different insert statement.

    The statements Tocsin sends in that transaction are never prepared (`prepare=False`, IN_PIPELINE).
    The library sends them in psycopg's pipeline mode, where a failed statement (a unique violation: a
    concurrent ingester recorded the same message first) makes the server skip the ones queued after it.
    psycopg prepares a statement at its sixth execution on a connection and records it as prepared when
    it sends it, without checking the result in that case: when that sixth execution was one of the
    skipped ones, the connection's cache names a statement the server never prepared, and the next batch
    on that connection fails with "prepared statement _pg3_N does not exist" (the rare failure of
    test_two_ingesters_at_once_record_every_message_exactly_once under load). These statements run once
    per batch: preparing saved nothing worth that. The library's own lock statement is prepared on its
    first execution (`prepare=True`), a path where psycopg does check the result.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "tocsin_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._insert_stored = SQL(
            "INSERT INTO {s}.{t} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::uuid[], %b::int8[], %b::text[], %b::bytea[]) RETURNING notification_id"
        ).format(s=Identifier(datastore.schema), t=Identifier(events_table_name))

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self._lock_table(curs)
        curs.execute(SQL("NOTIFY {0}").format(Identifier(self.channel_name)), prepare=False)  # _notify_channel's
        rows = [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]
        curs.execute(self._insert_stored, _columns(rows, 4), prepare=False)  # see IN_PIPELINE


class TocsinRecorder(ColumnArrayRecorder):
    """The library's application recorder, plus Tocsin's own tables in the same transactions.

    Extended through `_insert_events`, the hook the library documents for writing other rows in the
    transaction of the events (its searchable-timestamps example): ingestion passes the message index,
    raw messages, quarantined input and source position as keyword arguments of `insert_events`."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "tocsin_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(datastore.schema)
        self.sql_create_statements.extend(SQL(s).format(schema=schema) for s in _CREATE_STATEMENTS)
        for table in APPEND_ONLY_TABLES:
            self.sql_create_statements.append(
                SQL(
                    "CREATE OR REPLACE TRIGGER {trigger} BEFORE UPDATE OR DELETE OR TRUNCATE "
                    "ON {schema}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {schema}.tocsin_refuse_change()"
                ).format(trigger=Identifier(f"{table}_append_only"), schema=schema, table=Identifier(table))
            )
        self.sql_create_statements.extend(SQL(s).format(schema=schema) for s in AUDIT_CHAIN_STATEMENTS)
        s = schema
        # Whole batches as one statement each, over column arrays sent in binary: per-row statements
        # and the library's array of composite values (text, bytea escaped) cost more than the rows.
        self._insert_messages = SQL(
            "INSERT INTO {s}.tocsin_messages (distribution_id, originator_id, originator_version, case_id,"
            " kind, sender_id, sent_at, received_at, sha256, source) SELECT * FROM unnest(%b::text[],"
            " %b::uuid[], %b::int8[], %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[],"
            " %b::bytea[], %b::text[])"
        ).format(s=s)
        self._insert_raws = SQL(
            "INSERT INTO {s}.tocsin_raw_messages (sha256, body) SELECT * FROM unnest(%b::bytea[], %b::bytea[])"
            " ON CONFLICT DO NOTHING"
        ).format(s=s)
        self._insert_parties = SQL(
            "INSERT INTO {s}.tocsin_case_parties (originator_id, party) SELECT * FROM unnest(%b::uuid[], %b::text[])"
            " ON CONFLICT DO NOTHING"
        ).format(s=s)
        self._insert_quarantine = SQL(
            "INSERT INTO {s}.tocsin_quarantine (received_at, source, content_type, sha256, body, size, reasons,"
            " distribution_id, sender_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (sha256) DO NOTHING"
        ).format(s=s)
        self._upsert_position = SQL(
            "INSERT INTO {s}.tocsin_positions AS p (source, position, last_sha256, updated_at)"
            " VALUES (%s, %s, %s, now())"
            " ON CONFLICT (source) DO UPDATE SET position = GREATEST(p.position, EXCLUDED.position),"
            " last_sha256 = CASE WHEN EXCLUDED.position >= p.position THEN EXCLUDED.last_sha256 ELSE p.last_sha256 END,"
            " updated_at = now()"
        ).format(s=s)

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        messages: Sequence[MessageRow] = kwargs.get("messages", ())
        raws: Sequence[tuple[bytes, bytes]] = kwargs.get("raws", ())
        quarantined: Sequence[QuarantineRow] = kwargs.get("quarantined", ())
        parties: Sequence[PartyRow] = kwargs.get("parties", ())
        position: Position | None = kwargs.get("position")
        # IN_PIPELINE: never prepared (see `ColumnArrayRecorder.__doc__`).
        # Other concerns' rows written with their events (the directory's read tables, the alert policy's
        # position): callables of the cursor, which sends their statements unprepared.
        also: Sequence[Any] = kwargs.get("also", ())
        if messages:
            curs.execute(self._insert_messages, _columns(messages, 10), prepare=False)
        if parties:
            curs.execute(self._insert_parties, _columns(parties, 2), prepare=False)
        if raws:
            curs.execute(self._insert_raws, _columns(raws, 2), prepare=False)
        if quarantined:
            curs.executemany(
                self._insert_quarantine,
                [
                    (q.received_at, q.source, q.content_type, q.sha256, q.body, q.size, Jsonb(q.reasons),
                     q.distribution_id, q.sender_id)
                    for q in quarantined
                ],
            )
        if position is not None:
            curs.execute(self._upsert_position, position, prepare=False)
        unprepared = _Unprepared(curs)
        for write in also:
            write(unprepared)
        super()._insert_events(curs, stored_events, **kwargs)


class _Unprepared:
    """The events' cursor as the `also` writes get it: every statement sent unprepared, whatever the caller
    asks (IN_PIPELINE: see `ColumnArrayRecorder.__doc__`), so no concern's rows can break the pipeline."""

    def __init__(self, curs: Any) -> None:
        self._curs = curs

    def execute(self, query: Any, params: Any = None, **_: Any) -> Any:
        return self._curs.execute(query, params, prepare=False)


def _columns(rows: Sequence[tuple], width: int) -> list[list]:
    """Rows → one list per column, for `unnest(%b::type[], …)`."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


_CREATE_STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_messages (
        distribution_id text PRIMARY KEY,
        originator_id uuid NOT NULL,
        originator_version bigint NOT NULL,
        case_id text,
        kind text NOT NULL,
        sender_id text,
        sent_at timestamptz,
        received_at timestamptz NOT NULL,
        sha256 bytea NOT NULL,
        source text NOT NULL,
        UNIQUE (originator_id, originator_version))""",
    "CREATE INDEX IF NOT EXISTS tocsin_messages_case_idx ON {schema}.tocsin_messages (case_id)",
    # The cases with requests between services (domain.nexsis_requests.KINDS): a few among all messages.
    "CREATE INDEX IF NOT EXISTS tocsin_messages_nexsis_request_idx ON {schema}.tocsin_messages (originator_id)"
    " WHERE kind IN ('resourcesRequest', 'resourcesResponse', 'resourcesStatus', 'emsiConcours')",
    # Who may update each case (domain.case_parties), kept as the events that made them parties are written.
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_case_parties (
        originator_id uuid NOT NULL,
        party text NOT NULL,
        PRIMARY KEY (originator_id, party))""",
    # Stores made before it: each case's senders so far (the addressees were not indexed; a party's next
    # message addressed to them makes them parties). Done once: the table is empty only until then.
    """INSERT INTO {schema}.tocsin_case_parties (originator_id, party)
        SELECT DISTINCT originator_id, sender_id FROM {schema}.tocsin_messages
        WHERE case_id IS NOT NULL AND sender_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {schema}.tocsin_case_parties)
        ON CONFLICT DO NOTHING""",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_raw_messages (
        sha256 bytea PRIMARY KEY,
        body bytea NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_quarantine (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL,
        source text NOT NULL,
        content_type text,
        sha256 bytea NOT NULL UNIQUE,
        body bytea NOT NULL,
        size integer NOT NULL,
        reasons jsonb NOT NULL,
        distribution_id text,
        sender_id text,
        status text NOT NULL DEFAULT 'open',
        attempts integer NOT NULL DEFAULT 0,
        resolved_at timestamptz,
        resolution text)""",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_positions (
        source text PRIMARY KEY,
        position bigint NOT NULL,
        updated_at timestamptz NOT NULL)""",
    "ALTER TABLE {schema}.tocsin_positions ADD COLUMN IF NOT EXISTS last_sha256 bytea",  # stores made before it
    # Sequences a stream no longer held when ingestion reached them (adapters/stream_gaps.py).
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_stream_gaps (
        source text NOT NULL,
        stream_created timestamptz NOT NULL,
        first_seq bigint NOT NULL,
        last_seq bigint NOT NULL,
        detected_at timestamptz NOT NULL,
        PRIMARY KEY (source, stream_created, first_seq))""",
    """CREATE OR REPLACE FUNCTION {schema}.tocsin_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'Tocsin: la table % est en ajout seul, % refusé', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
]


# The URL's libpq options the library has no variable for (target_session_attrs, connect_timeout, sslmode…).
CONNINFO_OPTIONS = "POSTGRES_CONNINFO_OPTIONS"
_LIBRARY_PARAMS = ("dbname", "host", "port", "user", "password")


class TocsinPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, passing the rest of the URL's options to its pool: a multi-host URL
    with target_session_attrs=read-write must reach the primary, whichever host that is after a failover."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        options = json.loads(self.env.get(CONNINFO_OPTIONS) or "{}")
        kwargs = self.datastore.pool.kwargs
        if options and isinstance(kwargs, dict):  # the pool is not open yet: its connections get them
            kwargs.update(options)


def application_env(settings: Settings, database_url: str, *, create_tables: bool = True) -> dict[str, str]:
    """The eventsourcing library's environment for Tocsin's store."""
    params = conninfo_to_dict(database_url)
    options = {k: str(v) for k, v in params.items() if k not in _LIBRARY_PARAMS}
    return {
        "PERSISTENCE_MODULE": "adapters.store.event_store:TocsinPostgresFactory",
        CONNINFO_OPTIONS: json.dumps(options),
        "APPLICATION_RECORDER_TOPIC": "adapters.store.event_store:TocsinRecorder",
        "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        "POSTGRES_SCHEMA": settings.schema,
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "8",
        "POSTGRES_LOCK_TIMEOUT": "30",
        "CIPHER_TOPIC": "adapters.store.cipher:StoreCipher",
        "CIPHER_KEY": settings.resolved_cipher_key(),
        "COMPRESSOR_TOPIC": "adapters.store.codec:Lz4Compressor",
        "CREATE_TABLE": "y" if create_tables else "n",
    }


class TocsinStore(Application):
    """Tocsin's event store. Aggregates are read through `repository`; writes go through ingestion.

    The platform's own aggregates that grow all along a crisis (its log book, its situation reports, the
    crisis with its attached cases) are written by reading them first: without snapshots every write and
    read decrypts and applies the whole history of the aggregate. The library takes a snapshot every
    `snapshotting_intervals` versions when such an aggregate is saved (in `tocsin_snapshots`, encrypted
    like the events) and `snapshotted` then reads the latest snapshot at or before the version asked plus
    the events after it. A snapshot is keyed by its version, never by the time it was taken: an as-of read
    asks for the version its moment had, and a snapshot taken later at a version after that is not read.
    Snapshots are disposable (the events stay the truth): deleting them only makes reads slower.
    """

    name = APPLICATION_NAME
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {LogBook: 100, SituationReports: 50, Crisis: 100}

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        with creating_schema(database_url, settings.schema) as create_tables:
            # creates the tables if need be
            super().__init__(env=application_env(settings, database_url, create_tables=create_tables))
        warn_if_privileged(self)

    def construct_repository(self) -> Repository[UUID]:
        """Two repositories. `repository`, for every aggregate, does not look for snapshots: the aggregates
        that have none (cases, alerts…) would pay a query on each read for nothing. `snapshotted` starts
        from the latest snapshot: the readers of the aggregates of `snapshotting_intervals` use it. Both
        read the same state; only the cost differs."""
        self.snapshotted: Repository[UUID] = super().construct_repository()
        return Repository(event_store=self.events)

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None,
                      projector_func: ProjectorFunction[Any, Any] = project_aggregate) -> None:
        """The library's, reading the aggregate from its previous snapshot, and never failing the act being
        saved. Snapshots are taken within `save`, after the events were recorded: an IntegrityError from
        there (a snapshot already taken at that version by another process, holding the same state) would
        make a writer that retries on conflicts apply its act a second time, and any other failure (such as
        a role not granted the snapshots table) would report a recorded act as failed."""
        assert self.snapshots is not None, "snapshotting is enabled by snapshotting_intervals"
        try:
            aggregate = self.snapshotted.get(aggregate_id, version=version, projector_func=projector_func)
            self.snapshots.put([type(aggregate).Snapshot.take(aggregate)])
        except IntegrityError:
            log.debug("snapshot of %s at version %s already taken", aggregate_id, version)
        except PersistenceError as e:
            log.warning("snapshot of %s at version %s not taken (%s): reads stay correct, only slower",
                        aggregate_id, version, type(e).__name__)

    @property
    def tocsin_recorder(self) -> TocsinRecorder:
        assert isinstance(self.recorder, TocsinRecorder)
        return self.recorder

    @property
    def sealer(self) -> Sealer:
        compressor, cipher = self.mapper.compressor, self.mapper.cipher
        assert compressor is not None and cipher is not None, "the store is configured to compress and encrypt"
        return Sealer(compressor, cipher)

    def seal(self, data: bytes) -> bytes:
        """Compress then encrypt bytes that carry personal data (raw messages, quarantined input)."""
        return self.sealer(data)

    def unseal(self, data: bytes) -> bytes:
        sealer = self.sealer
        return sealer.compressor.decompress(sealer.cipher.decrypt(data))

    def connect(self) -> Any:
        """A pooled connection on Tocsin's schema (for reads and for Tocsin's own tables)."""
        return self.tocsin_recorder.datastore.get_connection()

    def table(self, name: str) -> Any:
        return SQL("{}.{}").format(Identifier(self.settings.schema), Identifier(name))


# Whether the session's role could undo the append-only guarantee: a superuser, or a member of the role
# that owns the events table (owners may drop its triggers). pg_has_role covers inherited membership.
_PRIVILEGE = """
SELECT r.rolsuper AS superuser, pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') AS owner
FROM pg_catalog.pg_roles r, pg_catalog.pg_class c
WHERE r.rolname = current_user AND c.oid = pg_catalog.to_regclass(pg_catalog.format('%%I.%%I', %s::text, %s::text))
"""


def privileged_role(conn: Any, schema: str) -> str | None:
    """"a superuser" or "the owner of its tables" when the session's role could undo the append-only
    guarantee of the schema's store; None for a role with only grants (or before the tables exist)."""
    row = conn.execute(_PRIVILEGE, (schema, APPEND_ONLY_TABLES[0])).fetchone()
    if row is None:
        return None
    superuser, owner = (row["superuser"], row["owner"]) if isinstance(row, dict) else row
    return "a superuser" if superuser else "the owner of its tables" if owner else None


def may_create(conn: Any, schema: str, table: str) -> bool:
    """Whether to run a table's creation statements: not when it exists and belongs to another role (the
    tables' owner created it; a role with only grants may not replace its triggers, even "if not exists")."""
    row = conn.execute(
        "SELECT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') AS owner FROM pg_catalog.pg_class c"
        " WHERE c.oid = pg_catalog.to_regclass(pg_catalog.format('%%I.%%I', %s::text, %s::text))",
        (schema, table),
    ).fetchone()
    return row is None or bool(row["owner"] if isinstance(row, dict) else row[0])


_created: set[tuple[str, str, str]] = set()
_created_lock = threading.Lock()


def create_table_once(store: TocsinStore, table: str, statements: Sequence[str]) -> None:
    """Run a table's creation statements once per process and schema (idempotent): serialised across
    processes by an advisory lock, and skipped when the table belongs to another role (may_create)."""
    key = (store.database_url, store.settings.schema, table)
    if key in _created:
        return
    with _created_lock:
        if key in _created:
            return
        schema = Identifier(store.settings.schema)
        with store.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (table,))
            if may_create(conn, store.settings.schema, table):
                for statement in statements:
                    conn.execute(SQL(statement).format(schema=schema))
        _created.add(key)


def warn_if_privileged(store: TocsinStore) -> str | None:
    """Log a warning when Tocsin runs as a superuser or as the owner of its tables, and say which.

    Not refused: the embedded database and the tests run as `postgres`, and a first start must create the
    tables. But a role that owns them can drop the append-only triggers: production runs as a role with
    only the grants of deploy/README.md."""
    with store.connect() as conn:
        which = privileged_role(conn, store.settings.schema)
    if which:
        log.warning("Tocsin runs as %s: that role could drop the append-only triggers of the event store. "
                    "In production, run as a role with only the grants listed in deploy/README.md.", which)
    return which


@contextmanager
def creating_schema(database_url: str, schema: str) -> Iterator[bool]:
    """The schema, created if need be, and held for creating its tables: one process at a time.

    Processes opening a new store at once (`tocsin serve --workers N`, two ingesters) would otherwise
    create its schema, tables, functions and triggers together, and PostgreSQL fails some of them: a
    duplicate key in its catalogue, or a deadlock between CREATE OR REPLACE FUNCTION and CREATE TRIGGER.
    A session lock, on a connection of its own: the library creates the tables on its pooled ones.

    Yields whether to create (or update) the tables: not when they exist and belong to another role. In
    production the tables' owner creates them once and Tocsin runs as a role with only grants on them
    (deploy/README.md), which may create neither a schema nor triggers, even "if not exists"."""
    # A dedicated session: the pool does not exist yet, and the session lock must end with this connection.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"tocsin-create-schema:{schema}",))
        found = conn.execute(
            "SELECT pg_catalog.to_regnamespace(pg_catalog.quote_ident(%s)) IS NOT NULL,"
            " pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')"
            " FROM (SELECT NULL) _ LEFT JOIN pg_catalog.pg_class c"
            " ON c.oid = pg_catalog.to_regclass(pg_catalog.format('%%I.%%I', %s::text, %s::text))",
            (schema, schema, APPEND_ONLY_TABLES[0]),
        ).fetchone()
        schema_exists, owns_tables = found if found is not None else (False, None)
        if not schema_exists:
            conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))
        yield owns_tables is not False  # no tables yet (None) or ours: create them; the lock ends with the connection


def open_store(settings: Settings | None = None) -> TocsinStore:
    """The store for these settings, starting the embedded PostgreSQL when none is configured."""
    from adapters.embedded import embedded_database_url

    settings = settings or Settings.from_env()
    url = settings.database_url or embedded_database_url(settings.data_dir)
    return TocsinStore(settings, url)
