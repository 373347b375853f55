"""Where alerts are kept and found: their events in the event store, plus the policy's tracking tables.

Alerts are aggregates of the event store (domain.alert), written with the library's `save`, chained by
the audit trail like every event. To find them without reading the whole history, a partial index on
the events table covers the alert topics only; the alerts themselves are read through the repository.

The policy's own rows (its position in the store, the new cases counted per département and hour)
are written in the transaction that records its decisions (TocsinRecorder's `also`), so a crash
can neither decide twice nor count a case twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from adapters.store.event_store import TocsinStore, create_table_once
from domain.alert import Alert

ALERT_TOPIC_PREFIX = get_topic(Alert).replace(":Alert", ":Alert.")  # 'domain.alert:Alert.'
RAISED_TOPIC = ALERT_TOPIC_PREFIX + "AlertRaised"  # the class @event("AlertRaised") defines

TRACKING = "tocsin_alert_tracking"
WINDOWS = "tocsin_alert_windows"

_TABLES = [
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_alert_tracking (
        name text PRIMARY KEY,
        position bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_alert_windows (
        departement text NOT NULL,
        hour text NOT NULL,
        cases integer NOT NULL,
        PRIMARY KEY (departement, hour))""",
    # The policy's position moves from where it read, or the transaction fails (and its alerts with it):
    # in SQL, because the library pipelines the transaction that records events with these rows.
    """CREATE OR REPLACE FUNCTION {schema}.tocsin_alert_moved(n bigint) RETURNS bigint LANGUAGE plpgsql AS $$
    BEGIN
        IF n = 0 THEN
            RAISE EXCEPTION 'tocsin: alert policy position moved by another process'
                USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN n;
    END $$""",
]
# The platform's own acts (alerts, call-outs): every event that is not a NexSIS message's. Queries repeat
# the predicate word for word, so that the planner knows the index covers them.
OWN_ACTS = "topic NOT LIKE 'domain.case:%%'"
_INDEX = [  # run without parameters: '%' is not doubled there
    "CREATE INDEX IF NOT EXISTS tocsin_events_own_acts_idx ON {schema}.tocsin_events (notification_id)"
    " WHERE " + OWN_ACTS.replace("%%", "%"),
]


def ensure_tables(store: TocsinStore) -> None:
    create_table_once(store, TRACKING, _TABLES)
    create_table_once(store, "tocsin_events", _INDEX)


def table(store: TocsinStore, name: str) -> Composed:
    return SQL("{}.{}").format(Identifier(store.settings.schema), Identifier(name))


def head(conn: Any, store: TocsinStore) -> int:
    """The last notification id in the store (0 when empty)."""
    row = conn.execute(SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
        table(store, "tocsin_events"))).fetchone()
    return int(row[0] if not isinstance(row, dict) else next(iter(row.values())))


def alert_ids_after(conn: Any, store: TocsinStore, after: int, *, raised_only: bool = False,
                    limit: int | None = None) -> list[tuple[int, UUID, int]]:
    """(notification id, alert id, its version then) of the alert events after a position, in order."""
    where = OWN_ACTS + (" AND topic = %s" if raised_only else " AND topic LIKE 'domain.alert:Alert.%%'")
    query = SQL("SELECT notification_id, originator_id, originator_version FROM {} WHERE " + where
                + " AND notification_id > %s ORDER BY notification_id" + (" LIMIT %s" if limit else "")).format(
        table(store, "tocsin_events"))
    params: list[Any] = ([RAISED_TOPIC] if raised_only else []) + [after] + ([limit] if limit else [])
    with conn.cursor(row_factory=tuple_row) as cur:
        return [(int(n), oid, int(v)) for n, oid, v in cur.execute(query, params).fetchall()]


def existing(conn: Any, store: TocsinStore, ids: Sequence[UUID]) -> set[UUID]:
    """Which of these alerts were already raised."""
    if not ids:
        return set()
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(SQL("SELECT originator_id FROM {} WHERE originator_id = ANY(%s) AND originator_version = 1")
                           .format(table(store, "tocsin_events")), (list(ids),)).fetchall()
    return {r[0] for r in rows}


def get_alert(store: TocsinStore, alert_id: UUID) -> Alert | None:
    from eventsourcing.application import AggregateNotFoundError

    try:
        alert: Any = store.repository.get(alert_id)
    except AggregateNotFoundError:
        return None
    return alert if isinstance(alert, Alert) else None


def recent_alerts(store: TocsinStore, limit: int = 200) -> list[Alert]:
    """The most recently raised alerts, newest first."""
    ids = first_event_ids(store, RAISED_TOPIC, limit)
    return [a for a in (get_alert(store, i) for i in ids) if a is not None]


def first_event_ids(store: TocsinStore, topic: str, limit: int) -> list[UUID]:
    """The aggregates whose first event has this topic, most recent first."""
    query = SQL("SELECT originator_id FROM {} WHERE " + OWN_ACTS + " AND topic = %s"
                " ORDER BY notification_id DESC LIMIT %s").format(table(store, "tocsin_events"))
    with store.connect() as conn, conn.cursor(row_factory=tuple_row) as cur:
        return [r[0] for r in cur.execute(query, (topic, limit)).fetchall()]


def own_acts_after(conn: Any, store: TocsinStore, after: int, limit: int = 1000) -> list[tuple[int, UUID, str]]:
    """(notification id, aggregate id, topic) of the platform's own acts after a position, in order."""
    query = SQL("SELECT notification_id, originator_id, topic FROM {} WHERE " + OWN_ACTS
                + " AND notification_id > %s ORDER BY notification_id LIMIT %s").format(table(store, "tocsin_events"))
    with conn.cursor(row_factory=tuple_row) as cur:
        return [(int(n), oid, t) for n, oid, t in cur.execute(query, (after, limit)).fetchall()]
