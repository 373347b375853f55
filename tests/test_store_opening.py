"""Processes opening a new store at once: `tocsin serve --workers N` starts N servers and a projection
worker, each opening the store; on a new schema they all create its tables, functions and triggers, and
later, on first use, the tables of the replay checkpoints."""

from __future__ import annotations

import threading

from adapters.event_store import TocsinStore


def test_stores_opened_at_once_on_a_new_schema_all_open(settings):
    # Threads, each with its own connections: PostgreSQL sees what it sees from separate processes.
    opened: list[TocsinStore] = []
    failures: list[BaseException] = []
    start = threading.Barrier(6)

    def open_one() -> None:
        try:
            start.wait()
            opened.append(TocsinStore(settings, settings.database_url))
        except Exception as error:  # reported below, with every other failure
            failures.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
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
    from replay.checkpoints import ensure_tables, list_checkpoints

    store = TocsinStore(settings, settings.database_url)
    failures: list[BaseException] = []
    start = threading.Barrier(6)

    def create() -> None:
        try:
            start.wait()
            ensure_tables(store)
        except Exception as error:  # reported below, with every other failure
            failures.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures, failures
        assert list_checkpoints(store) == []
    finally:
        store.close()
