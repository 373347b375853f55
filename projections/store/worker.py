"""Keeping the views up to date: the live worker, catching up from any position, in batches.

Each step locks the tracking rows of the views it runs, takes the views at the lowest position (the
others wait until it joins them, so they merge into one pass), reads the next page of events, folds
it with `projections.fold.fold_batch`, and writes the rows and the new positions in one transaction.

The fold needs each touched case's state as of the position. The worker keeps the states it folded
in memory; a case it has not seen (after a restart, an eviction, or a position moved by another
worker) is folded again from its own events in the store, which are the truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg.types.json import set_json_loads

from adapters import metrics
from adapters.store.codec import CaseEvent, EventDecoder
from adapters.store.event_store import TocsinStore
from projections.fold import CaseEntry, fold_batch, fold_history
from projections.registry import VIEWS, View
from projections.store.view_store import (
    EVENTS_TABLE,
    advance,
    announce,
    ensure_tables,
    head,
    lock_positions,
    read_history,
    read_page,
    write_changes,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
CACHE_SIZE = 300_000  # cases kept folded in memory (a few kB each)


def connect(store: TocsinStore) -> psycopg.Connection:
    """A connection of the worker's own, not one from the store's pool: it holds its tracking rows'
    locks for a whole batch, and a rebuild holds it for minutes (its advisory lock, its swap)."""
    conn = psycopg.connect(store.database_url, autocommit=True)
    set_json_loads(orjson.loads, conn)
    return conn


class LeadershipLost(Exception):
    """The lock that makes this worker the one that leads ended with its session."""


class StateCache:
    """Folded case states, valid as of `position` only. `complete`: every case with an event up to
    `position` is here (the cache was filled from position 0 and never trimmed)."""

    def __init__(self, max_entries: int = CACHE_SIZE) -> None:
        self.max_entries = max_entries
        self.entries: dict[UUID, CaseEntry] = {}
        self.position: int | None = None
        self.complete = False

    def reset(self, position: int | None) -> None:
        self.entries = {}
        self.position = position
        self.complete = position == 0

    def touched(self, originator_ids: Sequence[UUID]) -> None:
        """Move recently used cases to the end, so trimming drops the least recently used."""
        entries = self.entries
        for oid in originator_ids:
            entries[oid] = entries.pop(oid)
        if len(entries) > self.max_entries:
            keep = int(self.max_entries * 0.8)
            self.entries = dict(islice(entries.items(), len(entries) - keep, None))
            self.complete = False


class ProjectionWorker:
    """Runs `views` (live tables, or with `shadow=True` the tables a rebuild is writing)."""

    def __init__(
        self, store: TocsinStore, views: Sequence[View] = VIEWS, *, batch_size: int = BATCH_SIZE,
        cache_size: int = CACHE_SIZE, shadow: bool = False, conn: psycopg.Connection | None = None,
        on_commit: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.store = store
        self.schema = store.settings.schema
        self.views = [v for v in VIEWS if v in views]
        self.batch_size = batch_size
        self.shadow = shadow
        self.decoder = EventDecoder(store.mapper)
        self.cache = StateCache(cache_size)
        # Told {schema, views, position} after each committed batch: the "views changed" signal for readers
        # NOTIFY does not reach (adapters/nats/signal.py).
        self.on_commit = on_commit
        self._owns_conn = conn is None
        self.conn = conn if conn is not None else connect(store)
        ensure_tables(self.conn, self.schema)

    def close(self) -> None:
        if self._owns_conn:
            self.conn.close()

    def __enter__(self) -> ProjectionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def step(self) -> int:
        """Process one batch of the views that are furthest behind; the number of events consumed."""
        started = time.perf_counter()
        tracked = {v.tracking(shadow=self.shadow): v for v in self.views}
        try:
            with self.conn.transaction():
                positions = lock_positions(self.conn, self.schema, list(tracked))
                if len(positions) != len(tracked):
                    raise RuntimeError(f"suivi manquant pour : {', '.join(sorted(set(tracked) - set(positions)))}")
                lowest = min(positions.values())
                group = [tracked[t] for t, p in positions.items() if p == lowest]
                ahead = [p for p in positions.values() if p > lowest]
                rows = read_page(self.conn, self.schema, lowest, self.batch_size, min(ahead) if ahead else None)
                if not rows:
                    if not ahead:  # every view has folded every event
                        self._caught_up(group, lowest)
                    return 0
                events = self.decoder.decode(rows)
                self._warm_up(events, lowest)
                changes = fold_batch(events, self.cache.entries)
                write_changes(self.conn, self.schema, group, changes, shadow=self.shadow)
                last = rows[-1][0]
                newest = max((e.recorded_at for e in events), default=None)
                advance(
                    self.conn, self.schema, [v.tracking(shadow=self.shadow) for v in group], last,
                    len(rows), time.perf_counter() - started, newest,
                )
                if not self.shadow:  # delivered at commit: readers (the live stream) may read the rows now
                    announce(self.conn, self.schema, group, last)
                    # Counted in the transaction, but a page short of a batch, with no view ahead, is the end:
                    # no need to ask for the head then.
                    behind = 0 if len(rows) < self.batch_size and not ahead else head(self.conn, self.schema) - last
        except BaseException:
            self.cache.reset(None)  # the fold may have moved past what was committed
            raise
        self.cache.position = last
        self.cache.touched(list(changes.rows))
        if self.shadow:
            for view in group:
                metrics.REBUILD_POSITION.labels(view.name).set(last)
        else:
            self._advanced(group, last, len(rows), behind, newest)
        if self.on_commit is not None and not self.shadow:
            self.on_commit({"schema": self.schema, "views": [v.name for v in group], "position": last})
        return len(rows)

    def _caught_up(self, views: Sequence[View], position: int) -> None:
        if self.shadow:
            return
        now = time.time()
        for view in views:
            metrics.VIEW_POSITION.labels(view.name).set(position)
            metrics.VIEW_LAG_EVENTS.labels(view.name).set(0)
            metrics.VIEW_LAG_SECONDS.labels(view.name).set(0)
            metrics.VIEW_CHECKED.labels(view.name).set(now)
            metrics.LEADER.labels("view", view.name).set(1)

    @staticmethod
    def _advanced(views: Sequence[View], position: int, events: int, behind: int, newest: Any) -> None:
        now = time.time()
        lag = max(0.0, now - newest.timestamp()) if behind and newest is not None else 0.0
        for view in views:
            metrics.VIEW_POSITION.labels(view.name).set(position)
            metrics.VIEW_EVENTS.labels(view.name).inc(events)
            metrics.VIEW_LAG_EVENTS.labels(view.name).set(max(0, behind))
            metrics.VIEW_LAG_SECONDS.labels(view.name).set(lag)
            metrics.VIEW_CHECKED.labels(view.name).set(now)
            metrics.LEADER.labels("view", view.name).set(1)

    def resign(self) -> None:
        """This process no longer keeps its views (it stops, or it failed)."""
        if not self.shadow:
            for view in self.views:
                metrics.LEADER.labels("view", view.name).set(0)

    def catch_up(self, max_seconds: float | None = None) -> int:
        """Process batches until every view has folded the whole store (or time is up)."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        total = 0
        while deadline is None or time.monotonic() < deadline:
            n = self.step()
            if not n:
                break
            total += n
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 1.0,
            still_leading: Callable[[], bool] | None = None) -> None:
        """Follow the store until `stop` is set: catch up, then wait for the store's NOTIFY. With
        `still_leading`, checked between waits, a worker that lost its lead stops with LeadershipLost."""
        # A dedicated connection: LISTEN belongs to a session, which a pooled connection is not.
        with psycopg.connect(self.store.database_url, autocommit=True) as listener:
            # The library NOTIFYs this channel in every transaction that records events.
            listener.execute(f'LISTEN "{EVENTS_TABLE}"')
            while not stop.is_set():
                while not stop.is_set() and self.step():
                    pass
                for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                    pass
                if still_leading is not None and not still_leading():
                    raise LeadershipLost("verrou des vues perdu")

    def _warm_up(self, events: list[CaseEvent], position: int) -> None:
        cache = self.cache
        if cache.position != position:
            cache.reset(position)
        if cache.complete:
            return
        cold = list({e.originator_id for e in events} - cache.entries.keys())
        if cold:
            history = self.decoder.decode(read_history(self.conn, self.schema, cold, position))
            fold_history(history, cache.entries)


def run_in_thread(store: TocsinStore, views: Sequence[View] = VIEWS,
                  **kwargs: Any) -> tuple[threading.Thread, threading.Event]:
    """Start a live worker in a daemon thread (for the HTTP app or the tests); set the event to stop."""
    stop = threading.Event()

    def target() -> None:
        while not stop.is_set():
            try:
                with ProjectionWorker(store, views, **kwargs) as worker:
                    try:
                        worker.run(stop)
                    finally:
                        worker.resign()
            except Exception:  # keep following: a transient database error must not end the views
                log.exception("projection worker failed, restarting in 1 s")
                stop.wait(1.0)

    thread = threading.Thread(target=target, name="tocsin-projections", daemon=True)
    thread.start()
    return thread, stop
