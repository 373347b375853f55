"""Projection benchmark: rebuild rate, the library's stock ProjectionRunner on a sample, live lag.

1. Setup (once, reused while its parameters do not change): N realistic Case events (default
   1,000,000, tests/benchmarks/projection_events.py) encrypted and compressed exactly as the store
   does, loaded with COPY into the schema `bench_projections`. Its time is reported apart.
2. Rebuild of the five views (case list, commune, département, zone, national) from zero, with the
   swap, as `tocsin projections rebuild all` does it: events/s over all N events.
3. The eventsourcing library's stock `ProjectionRunner` doing the same work (same pure fold, the same
   five views) with a `Projection` whose `process_event` updates the rows and its PostgreSQL tracking
   record in one transaction per event, as the library intends, on the first SAMPLE events.
4. Live: a worker process follows a fresh store while a producer records RATE events/s for SECONDS
   seconds; lag = time from the producer's commit to the moment every view's position covers it.

Run: `python -m tests.benchmarks` (all benches) or
     `python -m tests.benchmarks.bench_projections [N] [--sample 20000] [--rate 1000] [--seconds 20]`.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL, Identifier

from adapters.settings import Settings
from adapters.store.codec import CaseEvent
from adapters.store.event_store import TocsinStore
from domain.case import Case
from domain.case_state import CaseState
from projections.fold import CaseEntry, fold_batch
from projections.registry import NAMES, VIEWS
from projections.store.rebuild import CASE_TOPICS, rebuild
from projections.store.view_store import TRACKING_TABLE, StoreReader
from projections.territory import LEVELS, add
from tests.benchmarks import cpu_pace, database_url
from tests.benchmarks.projection_events import CrisisEvents, stored_state, topic_of
from tests.support.sql import first_row

GENERATOR_VERSION = "2"  # 2: event states compressed with LZ4 (the store's compressor), was zlib
SCHEMA = "bench_projections"
LIVE_SCHEMA = "bench_projections_live"
# Synthetic data only: a fixed key keeps the bench store readable from one run to the next.
CIPHER_KEY = base64.b64encode(b"tocsin-bench-projections-key-32b").decode()
COPY_CHUNK = 10_000


def bench_settings(schema: str) -> Settings:
    data = Path(tempfile.gettempdir()) / "tocsin-bench-projections"
    return Settings(database_url=database_url(), data_dir=data, schema=schema, cipher_key=CIPHER_KEY)


# ---- 1. setup -----------------------------------------------------------------------------------


def setup(events: int, seed: int = 1, processes: int = 2) -> tuple[float, bool]:
    """Load the bench store unless it already holds these events; (seconds, reused)."""
    url, marker = database_url(), f"{events}:{seed}:{GENERATOR_VERSION}"
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            found = conn.execute(
                SQL("SELECT value FROM {}.bench_meta WHERE key = 'events'").format(Identifier(SCHEMA))
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            found = None
        if found and found[0] == marker:
            return 0.0, True
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(SCHEMA)))
    started = time.perf_counter()
    TocsinStore(bench_settings(SCHEMA), url).close()  # creates the store's tables
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_load_partition, args=(events, seed, k, processes)) for k in range(processes)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        if w.exitcode:
            raise RuntimeError("bench setup failed")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SQL("VACUUM ANALYZE {}.tocsin_events").format(Identifier(SCHEMA)))
        conn.execute(SQL("CREATE TABLE {}.bench_meta (key text PRIMARY KEY, value text)").format(Identifier(SCHEMA)))
        conn.execute(SQL("INSERT INTO {}.bench_meta VALUES ('events', %s)").format(Identifier(SCHEMA)), (marker,))
    return time.perf_counter() - started, False


def _load_partition(events: int, seed: int, index: int, count: int) -> None:
    settings = bench_settings(SCHEMA)
    mapper = StoreReader(StoreReader.environment(settings, database_url())).mapper
    chunk: list[tuple] = []
    with psycopg.connect(database_url()) as conn:
        for event in CrisisEvents(events, seed=seed, partition=(index, count)):
            chunk.append((event.originator_id, event.version, topic_of(event), stored_state(mapper, event)))
            if len(chunk) == COPY_CHUNK:
                _copy_events(conn, SCHEMA, chunk)
                chunk = []
        if chunk:
            _copy_events(conn, SCHEMA, chunk)


def _copy_events(conn: psycopg.Connection, schema: str, rows: list[tuple], notify: bool = False) -> int:
    """Insert events as the library does (table locked so ids follow commit order), with COPY."""
    s = Identifier(schema)
    with conn.transaction():
        conn.execute(SQL("LOCK TABLE {}.tocsin_events IN EXCLUSIVE MODE").format(s))
        with conn.cursor() as cur:
            with cur.copy(
                SQL("COPY {}.tocsin_events (originator_id, originator_version, topic, state) FROM STDIN").format(s)
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        last = first_row(conn.execute(SQL("SELECT max(notification_id) FROM {}.tocsin_events").format(s)))[0]
        if notify:
            conn.execute('NOTIFY "tocsin_events"')
    return last


# ---- 2. rebuild ---------------------------------------------------------------------------------


def bench_rebuild(partitions: int | None) -> dict[str, Any]:
    store = TocsinStore(bench_settings(SCHEMA), database_url())
    try:
        report = rebuild(store, VIEWS, partitions=partitions)
        with psycopg.connect(database_url()) as conn:
            checks = _check_sums(conn, SCHEMA)
    finally:
        store.close()
    return {
        "events": report.events,
        "seconds": round(report.total_seconds, 2),
        "fold_seconds": round(report.fold_seconds, 2),
        "events_per_second": round(report.rate),
        "partitions": report.partitions,
        "steps": {name: round(seconds, 2) for name, seconds in report.steps.items()},
        "partition_timings": [{k: round(v, 2) for k, v in t.items()} for t in report.partition_timings],
        **checks,
    }


def _check_sums(conn: psycopg.Connection, schema: str) -> dict[str, Any]:
    """National = Σ zones = Σ départements = Σ communes, for every counter; cases = case rows."""
    sums = {}
    for level in LEVELS:
        total: dict[str, int] = {}
        for (figures,) in conn.execute(
            SQL("SELECT figures FROM {}.{}").format(Identifier(schema), Identifier(f"tocsin_view_{level.value}"))
        ):
            add(total, figures)
        sums[level.value] = total
    cases = first_row(conn.execute(SQL("SELECT count(*) FROM {}.tocsin_view_cases").format(Identifier(schema))))[0]
    national = sums["national"]
    return {
        "cases": cases,
        "sums_hold": all(s == national for s in sums.values()) and national.get("cases:total") == cases,
    }


# ---- 3. the library's stock ProjectionRunner -----------------------------------------------------


class StockViewsRecorder(PostgresTrackingRecorder):
    """The same five views, kept the library's way: one transaction per event, with its tracking."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        s = Identifier(datastore.schema)
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {}.stock_cases (originator_id uuid PRIMARY KEY, state jsonb NOT NULL,"
                " updated_at timestamptz, last_event_id bigint, row jsonb NOT NULL)").format(s),
            SQL("CREATE TABLE IF NOT EXISTS {}.stock_territories (level text, code text, figures jsonb NOT NULL,"
                " updated_at timestamptz NOT NULL, PRIMARY KEY (level, code))").format(s),
        ]
        self.schema = s

    def load(self, originator_id: Any) -> CaseEntry | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT state, updated_at, last_event_id FROM {}.stock_cases WHERE originator_id = %s").format(
                    self.schema
                ),
                (originator_id,),
            )
            found = curs.fetchone()
        if found is None:
            return None
        return CaseEntry(CaseState(**found["state"]), found["updated_at"], found["last_event_id"])

    def apply(self, originator_id: Any, entry: CaseEntry, changes: Any, tracking: Tracking) -> None:
        row = changes.rows[originator_id]
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("INSERT INTO {}.stock_cases VALUES (%s, %s, %s, %s, %s) ON CONFLICT (originator_id) DO UPDATE"
                    " SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, last_event_id ="
                    " EXCLUDED.last_event_id, row = EXCLUDED.row").format(self.schema),
                (originator_id, _json(entry.state.as_dict()), entry.updated_at, entry.last_event_id, _json(row)),
            )
            for level in LEVELS:
                for code, at in changes.touched[level].items():
                    curs.execute(
                        SQL("SELECT figures, updated_at FROM {}.stock_territories WHERE level = %s AND code = %s"
                            " FOR UPDATE").format(self.schema),
                        (level.value, code),
                    )
                    found = curs.fetchone()
                    figures = found["figures"] if found else {}
                    add(figures, changes.deltas[level].get(code, {}))
                    curs.execute(
                        SQL("INSERT INTO {}.stock_territories VALUES (%s, %s, %s, %s) ON CONFLICT (level, code)"
                            " DO UPDATE SET figures = EXCLUDED.figures, updated_at = GREATEST("
                            "{}.stock_territories.updated_at, EXCLUDED.updated_at)").format(self.schema, self.schema),
                        (level.value, code, _json(figures), at),
                    )
            self._insert_tracking(curs, tracking)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class StockCaseViews(Projection[StockViewsRecorder]):
    name = "stockcaseviews"
    topics = tuple(CASE_TOPICS)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if not isinstance(domain_event, Case.MessageRecorded):
            self.view.insert_tracking(tracking)
            return
        oid = domain_event.originator_id
        entries: dict = {}
        prior = self.view.load(oid)
        if prior is not None:
            entries[oid] = prior
        event = CaseEvent(
            tracking.notification_id, oid, domain_event.kind, domain_event.case_id, domain_event.facts,
            domain_event.provenance, domain_event.timestamp,
        )
        changes = fold_batch([event], entries)
        self.view.apply(oid, entries[oid], changes, tracking)


def bench_stock_runner(sample: int) -> dict[str, Any]:
    url, settings = database_url(), bench_settings(SCHEMA)
    with psycopg.connect(url, autocommit=True) as conn:
        s = Identifier(SCHEMA)
        for table in ("stock_cases", "stock_territories", "stockcaseviews_tracking"):
            conn.execute(SQL("DROP TABLE IF EXISTS {}.{}").format(s, Identifier(table)))
        target, count = first_row(conn.execute(
            SQL("SELECT max(notification_id), count(*) FROM (SELECT notification_id FROM {}.tocsin_events"
                " ORDER BY notification_id LIMIT %s) s").format(s),
            (sample,),
        ))
    env = {**StoreReader.environment(settings, url), "STOCKCASEVIEWS_CREATE_TABLE": "y"}
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=StoreReader, projection_class=StockCaseViews, view_class=StockViewsRecorder, env=env
    ) as runner:
        while (runner.view.max_tracking_id(runner.app_name) or 0) < target:
            runner.run_forever(timeout=0.2)
        seconds = time.perf_counter() - started
    return {"events": count, "seconds": round(seconds, 2), "events_per_second": round(count / seconds)}


# ---- 4. live lag --------------------------------------------------------------------------------


def _live_worker(stop: Any, ready: Any) -> None:
    from projections.store.worker import ProjectionWorker

    store = TocsinStore(bench_settings(LIVE_SCHEMA), database_url())
    try:
        with ProjectionWorker(store, batch_size=2000) as worker:
            ready.set()
            stop_thread = threading.Event()

            def relay_stop() -> None:
                stop.wait()
                stop_thread.set()

            threading.Thread(target=relay_stop, daemon=True).start()
            worker.run(stop_thread, poll_seconds=0.2)
    finally:
        store.close()


def bench_live(rate: int, seconds: float, seed: int = 11) -> dict[str, Any]:
    url, settings = database_url(), bench_settings(LIVE_SCHEMA)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(LIVE_SCHEMA)))
    store = TocsinStore(settings, url)
    mapper = store.mapper
    total = int(rate * seconds)
    # Prepared before the clock starts: the producer must keep the rate, not encode.
    rows = [(e.originator_id, e.version, topic_of(e), stored_state(mapper, e)) for e in CrisisEvents(total, seed=seed)]
    store.close()
    ctx = multiprocessing.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Event()
    worker = ctx.Process(target=_live_worker, args=(stop, ready))
    worker.start()
    if not ready.wait(60):
        raise RuntimeError("live worker did not start")
    committed: list[tuple[int, float]] = []
    lags: list[float] = []
    done = threading.Event()

    def monitor() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            query = SQL("SELECT min(position) FROM {}.{} WHERE name = ANY(%s)").format(
                Identifier(LIVE_SCHEMA), Identifier(TRACKING_TABLE)
            )
            index = 0
            while not (done.is_set() and index >= len(committed)):
                position = first_row(conn.execute(query, (list(NAMES),)))[0] or 0
                now = time.perf_counter()
                while index < len(committed) and committed[index][0] <= position:
                    lags.append(now - committed[index][1])
                    index += 1
                time.sleep(0.01)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    tick, per_tick = 0.1, max(1, int(rate * 0.1))
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for i in range(0, len(rows), per_tick):
            due = started + (i // per_tick) * tick
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            last = _copy_events(conn, LIVE_SCHEMA, rows[i : i + per_tick], notify=True)
            committed.append((last, time.perf_counter()))
    produced_in = time.perf_counter() - started
    done.set()
    watcher.join(timeout=120)
    stop.set()
    worker.join(timeout=30)
    lags.sort()
    return {
        "rate_target": rate,
        "rate_achieved": round(len(rows) / produced_in),
        "events": len(rows),
        "lag_p50_ms": round(1000 * statistics.median(lags)),
        "lag_p95_ms": round(1000 * lags[int(0.95 * (len(lags) - 1))]),
        "lag_max_ms": round(1000 * lags[-1]),
    }


def _n(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


# ---- entry point --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_projections")
    parser.add_argument("events", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--partitions", type=int, default=None)
    args = parser.parse_args([] if argv is None else argv)

    pace_before = cpu_pace()
    setup_seconds, reused = setup(args.events)
    print(f"   préparation : {_n(args.events)} événements"
          + (" (déjà en place)" if reused else f" générés et chargés en {setup_seconds:.0f} s"), flush=True)
    mine = bench_rebuild(args.partitions)
    print(f"   reconstruction des 5 vues : {_n(mine['events'])} événements en {mine['seconds']} s, soit"
          f" {_n(mine['events_per_second'])} év./s ({mine['partitions']} processus) ; {_n(mine['cases'])} affaires,"
          f" sommes cohérentes entre niveaux : {'oui' if mine['sums_hold'] else 'NON'}", flush=True)
    steps = ", ".join(f"{name} {seconds} s" for name, seconds in mine["steps"].items())
    parts = " ; ".join(f"lecture et pli {t['fold']} s, écriture {t['copy']} s, CPU {t['cpu']} s"
                       for t in mine["partition_timings"])
    print(f"     étapes : {steps}\n     processus : {parts}", flush=True)
    stock = bench_stock_runner(args.sample)
    ratio = mine["events_per_second"] / stock["events_per_second"]
    print(f"   ProjectionRunner de la bibliothèque : {_n(stock['events'])} événements en {stock['seconds']} s, soit"
          f" {_n(stock['events_per_second'])} év./s ; rapport {ratio:.0f}×", flush=True)
    live = bench_live(args.rate, args.seconds)
    print(f"   en direct à {_n(live['rate_achieved'])} év./s pendant {args.seconds:.0f} s : retard médian"
          f" {live['lag_p50_ms']} ms, 95e centile {live['lag_p95_ms']} ms, maximum {live['lag_max_ms']} ms", flush=True)
    pace_after = cpu_pace()
    goals = mine["events_per_second"] >= 30_000 and ratio >= 20 and live["lag_max_ms"] < 1000
    print(f"   objectifs (≥ 30 000 év./s, ≥ 20× le runner, retard < 1 s) : {'atteints' if goals else 'NON atteints'}"
          f" (charge de la machine : {os.getloadavg()[0]:.1f} ; étalon CPU : {pace_before:.2f} s avant,"
          f" {pace_after:.2f} s après ; voir tests.benchmarks.cpu_pace)", flush=True)
    return {"setup_seconds": round(setup_seconds, 1), "setup_reused": reused, "rebuild": mine, "stock_runner": stock,
            "ratio": round(ratio, 1), "live": live, "goals_met": goals,
            "cpu_pace_seconds": [round(pace_before, 3), round(pace_after, 3)]}


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
