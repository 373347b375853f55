"""The views in PostgreSQL: their tables, their tracking rows, and reading the events they fold.

The views are those `projections.registry` declares, each with its own table and its own tracking
row (position = last notification id folded), always written in the same transaction as its rows:

    cases        tocsin_view_cases         one row per case (projections.case_list)
    commune      tocsin_view_commune       one row per territory touched at that level
    departement  tocsin_view_departement   (figures: projections.territory)
    zone         tocsin_view_zone
    national     tocsin_view_national

A rebuild writes `<table>_rebuild` and its tracking row `<name>@rebuild`, then swaps them in.

A batch that changes views announces it on `VIEWS_CHANNEL`, in the same transaction (delivered at
commit): readers such as the live stream read the case rows changed since the position they had.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

import orjson
import psycopg
from eventsourcing.application import Application
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.json import Jsonb

from adapters.settings import Settings
from adapters.store.event_store import APPLICATION_NAME, application_env
from domain.geography import Level
from projections.case_list import CASE_COLUMNS
from projections.fold import Changes
from projections.memory import TerritoryRow
from projections.registry import VIEWS, View
from projections.territory import add

TRACKING_TABLE = "tocsin_view_tracking"
EVENTS_TABLE = "tocsin_events"
VIEWS_CHANNEL = "tocsin_views"  # NOTIFY'd by every batch that changes the live views


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tuples(conn: psycopg.Connection[Any], query: Any, params: Any = None) -> list[tuple]:
    """Rows as tuples, whatever the connection's row factory (pooled connections use dicts)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()


# ---- tables -------------------------------------------------------------------------------------

_CASE_TYPES = {
    "case_id": "text NOT NULL", "originator_id": "uuid PRIMARY KEY", "opened_at": "timestamptz",
    "closed_at": "timestamptz", "last_message_at": "timestamptz", "updated_at": "timestamptz NOT NULL",
    "resources": "jsonb NOT NULL", "last_event_id": "bigint NOT NULL", "lat": "float8", "lon": "float8",
    **{c: "integer NOT NULL" for c in (
        "red", "yellow", "green", "black", "missing", "displaced", "evacuated", "resources_total",
        "resources_engaged", "severity", "messages", "corrections")},
}
_CASE_COLUMN_TYPES = [_CASE_TYPES.get(c, "text").split()[0] for c in CASE_COLUMNS]
# The case list is read by territory, newest first, and ranked by severity; the live stream reads the
# rows changed since a position (`last_event_id`: the last event folded into the row).
_CASE_INDEXES = (
    ("case_id",), ("commune", "opened_at"), ("departement", "opened_at"), ("zone", "opened_at"), ("opened_at",),
    ("departement", "severity"), ("zone", "severity"), ("severity",), ("last_event_id",),
)


def _create_cases(schema: str, table: str) -> Composed:
    columns = SQL(", ").join(
        SQL("{} {}").format(Identifier(c), SQL(_CASE_TYPES.get(c, "text"))) for c in CASE_COLUMNS
    )
    return SQL("CREATE TABLE IF NOT EXISTS {}.{} ({})").format(Identifier(schema), Identifier(table), columns)


def _create_level(schema: str, table: str) -> Composed:
    return SQL(
        "CREATE TABLE IF NOT EXISTS {}.{} (code text PRIMARY KEY, cases_total integer NOT NULL,"
        " cases_active integer NOT NULL, figures jsonb NOT NULL, updated_at timestamptz NOT NULL)"
    ).format(Identifier(schema), Identifier(table))


def create_table(conn: psycopg.Connection[Any], schema: str, view: View, *, shadow: bool = False,
                 indexes: bool = True) -> None:
    table = view.table(shadow=shadow)
    conn.execute(_create_cases(schema, table) if view.is_case_list else _create_level(schema, table))
    if view.is_case_list and indexes:
        create_indexes(conn, schema, table)


def _upgrade_cases(conn: psycopg.Connection[Any], schema: str, table: str) -> None:
    """A case list made before the columns and index the live stream reads: add them (the points of
    existing rows stay empty, read as the commune's point, until the case changes or a rebuild)."""
    columns = {r[0] for r in _tuples(
        conn, "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )}
    for column in ("lat", "lon"):
        if column not in columns:  # checked first: ALTER TABLE would lock the table even for nothing
            conn.execute(SQL("ALTER TABLE {}.{} ADD COLUMN {} float8").format(
                Identifier(schema), Identifier(table), Identifier(column)))
    # The catalogue itself, not pg_indexes: its pg_get_indexdef() may open tables being dropped elsewhere.
    indexed = _tuples(
        conn,
        "SELECT 1 FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]"
        " WHERE n.nspname = %s AND t.relname = %s AND a.attname = 'last_event_id'",
        (schema, table),
    )
    if not indexed:
        conn.execute(SQL("CREATE INDEX ON {}.{} (last_event_id)").format(Identifier(schema), Identifier(table)))


def create_indexes(conn: psycopg.Connection[Any], schema: str, table: str, *, share: tuple[int, int] = (0, 1)) -> None:
    """The case list's indexes; `share` (k, n): only every n-th one from the k-th, so that n connections
    can build them at the same time (CREATE INDEX locks allow each other)."""
    # Unnamed: PostgreSQL picks free names, so a rebuilt table's indexes never clash with the live ones.
    for columns in _CASE_INDEXES[share[0]::share[1]]:
        conn.execute(
            SQL("CREATE INDEX ON {}.{} ({})").format(
                Identifier(schema), Identifier(table), SQL(", ").join(map(Identifier, columns))
            )
        )


def ensure_tables(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the tracking table and the live views (empty, at position 0) when missing."""
    with conn.transaction():
        # Serialise concurrent first starts (CREATE INDEX is not IF NOT EXISTS when unnamed).
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.tocsin_views",))
        conn.execute(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (name text PRIMARY KEY, position bigint NOT NULL DEFAULT 0,"
                " events bigint NOT NULL DEFAULT 0, last_event_at timestamptz, updated_at timestamptz NOT NULL"
                " DEFAULT now(), rate double precision, started_at timestamptz, rebuilt_at timestamptz)"
            ).format(Identifier(schema), Identifier(TRACKING_TABLE))
        )
        existing = {
            r[0]
            for r in _tuples(
                conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            )
        }
        # The shape each view's rows were folded with (NULL: before shapes were recorded, i.e. shape 1).
        conn.execute(SQL("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS shape integer").format(
            Identifier(schema), Identifier(TRACKING_TABLE)))
        for view in VIEWS:
            if view.table() not in existing:
                create_table(conn, schema, view)
            elif view.is_case_list:
                _upgrade_cases(conn, schema, view.table())
        conn.execute(
            SQL("INSERT INTO {}.{} (name, shape) SELECT * FROM unnest(%s::text[], %s::int[]) ON CONFLICT DO NOTHING")
            .format(Identifier(schema), Identifier(TRACKING_TABLE)),
            ([v.tracking() for v in VIEWS], [v.shape for v in VIEWS]),
        )
        _refold_reshaped(conn, schema)


def _refold_reshaped(conn: psycopg.Connection[Any], schema: str) -> None:
    """Views folded with another shape than the registry's: emptied and put back at position 0, so the
    worker folds them again from the start (the other views keep their position and wait for them)."""
    shapes = dict(_tuples(conn, SQL("SELECT name, coalesce(shape, 1) FROM {}.{} WHERE name = ANY(%s)").format(
        Identifier(schema), Identifier(TRACKING_TABLE)), ([v.tracking() for v in VIEWS],)))
    for view in VIEWS:
        if shapes.get(view.tracking(), view.shape) == view.shape:
            continue
        conn.execute(SQL("DELETE FROM {}.{}").format(Identifier(schema), Identifier(view.table())))
        conn.execute(
            SQL("UPDATE {}.{} SET position = 0, events = 0, rate = NULL, last_event_at = NULL, updated_at = now(),"
                " shape = %s WHERE name = %s").format(Identifier(schema), Identifier(TRACKING_TABLE)),
            (view.shape, view.tracking()),
        )


def rebuild_lock_key(schema: str) -> str:
    return f"{schema}.tocsin_views.rebuild"


def rebuild_running(conn: psycopg.Connection[Any], schema: str) -> bool:
    """Is a rebuild holding its lock? (`@rebuild` tracking rows may outlive a killed rebuild.)"""
    acquired = _tuples(conn, "SELECT pg_try_advisory_lock(hashtext(%s))", (rebuild_lock_key(schema),))[0][0]
    if acquired:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (rebuild_lock_key(schema),))
    return not acquired


# ---- tracking -----------------------------------------------------------------------------------


def lock_positions(conn: psycopg.Connection[Any], schema: str, names: Sequence[str]) -> dict[str, int]:
    """Positions of these tracking rows, locked until the end of the transaction (one writer each)."""
    rows = _tuples(
        conn,
        SQL("SELECT name, position FROM {}.{} WHERE name = ANY(%s) ORDER BY name FOR UPDATE").format(
            Identifier(schema), Identifier(TRACKING_TABLE)
        ),
        (list(names),),
    )
    return {r[0]: r[1] for r in rows}


def advance(
    conn: psycopg.Connection[Any], schema: str, names: Sequence[str], position: int, events: int,
    seconds: float, last_event_at: datetime | None,
) -> None:
    """Move tracking rows to `position`; `rate` is a smoothed events per second of processing."""
    rate = events / seconds if seconds > 0 else None
    conn.execute(
        SQL(
            "UPDATE {}.{} SET position = %s, events = events + %s, updated_at = now(),"
            " last_event_at = COALESCE(%s, last_event_at),"
            " rate = CASE WHEN %s::float8 IS NULL THEN rate WHEN rate IS NULL OR %s >= 1000 THEN %s"
            " ELSE 0.8 * rate + 0.2 * %s END WHERE name = ANY(%s)"
        ).format(Identifier(schema), Identifier(TRACKING_TABLE)),
        (position, events, last_event_at, rate, events, rate, rate, list(names)),
    )


# ---- reading events -----------------------------------------------------------------------------


class StoreReader(Application):
    """The store's application as configured by its environment (same mapper: cipher, compressor,
    transcodings), without creating tables: for processes that only read events (rebuild partitions,
    the library's ProjectionRunner in the bench)."""

    name = APPLICATION_NAME

    @classmethod
    def environment(cls, settings: Settings, database_url: str) -> dict[str, str]:
        return {**application_env(settings, database_url), "CREATE_TABLE": "n"}


_SELECT = "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{}"


def read_page(
    conn: psycopg.Connection[Any], schema: str, after: int, limit: int, upto: int | None = None
) -> list[tuple]:
    """Events after `after` (and up to `upto`), in notification order."""
    query = SQL(_SELECT + " WHERE notification_id > %s").format(Identifier(schema), Identifier(EVENTS_TABLE))
    params: list[Any] = [after]
    if upto is not None:
        query += SQL(" AND notification_id <= %s")
        params.append(upto)
    query += SQL(" ORDER BY notification_id LIMIT %s")
    params.append(limit)
    with conn.cursor(binary=True, row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()


def read_history(conn: psycopg.Connection[Any], schema: str, originator_ids: Sequence[UUID], upto: int) -> list[tuple]:
    """Every event of these cases up to `upto`, in notification order (to refold cold cases)."""
    if not originator_ids:
        return []
    query = SQL(_SELECT + " WHERE originator_id = ANY(%s) AND notification_id <= %s ORDER BY notification_id").format(
        Identifier(schema), Identifier(EVENTS_TABLE)
    )
    with conn.cursor(binary=True, row_factory=tuple_row) as cur:
        return cur.execute(query, (list(originator_ids), upto)).fetchall()


def head(conn: psycopg.Connection[Any], schema: str) -> int:
    rows = _tuples(
        conn, SQL("SELECT max(notification_id) FROM {}.{}").format(Identifier(schema), Identifier(EVENTS_TABLE))
    )
    return rows[0][0] or 0


# ---- writing views ------------------------------------------------------------------------------


_ROW_VALUES = itemgetter(*CASE_COLUMNS)  # in C: a rebuild writes a row per case, 34 values each
_RESOURCES = CASE_COLUMNS.index("resources")


def _case_values(row: dict[str, Any]) -> list:
    values = list(_ROW_VALUES(row))
    values[_RESOURCES] = Jsonb(values[_RESOURCES], dumps=_dumps)
    return values


def upsert_cases(conn: psycopg.Connection[Any], schema: str, table: str, rows: Iterable[dict[str, Any]]) -> None:
    columns = SQL(", ").join(map(Identifier, CASE_COLUMNS))
    updates = SQL(", ").join(
        SQL("{0} = EXCLUDED.{0}").format(Identifier(c)) for c in CASE_COLUMNS if c != "originator_id"
    )
    query = SQL("INSERT INTO {}.{} ({}) VALUES ({}) ON CONFLICT (originator_id) DO UPDATE SET {}").format(
        Identifier(schema), Identifier(table), columns, SQL(", ").join(SQL("%s") * len(CASE_COLUMNS)), updates
    )
    with conn.cursor() as cur:
        cur.executemany(query, [_case_values(r) for r in rows])


def copy_cases(conn: psycopg.Connection[Any], schema: str, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Bulk load into a fresh (rebuild) table, in COPY's binary format (half the CPU of text, here)."""
    columns = SQL(", ").join(map(Identifier, CASE_COLUMNS))
    with conn.cursor() as cur:
        with cur.copy(
            SQL("COPY {}.{} ({}) FROM STDIN (FORMAT BINARY)").format(Identifier(schema), Identifier(table), columns)
        ) as copy:
            copy.set_types(_CASE_COLUMN_TYPES)
            for row in rows:
                copy.write_row(_case_values(row))


def apply_territories(conn: psycopg.Connection[Any], schema: str, table: str, level: Level, changes: Changes) -> None:
    """Add a batch's deltas to the touched territories of one level (read, add, upsert)."""
    touched = changes.touched[level]
    if not touched:
        return
    current = {
        code: TerritoryRow(figures, updated_at)
        for code, figures, updated_at in _tuples(
            conn,
            SQL("SELECT code, figures, updated_at FROM {}.{} WHERE code = ANY(%s)").format(
                Identifier(schema), Identifier(table)
            ),
            (list(touched),),
        )
    }
    for code, at in touched.items():
        row = current.get(code)
        if row is None:
            current[code] = TerritoryRow({}, at)
        elif at > row.updated_at:
            row.updated_at = at
    for code, delta in changes.deltas[level].items():
        add(current[code].figures, delta)
    write_territories(conn, schema, table, {code: current[code] for code in touched}, upsert=True)


def write_territories(
    conn: psycopg.Connection[Any], schema: str, table: str, rows: dict[str, TerritoryRow], *, upsert: bool
) -> None:
    values = [
        (code, r.figures.get("cases:total", 0), r.figures.get("cases:active", 0), _dumps(r.figures), r.updated_at)
        for code, r in rows.items()
    ]
    if not upsert:
        with conn.cursor() as cur:
            with cur.copy(
                SQL("COPY {}.{} (code, cases_total, cases_active, figures, updated_at) FROM STDIN").format(
                    Identifier(schema), Identifier(table)
                )
            ) as copy:
                for v in values:
                    copy.write_row(v)
        return
    with conn.cursor() as cur:
        cur.executemany(
            SQL(
                "INSERT INTO {}.{} (code, cases_total, cases_active, figures, updated_at)"
                " VALUES (%s, %s, %s, %s::jsonb, %s)"
                " ON CONFLICT (code) DO UPDATE SET cases_total = EXCLUDED.cases_total, cases_active ="
                " EXCLUDED.cases_active, figures = EXCLUDED.figures, updated_at = EXCLUDED.updated_at"
            ).format(Identifier(schema), Identifier(table)),
            values,
        )


def write_changes(conn: psycopg.Connection[Any], schema: str, views: Sequence[View], changes: Changes, *,
                  shadow: bool = False) -> None:
    """Write one batch's changes into `views` (live tables, or their rebuild tables)."""
    for view in views:
        table = view.table(shadow=shadow)
        if view.level is None:
            if changes.rows:
                upsert_cases(conn, schema, table, changes.rows.values())
        else:
            apply_territories(conn, schema, table, view.level, changes)


def announce(conn: psycopg.Connection[Any], schema: str, views: Sequence[View], position: int) -> None:
    """Tell listeners that `views` reached `position` (NOTIFY: delivered when the transaction commits,
    so a listener that reads then sees the rows)."""
    payload = _dumps({"schema": schema, "views": [v.name for v in views], "position": position})
    conn.execute("SELECT pg_notify(%s, %s)", (VIEWS_CHANNEL, payload))
