"""What Tocsin's recorder relies on in the eventsourcing library, pinned so that an upgrade that changes it
fails here rather than in production.

`ColumnArrayRecorder` (adapters/store/event_store.py) overrides the library's private
`_insert_stored_events`, calls its private `_lock_table` and notifies its `channel_name` as `_notify_channel`
does; `TocsinRecorder`
extends the documented `_insert_events` hook. These tests check that those methods still exist with the
signatures the overrides assume, and that calling through the library's `insert_events` still does what
Tocsin expects: its hook receives the keyword arguments, the table is locked and listeners notified in
the transaction, notification ids come back in order, and a duplicate version raises the library's
IntegrityError (ingestion plans its batch again on it).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from adapters.store.event_store import ColumnArrayRecorder, Position, TocsinRecorder


def _parameters(method: Callable[..., object]) -> list[str]:
    return list(inspect.signature(method).parameters)


def test_the_private_methods_the_recorder_relies_on_keep_their_signatures() -> None:
    library = PostgresApplicationRecorder
    assert _parameters(library._insert_events) == ["self", "curs", "stored_events", "_"]
    assert _parameters(library._insert_stored_events) == ["self", "curs", "stored_events", "kwargs"]
    assert _parameters(library._lock_table) == ["self", "curs"]
    assert _parameters(library._notify_channel) == ["self", "curs"]
    assert _parameters(library._fetch_ids_after_insert_events) == ["self", "curs", "stored_events", "_"]
    # The overrides are where Tocsin expects them, and nowhere else.
    assert "_insert_stored_events" in vars(ColumnArrayRecorder)
    assert "_insert_events" in vars(TocsinRecorder)
    overridden = {
        name for cls in (ColumnArrayRecorder, TocsinRecorder) for name in vars(cls)
        if name.startswith("_") and not name.startswith("__") and callable(getattr(library, name, None))
    }
    assert overridden == {"_insert_stored_events", "_insert_events"}


def _events(n: int) -> list[StoredEvent]:
    oid = uuid.uuid4()
    return [StoredEvent(oid, version, "tests:Event", b"state-%d" % version) for version in range(1, n + 1)]


def test_insert_events_goes_through_the_hooks_and_returns_ids_in_order(services) -> None:
    store = services.store
    recorder = store.tocsin_recorder
    # With the library's database functions on, insert_events would bypass both hooks.
    assert recorder.datastore.enable_db_functions is False

    first = recorder.insert_events(_events(3), position=Position("contract", 7, b"x"))
    second = recorder.insert_events(_events(2))
    assert first is not None and second is not None
    ids = [*first, *second]
    assert ids == sorted(ids) and len(set(ids)) == 5
    with store.connect() as conn:
        # `_insert_events` received the keyword arguments, in the events' transaction.
        row = conn.execute(
            SQL("SELECT position, last_sha256 FROM {} WHERE source = %s").format(store.table("tocsin_positions")),
            ("contract",),
        ).fetchone()
        states = [
            bytes(r["state"])
            for r in conn.execute(
                SQL("SELECT state FROM {} WHERE notification_id = ANY(%s) ORDER BY notification_id").format(
                    store.table("tocsin_events")
                ),
                (ids,),
            )
        ]
    assert (row["position"], bytes(row["last_sha256"])) == (7, b"x")
    assert states == [b"state-1", b"state-2", b"state-3", b"state-1", b"state-2"]


def test_a_duplicate_version_raises_the_library_s_integrity_error(services) -> None:
    recorder = services.store.tocsin_recorder
    events = _events(1)
    recorder.insert_events(events)
    with pytest.raises(IntegrityError):
        recorder.insert_events(events)


def test_inserting_locks_the_events_table_and_notifies_listeners(services) -> None:
    store = services.store
    recorder = store.tocsin_recorder
    with psycopg.connect(store.database_url, autocommit=True) as listener:
        listener.execute(SQL("LISTEN {}").format(Identifier(recorder.channel_name)))
        with store.connect() as conn, conn.transaction(), conn.cursor(row_factory=tuple_row) as curs:
            recorder._insert_stored_events(curs, _events(2))
            assert [r[0] for r in curs.fetchall()]  # the notification ids, as _fetch_ids_after_insert_events reads them
            mode = curs.execute(
                "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE l.pid = pg_backend_pid() AND c.relname = 'tocsin_events' AND n.nspname = %s AND l.granted",
                (store.settings.schema,),
            ).fetchall()
            assert ("ExclusiveLock",) in mode
        notifies = listener.notifies(timeout=5, stop_after=1)
        assert [n.channel for n in notifies] == [recorder.channel_name]
