"""The SQL and the Python definitions of "when it happened" (replay/event_log.py) agree on stored rows:
an event whose message has a sent time, one whose message has only its reception time, and one with
no message at all."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from psycopg.sql import SQL

from adapters.store.codec import EventDecoder
from adapters.store.event_store import MessageRow
from domain.case import Case
from replay.checkpoints.scan import raw_pages, snapshot_connection
from replay.event_log import happened_at, happened_at_sql

SENT = datetime(2024, 8, 13, 8, 21, tzinfo=UTC)
RECEIVED = datetime(2024, 8, 13, 8, 30, tzinfo=UTC)


def _record(store, case_id: str, provenance: dict, message: MessageRow | None = None) -> None:
    """One Case event stored as ingestion stores it (with its message index row, if any)."""
    oid = uuid4()
    fields: dict[str, Any] = {"originator_id": oid, "originator_version": 1, "timestamp": datetime.now(UTC),
                              "case_id": case_id, "facts": {}, "provenance": provenance}
    event = Case.Reported(**fields)
    messages = [message._replace(originator_id=oid)] if message else []
    store.recorder.insert_events([store.mapper.to_stored_event(event)], messages=messages)


def _message(distribution_id: str, sent_at: datetime | None, received_at: datetime) -> MessageRow:
    return MessageRow(distribution_id, uuid4(), 1, None, "createCase", "fr.fire.sis35", sent_at, received_at,
                      hashlib.sha256(distribution_id.encode()).digest(), "test")


def test_sql_and_python_agree(services) -> None:
    store = services.store
    _record(store, "sent", {"sent_at": SENT.isoformat(), "received_at": RECEIVED.isoformat()},
            _message("with-sent", SENT, RECEIVED))
    _record(store, "received", {"sent_at": None, "received_at": RECEIVED.isoformat()},
            _message("received-only", None, RECEIVED))
    _record(store, "none", {"sent_at": None, "received_at": None})

    query = SQL("""SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,
                          {happened} AS happened, {message_only} AS message_only, c.chained_at
                   FROM {events} e
                   LEFT JOIN {messages} m ON m.originator_id = e.originator_id
                                         AND m.originator_version = e.originator_version
                   LEFT JOIN {chain} c ON c.notification_id = e.notification_id
                   ORDER BY e.notification_id""").format(
        happened=happened_at_sql("m", "c"), message_only=happened_at_sql("m", chain=None),
        events=store.table("tocsin_events"), messages=store.table("tocsin_messages"),
        chain=store.table("tocsin_chain"))
    with store.connect() as conn:
        rows = conn.execute(query).fetchall()
    events = EventDecoder(store.mapper).decode(
        (r["notification_id"], r["originator_id"], r["originator_version"], r["topic"], r["state"]) for r in rows)
    assert [e.case_id for e in events] == ["sent", "received", "none"]
    sql_times = {r["notification_id"]: r["happened"] for r in rows}
    python_times = {e.notification_id: happened_at(e) for e in events}
    with_sent, received_only, without_message = rows

    assert sql_times[with_sent["notification_id"]] == python_times[with_sent["notification_id"]] == SENT
    assert sql_times[received_only["notification_id"]] == python_times[received_only["notification_id"]] == RECEIVED
    # Over the message index alone (playback, the bundle's choice of cases) the definition is the same.
    assert with_sent["message_only"] == SENT and received_only["message_only"] == RECEIVED
    # No message: the recording time, the chain's in SQL and the event's own stamp in Python; both are
    # taken at the commit.
    assert without_message["message_only"] is None
    assert sql_times[without_message["notification_id"]] == without_message["chained_at"]
    recorded = python_times[without_message["notification_id"]]
    assert recorded == events[2].recorded_at
    assert abs(without_message["chained_at"] - recorded) < timedelta(seconds=30)

    # The checkpoints read the same time with each event of the log.
    with snapshot_connection(store) as conn, conn.transaction():
        scanned = {r[0]: r[6] for page in raw_pages(store, conn) for r in page}
    assert scanned == sql_times
