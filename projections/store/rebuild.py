"""Rebuilding views from zero while the dashboard keeps reading the old ones.

1. New tables `<table>_rebuild` are created, with tracking rows `<name>@rebuild`.
2. Every event up to the current head is folded, in parallel: cases are split into partitions (by
   their id), each process folds its partition's events in one pass, writes its case rows, and
   returns its territory counters; sums are associative, so adding the partitions' counters gives
   exactly the single-pass result.
3. The new tables catch up with what was recorded meanwhile, in batches (`ProjectionWorker`).
4. In one transaction, under the live tracking rows' locks (so no live batch is half written), the
   last events are folded, the live tables are dropped and the new ones renamed in their place.
   Readers see the old views, then the new ones; never a half-built view.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain

import psycopg
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from adapters import metrics
from adapters.settings import Settings
from adapters.store.codec import CaseEvent, EventDecoder
from adapters.store.event_store import TocsinStore
from domain.case import EVENT_CLASS_BY_KIND
from projections.fold import Changes, fold_batch
from projections.memory import TerritoryRow
from projections.registry import CASE_LIST, REBUILD_SUFFIX, VIEWS, View
from projections.store.view_store import (
    EVENTS_TABLE,
    TRACKING_TABLE,
    StoreReader,
    announce,
    copy_cases,
    create_indexes,
    create_table,
    ensure_tables,
    head,
    lock_positions,
    rebuild_lock_key,
    write_territories,
)
from projections.store.worker import ProjectionWorker, connect

CASE_TOPICS = [get_topic(cls) for cls in EVENT_CLASS_BY_KIND.values()]
PAGE = 5000
PARALLEL_THRESHOLD = 50_000  # below this many events, starting processes costs more than it saves


class RebuildBusy(RuntimeError):
    pass


@dataclass
class RebuildReport:
    names: list[str]
    events: int = 0  # events folded from zero
    fold_seconds: float = 0.0
    partitions: int = 1
    caught_up: int = 0  # events recorded during the rebuild, folded before the swap
    total_seconds: float = 0.0
    position: int = 0
    # Where the time went: wall seconds per step, and per partition its fold, its copy and its CPU.
    steps: dict[str, float] = field(default_factory=dict)
    partition_timings: list[dict[str, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.total_seconds if self.total_seconds else 0.0


@dataclass(frozen=True)
class _Partition:
    settings: Settings
    database_url: str
    views: tuple[View, ...]
    upto: int
    index: int
    count: int


@dataclass
class _PartitionResult:
    changes: Changes
    events: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def rebuild(store: TocsinStore, views: Sequence[View], *, partitions: int | None = None) -> RebuildReport:
    """Rebuild `views` from zero and swap them in (see the module docstring)."""
    views = [v for v in VIEWS if v in views]
    if not views:
        raise ValueError("aucune projection à reconstruire")
    schema = store.settings.schema
    report = RebuildReport([v.name for v in views])
    started = time.perf_counter()
    with connect(store) as conn:
        ensure_tables(conn, schema)
        lock = rebuild_lock_key(schema)
        acquired = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (lock,)).fetchone()
        if not (acquired and acquired[0]):
            raise RebuildBusy("une reconstruction est déjà en cours sur ce schéma")
        swapped = False
        try:
            _prepare(conn, schema, views)
            upto = head(conn, schema)
            count = partitions or (min(os.cpu_count() or 1, 4) if upto >= PARALLEL_THRESHOLD else 1)
            report.partitions = count
            fold_started = step = time.perf_counter()
            report.steps["préparation"] = step - started

            def lap(name: str) -> None:
                nonlocal step
                report.steps[name] = time.perf_counter() - step
                step = time.perf_counter()

            _progress(views, 0, upto)
            results = _fold_all(store, views, upto, count)
            _progress(views, upto, upto)  # the partitions fold in other processes: progress by phase
            lap("plis en parallèle")
            report.events = sum(r.events for r in results)
            report.partition_timings = [r.timings for r in results]
            merged = results[0].changes
            for other in results[1:]:
                merged.merge(other.changes)
            _write_levels_and_indexes(store, conn, views, merged)
            lap("territoires et index")
            _set_rebuilt_position(conn, schema, views, upto, report.events)
            report.fold_seconds = time.perf_counter() - fold_started
            with ProjectionWorker(store, views, shadow=True, conn=conn) as worker:
                report.caught_up = worker.catch_up()
                report.caught_up += _swap(conn, schema, views, worker)
                swapped = True
            lap("rattrapage et bascule")
            report.position = worker.cache.position or upto
        finally:
            _progress(views, 0, 0)
            if not swapped:
                _discard(conn, schema, views)
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))
    report.total_seconds = time.perf_counter() - started
    return report


def _progress(views: Sequence[View], position: int, target: int) -> None:
    for view in views:
        metrics.REBUILD_POSITION.labels(view.name).set(position)
        metrics.REBUILD_TARGET.labels(view.name).set(target)


def _discard(conn: psycopg.Connection, schema: str, views: Sequence[View]) -> None:
    """A failed rebuild leaves nothing behind: the live views were never touched."""
    if conn.closed or conn.broken:
        return
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    with conn.transaction():
        for view in views:
            conn.execute(
                SQL("DROP TABLE IF EXISTS {}.{}").format(Identifier(schema), Identifier(view.table(shadow=True)))
            )
        conn.execute(
            SQL("DELETE FROM {}.{} WHERE name = ANY(%s)").format(Identifier(schema), Identifier(TRACKING_TABLE)),
            ([v.tracking(shadow=True) for v in views],),
        )


def _prepare(conn: psycopg.Connection, schema: str, views: Sequence[View]) -> None:
    with conn.transaction():
        for view in views:
            conn.execute(
                SQL("DROP TABLE IF EXISTS {}.{}").format(Identifier(schema), Identifier(view.table(shadow=True)))
            )
            create_table(conn, schema, view, shadow=True, indexes=False)
        conn.execute(
            SQL(
                "INSERT INTO {}.{} (name, position, events, started_at) SELECT unnest(%s::text[]), 0, 0, now()"
                " ON CONFLICT (name) DO UPDATE SET position = 0, events = 0, rate = NULL, last_event_at = NULL,"
                " started_at = now(), updated_at = now()"
            ).format(Identifier(schema), Identifier(TRACKING_TABLE)),
            ([v.tracking(shadow=True) for v in views],),
        )


def _fold_all(store: TocsinStore, views: Sequence[View], upto: int, count: int) -> list[_PartitionResult]:
    tasks = [
        _Partition(store.settings, store.database_url, tuple(views), upto, index, count) for index in range(count)
    ]
    if count == 1:
        return [fold_partition(tasks[0])]
    # Spawned, not forked: the parent holds connection pools and threads a fork would copy.
    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fold_partition, tasks))


def fold_partition(task: _Partition) -> _PartitionResult:
    """Fold one partition's events from zero; write its case rows; return its territory counters."""
    started = time.perf_counter()
    # Millions of long-lived objects: the cyclic GC would rescan them all, again and again, for
    # nothing (the fold creates no cycles worth collecting before the end).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _fold_partition(task, started)
    finally:
        if collecting:
            gc.enable()


def _fold_partition(task: _Partition, started: float) -> _PartitionResult:
    cpu = time.process_time()
    reader = StoreReader(StoreReader.environment(task.settings, task.database_url))
    decoder = EventDecoder(reader.mapper)
    schema = task.settings.schema
    result = _PartitionResult(Changes())
    # A connection of its own: this runs in a spawned process, which has no pool (nor should open one).
    with psycopg.connect(task.database_url) as conn:
        with conn.transaction():
            # Pages decoded one after the other, chained in C: no generator frame resumed per event.
            result.changes = fold_batch(chain.from_iterable(_pages(conn, schema, task, decoder, result)), {})
        folded = time.perf_counter()
        if CASE_LIST in task.views and result.changes.rows:
            with conn.transaction():
                copy_cases(conn, schema, CASE_LIST.table(shadow=True), result.changes.rows.values())
    result.changes.rows = {}  # written: do not send them back to the parent
    result.seconds = time.perf_counter() - started
    result.timings = {"fold": folded - started, "copy": started + result.seconds - folded,
                      "cpu": time.process_time() - cpu}
    return result


def _pages(
    conn: psycopg.Connection, schema: str, task: _Partition, decoder: EventDecoder, result: _PartitionResult
) -> Iterator[list[CaseEvent]]:
    query = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{}"
        " WHERE notification_id <= %s AND topic = ANY(%s)"
    ).format(Identifier(schema), Identifier(EVENTS_TABLE))
    params: list = [task.upto, CASE_TOPICS]
    if task.count > 1:
        # A case's events all land in the same partition: the fold of a case needs all of them.
        query += SQL(" AND get_byte(uuid_send(originator_id), 15) %% %s = %s")
        params += [task.count, task.index]
    query += SQL(" ORDER BY notification_id")
    with conn.cursor(name="tocsin_rebuild", binary=True) as cur:
        cur.itersize = PAGE
        cur.execute(query, params)
        while rows := cur.fetchmany(PAGE):
            result.events += len(rows)
            yield decoder.decode(rows)


def _write_levels_and_indexes(store: TocsinStore, conn: psycopg.Connection, views: Sequence[View],
                              changes: Changes) -> None:
    """The territory rows and the case list's indexes, written at the same time (separate tables):
    half the indexes on this connection after the territories, the other half on another one."""
    schema = store.settings.schema
    if CASE_LIST not in views:
        _write_levels(conn, schema, views, changes)
        return
    table = CASE_LIST.table(shadow=True)

    def other_half() -> None:
        # Its own connection for the few seconds of CREATE INDEX, beside the rebuild's (not the pool's:
        # the API and ingestion keep using those meanwhile).
        with connect(store) as other:
            create_indexes(other, schema, table, share=(1, 2))

    with ThreadPoolExecutor(1) as pool:
        building = pool.submit(other_half)
        _write_levels(conn, schema, views, changes)
        create_indexes(conn, schema, table, share=(0, 2))
        building.result()


def _write_levels(conn: psycopg.Connection, schema: str, views: Sequence[View], changes: Changes) -> None:
    with conn.transaction():
        for view in views:
            level = view.level
            if level is None:
                continue
            rows = {
                code: TerritoryRow(changes.deltas[level].get(code, {}), at)
                for code, at in changes.touched[level].items()
            }
            write_territories(conn, schema, view.table(shadow=True), rows, upsert=False)


def _set_rebuilt_position(conn: psycopg.Connection, schema: str, views: Sequence[View], upto: int, events: int) -> None:
    conn.execute(
        SQL("UPDATE {}.{} SET position = %s, events = %s, updated_at = now() WHERE name = ANY(%s)").format(
            Identifier(schema), Identifier(TRACKING_TABLE)
        ),
        (upto, events, [v.tracking(shadow=True) for v in views]),
    )


def _swap(conn: psycopg.Connection, schema: str, views: Sequence[View], worker: ProjectionWorker) -> int:
    """Fold the last events and put the new tables in place of the live ones, in one transaction."""
    caught_up = 0
    s = Identifier(schema)
    with conn.transaction():
        lock_positions(conn, schema, [v.tracking() for v in views])  # waits for a live batch on these views
        while n := worker.step():
            caught_up += n
        for view in views:
            live, shadow = view.table(), view.table(shadow=True)
            conn.execute(SQL("DROP TABLE IF EXISTS {}.{}").format(s, Identifier(live)))
            conn.execute(SQL("ALTER TABLE {}.{} RENAME TO {}").format(s, Identifier(shadow), Identifier(live)))
        swapped = conn.execute(
            SQL(
                "UPDATE {0}.{1} AS live SET position = r.position, events = r.events, last_event_at = r.last_event_at,"
                " rate = r.rate, updated_at = now(), rebuilt_at = now(), started_at = r.started_at,"
                " shape = (SELECT s.shape FROM unnest(%s::text[], %s::int[]) AS s(name, shape)"
                " WHERE s.name = live.name)"
                " FROM {0}.{1} AS r WHERE r.name = live.name || %s AND live.name = ANY(%s) RETURNING live.position"
            ).format(s, Identifier(TRACKING_TABLE)),
            ([v.tracking() for v in views], [v.shape for v in views], REBUILD_SUFFIX, [v.tracking() for v in views]),
        ).fetchall()
        conn.execute(
            SQL("DELETE FROM {}.{} WHERE name = ANY(%s)").format(s, Identifier(TRACKING_TABLE)),
            ([v.tracking(shadow=True) for v in views],),
        )
        # The live views moved on (the events folded during the swap): readers may read them now.
        announce(conn, schema, views, max((row[0] for row in swapped), default=0))
    return caught_up
