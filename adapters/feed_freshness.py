"""When Tocsin last heard from NexSIS: what the dashboard shows beside « En direct ».

« En direct » only says that the browser is connected to Tocsin. A mayor must also know whether NexSIS
messages still arrive: a stopped feed (exchange platform down, ingester stopped, stream deleted) looks
exactly like a quiet night. The last arrival is the latest of: an event recorded (the audit chain's
last link, stamped in the inserting transaction), a NATS batch committed (the positions move on
duplicates too) and a message quarantined. The first and last are read at an index's end, the positions
hold a row per stream: constant cost whatever the length of the history.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.sql import SQL

from adapters.event_store import TocsinStore

_LAST_RECEIVED = (
    "SELECT greatest("
    " (SELECT chained_at FROM {chain} ORDER BY position DESC LIMIT 1),"
    " (SELECT max(updated_at) FROM {positions}),"
    " (SELECT received_at FROM {quarantine} ORDER BY id DESC LIMIT 1)) AS last"
)


def last_received(store: TocsinStore) -> datetime | None:
    """When the last NexSIS message reached the store (accepted or quarantined; from NATS,
    duplicates too: an HTTP duplicate leaves no trace); None before any."""
    query = SQL(_LAST_RECEIVED).format(chain=store.table("tocsin_chain"), positions=store.table("tocsin_positions"),
                                       quarantine=store.table("tocsin_quarantine"))
    with store.connect() as conn:
        return conn.execute(query).fetchone()["last"]


def freshness(last: datetime | None, now: datetime, quiet_after: float) -> dict:
    """What a client needs to say how fresh the feed is: the last arrival, and whether it is older than
    the quiet delay (the client counts the age itself, so that it keeps going between two updates)."""
    age = None if last is None else max(0.0, (now - last).total_seconds())
    return {
        "last_received_at": None if last is None else last.isoformat(),
        "now": now.isoformat(),  # the server's clock, so that a client with a wrong clock still counts right
        "quiet_after_seconds": quiet_after,
        "quiet": age is None or age > quiet_after,
    }
