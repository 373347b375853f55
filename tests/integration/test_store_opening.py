"""Processes opening a new store at once: `tocsin serve --workers N` starts N servers and a projection
worker, each opening the store; on a new schema they all create its tables, functions and triggers, and
later, on first use, the tables of the replay checkpoints."""

from __future__ import annotations

import threading
from collections.abc import Callable

from adapters.store.event_store import TocsinStore
from replay.checkpoints.storage import ensure_tables, list_checkpoints


def _all_at_once(action: Callable[[], object], times: int = 6) -> tuple[list, list[Exception]]:
    """`action` in `times` threads released together, each with its own connections: PostgreSQL sees what
    it would see from as many processes. What they returned, and how they failed."""
    results: list = []
    failures: list[Exception] = []
    start = threading.Barrier(times)

    def run() -> None:
        try:
            start.wait()
            results.append(action())
        except Exception as error:  # noqa: BLE001 - reported by the test, with every other failure
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results, failures


def test_stores_opened_at_once_on_a_new_schema_all_open(settings):
    opened, failures = _all_at_once(lambda: TocsinStore(settings, settings.database_url))
    try:
        assert not failures, failures
        assert len(opened) == 6
        with opened[0].connect() as conn:  # and the store they opened is whole
            triggers = conn.execute(
                "SELECT count(*) AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT t.tgisinternal",
                (settings.schema,),
            ).fetchone()["n"]
        assert triggers >= 4
    finally:
        for store in opened:
            store.close()


def test_replay_checkpoint_tables_created_at_once_by_several_processes(settings):
    store = TocsinStore(settings, settings.database_url)
    try:
        _, failures = _all_at_once(lambda: ensure_tables(store))
        assert not failures, failures
        assert list_checkpoints(store) == []
    finally:
        store.close()
