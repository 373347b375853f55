"""What the processes that follow the event store share (the alert policy, the crisis attacher): the next
page of events after a position, and the history of some cases up to a position, to fold the cases of a
page that are not in memory (a process keeps a bounded number of folded cases between pages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg.rows import tuple_row
from psycopg.sql import SQL

from adapters.store.codec import CaseEvent, EventDecoder
from adapters.store.event_store import TocsinStore

# The columns EventDecoder.decode reads, in its order.
_COLUMNS = "notification_id, originator_id, originator_version, topic, state"


def events_after(conn: Any, store: TocsinStore, after: int, limit: int) -> list[tuple]:
    """The next `limit` stored events after a position, in notification order (raw rows)."""
    query = SQL("SELECT " + _COLUMNS + " FROM {} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
                ).format(store.table("tocsin_events"))
    with conn.cursor(binary=True, row_factory=tuple_row) as cur:
        return cur.execute(query, (after, limit)).fetchall()


def case_histories(conn: Any, store: TocsinStore, decoder: EventDecoder, originator_ids: Sequence[UUID],
                   position: int) -> list[CaseEvent]:
    """The case events of these aggregates up to a position (included), in notification order."""
    query = SQL("SELECT " + _COLUMNS + " FROM {} WHERE originator_id = ANY(%s) AND notification_id <= %s"
                " ORDER BY notification_id").format(store.table("tocsin_events"))
    with conn.cursor(binary=True, row_factory=tuple_row) as cur:
        return decoder.decode(cur.execute(query, (list(originator_ids), position)).fetchall())
