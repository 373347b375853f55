"""The crisis attacher's own tables (adapters.crisis.attacher): its position in the event store, and what it
knows of every case, so that a crisis opened after cases arrived finds those already in its territory.

Both are written in the transaction that records the attacher's decisions (TocsinRecorder's `also`), so a
crash can neither attach twice nor forget a case. They are disposable: the history rebuilds them (its
position set back to 0; attaching by rule is idempotent, and a case detached by hand stays detached).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from adapters.store.event_store import TocsinStore, create_table_once

TRACKING = "tocsin_crisis_tracking"
CASES = "tocsin_crisis_cases"

_TABLES = [
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_crisis_tracking (
        name text PRIMARY KEY,
        position bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    # One row per case: where it lies (typed territories, domain.crisis.case_territories), its nature
    # family, when Tocsin first recorded it (the crisis rule's time) and whether it is an exercise's.
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_crisis_cases (
        originator_id uuid PRIMARY KEY,
        case_id text NOT NULL,
        first_recorded_at timestamptz NOT NULL,
        territories text[] NOT NULL,
        family text NOT NULL,
        exercise boolean NOT NULL DEFAULT false)""",
    "CREATE INDEX IF NOT EXISTS tocsin_crisis_cases_territories_idx ON {schema}.tocsin_crisis_cases"
    " USING gin (territories)",
    # The position moves from where it was read, or the transaction fails (and the attachments with it):
    # in SQL, because the library pipelines the transaction that records events with these rows.
    """CREATE OR REPLACE FUNCTION {schema}.tocsin_crisis_moved(n bigint) RETURNS bigint LANGUAGE plpgsql AS $$
    BEGIN
        IF n = 0 THEN
            RAISE EXCEPTION 'tocsin: crisis attacher position moved by another process'
                USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN n;
    END $$""",
]


@dataclass(frozen=True)
class KnownCase:
    originator_id: Any  # UUID
    case_id: str
    first_recorded_at: datetime
    territories: tuple[str, ...]
    family: str
    exercise: bool = False  # its first message was an exercise's (RC-DE status Exercise)


def ensure_tables(store: TocsinStore) -> None:
    create_table_once(store, TRACKING, _TABLES)



def start(conn: Any, store: TocsinStore, name: str) -> None:
    """The attacher's row, at the start of the history the first time (see the attacher's docstring)."""
    conn.execute(SQL("INSERT INTO {} (name, position) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING").format(
        store.table(TRACKING)), (name,))


def position(conn: Any, store: TocsinStore, name: str) -> int:
    row = conn.execute(SQL("SELECT position FROM {} WHERE name = %s").format(store.table(TRACKING)),
                       (name,)).fetchone()
    assert row is not None, "created by start()"
    return int(row[0])


def move(store: TocsinStore, name: str, after: int, to: int) -> tuple[Composed, Sequence[Any]]:
    """The statement that moves the position from `after` to `to`, failing when it is no longer at `after`."""
    return (SQL("WITH moved AS (UPDATE {} SET position = %s, updated_at = now() WHERE name = %s AND position = %s"
                " RETURNING 1) SELECT {}.tocsin_crisis_moved((SELECT count(*) FROM moved))").format(
                store.table(TRACKING), Identifier(store.settings.schema)),
            (to, name, after))


def upsert(store: TocsinStore, cases: Sequence[KnownCase]) -> tuple[Composed, Sequence[Any]]:
    """The statement that records what is known of these cases (the first recording time never moves)."""
    columns = list(zip(*((c.originator_id, c.case_id, c.first_recorded_at, "\x1f".join(c.territories), c.family,
                          c.exercise) for c in cases), strict=True))
    return (SQL("INSERT INTO {} AS k (originator_id, case_id, first_recorded_at, territories, family, exercise)"
                " SELECT o, c, f, string_to_array(t, E'\\x1f'), fam, x FROM unnest(%s::uuid[], %s::text[],"
                " %s::timestamptz[], %s::text[], %s::text[], %s::boolean[]) AS u(o, c, f, t, fam, x)"
                " ON CONFLICT (originator_id) DO UPDATE SET case_id = EXCLUDED.case_id,"
                " first_recorded_at = least(k.first_recorded_at, EXCLUDED.first_recorded_at),"
                " territories = EXCLUDED.territories, family = EXCLUDED.family").format(store.table(CASES)),
            [list(c) for c in columns])


def matching(conn: Any, store: TocsinStore, territory: str, since: datetime,
             families: Sequence[str], exercise: bool = False) -> list[tuple[str, datetime]]:
    """(case id, first recorded) of the known cases in a territory, first recorded at or after `since`, of
    one of these families (any when empty), exercise or not as the crisis: those a crisis opened now takes."""
    query = SQL("SELECT case_id, first_recorded_at FROM {} WHERE territories @> ARRAY[%s]::text[]"
                " AND first_recorded_at >= %s AND exercise = %s" + (" AND family = ANY(%s)" if families else "")
                + " ORDER BY first_recorded_at, case_id").format(store.table(CASES))
    params: list[Any] = [territory, since, exercise] + ([list(families)] if families else [])
    with conn.cursor(row_factory=tuple_row) as cur:
        return [(r[0], r[1]) for r in cur.execute(query, params).fetchall()]
