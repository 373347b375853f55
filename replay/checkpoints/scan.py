"""Reading the log for checkpoints and replays: pages of events after a position, and the ranges of it
that may hold the events of a moment (the blocks, see replay/checkpoints/__init__.py).

Every page is read in one REPEATABLE READ snapshot (`snapshot_connection`), so a replay or a build sees
one consistent log while ingestion goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
from psycopg.sql import SQL

from adapters.store.codec import CaseEvent, EventDecoder
from replay.checkpoints.storage import FORMAT
from replay.event_log import KNOWN_AT, happened_at_sql

PAGE = 10_000


# Events after a position, with their recording time and "happened at" time (replay/event_log.py).
# The range is repeated on the chain: PostgreSQL does not carry an inequality across the join, and would
# otherwise walk the chain from its first link. The message is looked up per event (LATERAL … LIMIT 1,
# the key is unique): with a filter on its time, the planner otherwise hashed the whole message index
# for every page.
# Without the message times (`happened` NULL, no filter on it), reading is much faster: the replay from
# a checkpoint takes them from the events it decodes (event_log.happened_at), and decodes few of them.
EVENTS_AFTER = """
SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,
       c.chained_at AS recorded, {happened} AS happened
FROM {events} e
{messages}
LEFT JOIN {chain} c ON c.notification_id = e.notification_id AND c.notification_id > %(after)s
                    AND (%(upto)s::bigint IS NULL OR c.notification_id <= %(upto)s)
WHERE e.notification_id > %(after)s
  AND (%(upto)s::bigint IS NULL OR e.notification_id <= %(upto)s)
  AND (%(known)s::timestamptz IS NULL OR c.chained_at <= %(known)s)
  AND (%(happened)s::timestamptz IS NULL OR {happened} <= %(happened)s)
ORDER BY e.notification_id
LIMIT %(limit)s
"""
MESSAGE_TIMES = """LEFT JOIN LATERAL (SELECT sent_at, received_at FROM {messages}
                   WHERE originator_id = e.originator_id AND originator_version = e.originator_version
                   LIMIT 1) m ON true"""


def stream_events(store: Any, conn: psycopg.Connection, *, after: int = 0, upto: int | None = None,
                  known: datetime | None = None, happened: datetime | None = None,
                  decoder: EventDecoder | None = None, page: int = PAGE) -> Iterator[tuple[list[CaseEvent], list]]:
    """Pages of (decoded case events, raw rows) after `after`, in notification order, filtered by sense."""
    decoder = decoder or EventDecoder(store.mapper)
    for rows in raw_pages(store, conn, after=after, upto=upto, known=known, happened=happened, page=page):
        yield decoder.decode(r[:5] for r in rows), rows


def raw_pages(store: Any, conn: psycopg.Connection, *, after: int = 0, upto: int | None = None,
              known: datetime | None = None, happened: datetime | None = None, page: int = PAGE,
              message_times: bool = True) -> Iterator[list]:
    """Pages of undecoded rows (notification id, originator id, version, topic, state, recorded, happened)."""
    assert message_times or happened is None, "filtering on message times needs them"
    query = SQL(EVENTS_AFTER).format(
        events=store.table("tocsin_events"), chain=store.table("tocsin_chain"),
        messages=SQL(MESSAGE_TIMES).format(messages=store.table("tocsin_messages")) if message_times else SQL(""),
        happened=happened_at_sql("m", "c") if message_times else SQL("NULL::timestamptz"))
    params = {"upto": upto, "known": known, "happened": happened, "limit": page}
    while rows := conn.cursor(binary=True).execute(query, {**params, "after": after}).fetchall():
        after = rows[-1][0]
        yield rows


def scan_ranges(store: Any, conn: psycopg.Connection, after: int, at: datetime, sense: str
                ) -> list[tuple[int, int | None]]:
    """The notification id ranges (lo, hi] after `after` that may hold events of the subset as of `at`.

    Blocks whose earliest time in the sense is after `at` hold none of them and are skipped; past the
    last block (hi None) everything is read. Known at: recording times grow with the notification id,
    so nothing after the first skipped block can be in the subset either."""
    column = SQL("recorded_min") if sense == KNOWN_AT else SQL("happened_min")
    rows = conn.execute(SQL(
        "SELECT b.after_id, b.last_id, coalesce({column} <= %(at)s, true) AS wanted FROM {blocks} b"
        " JOIN {checkpoints} c ON c.id = b.checkpoint_id AND c.format = %(format)s"
        " WHERE b.last_id > %(after)s ORDER BY b.after_id").format(
        column=column, blocks=store.table("tocsin_replay_blocks"),
        checkpoints=store.table("tocsin_replay_checkpoints")), {"at": at, "after": after, "format": FORMAT}).fetchall()
    ranges: list[tuple[int, int | None]] = []

    def read(lo: int, hi: int | None) -> None:
        if ranges and ranges[-1][1] == lo:  # follows the previous range: one range
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))

    cursor = after
    for after_id, last_id, wanted in rows:
        if after_id != cursor:
            break  # not the block that follows (a gap, or a concurrent build's): read on from here
        if not wanted and sense == KNOWN_AT:
            return ranges
        if wanted:
            read(cursor, last_id)
        cursor = last_id
    read(cursor, None)
    return ranges


def snapshot_connection(store: Any) -> psycopg.Connection:
    conn = psycopg.connect(store.database_url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for every page
    conn.read_only = True
    return conn
