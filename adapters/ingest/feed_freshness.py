"""When Tocsin last heard from NexSIS: what the dashboard shows beside « En direct ».

« En direct » only says that the browser is connected to Tocsin. A mayor must also know whether NexSIS
messages still arrive: a stopped feed (exchange platform down, ingester stopped, stream deleted) looks
exactly like a quiet night. The last arrival is the latest of: an event recorded (the audit chain's
last link, stamped in the inserting transaction), a NATS batch committed (the positions move on
duplicates too) and a message quarantined. The first and last are read at an index's end, the positions
hold a row per stream: constant cost whatever the length of the history. Only links of events from a
message count (`message_hash`): the platform's own events, such as the directory's, are not NexSIS
arriving, and the views do not fold them.

Fresh arrivals do not make fresh figures: the dashboard's figures, map and list come from the views,
which a projection worker folds. If it stops (or the views are being rebuilt), messages keep arriving
while the figures stand still, so the state also says since when the oldest event the views have not
folded has been waiting.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.sql import SQL

from adapters import metrics
from adapters.store.event_store import TocsinStore
from domain.local_time import PARIS, format_local

VIEWS_LATE_AFTER = 30.0  # seconds; the live lag is a few tens of milliseconds when the worker runs

_LAST_RECEIVED = (
    "SELECT greatest("
    # The last link of a NexSIS message's event: the platform's own acts (alerts…) have no message.
    " (SELECT chained_at FROM {chain} WHERE message_hash IS NOT NULL ORDER BY position DESC LIMIT 1),"
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


def seed_last_received(store: TocsinStore) -> None:
    """Start the metric of the last arrival where the store stands, once, when a process that ingests
    starts: a restart must not look like a feed that stopped (or never started)."""
    last = last_received(store)
    if last is not None:
        metrics.note_received(last.timestamp())


def waiting_since(store: TocsinStore, views_position: int) -> datetime | None:
    """When the oldest event the views have not folded yet was recorded; None when they hold every event."""
    query = SQL("SELECT chained_at FROM {} WHERE notification_id > %s AND message_hash IS NOT NULL"
                " ORDER BY notification_id LIMIT 1").format(store.table("tocsin_chain"))
    with store.connect() as conn:
        row = conn.execute(query, (views_position,)).fetchone()
    return row["chained_at"] if row else None


def freshness(last: datetime | None, now: datetime, quiet_after: float, waiting: datetime | None = None,
              late_after: float = VIEWS_LATE_AFTER) -> dict:
    """What a client needs to say how fresh the feed and the figures are: the last arrival, whether it is
    older than the quiet delay, and since when events wait for the views (the client counts the ages
    itself, so that they keep going between two updates)."""
    return {
        "last_received_at": _iso(last),
        "now": now.isoformat(),  # the server's clock, so that a client with a wrong clock still counts right
        "quiet_after_seconds": quiet_after,
        "quiet": last is None or (now - last).total_seconds() > quiet_after,
        "views_waiting_since": _iso(waiting),
        "views_late_after_seconds": late_after,
        "views_late": waiting is not None and (now - waiting).total_seconds() > late_after,
        # As people read them: the platform's own times, in Paris time, stated.
        "last_received_text": format_local(last, PARIS, seconds=True, never="jamais"),
        "views_waiting_since_text": format_local(waiting, PARIS, seconds=True) if waiting else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
