"""Replay benchmark: a département as of a past moment, with checkpoints and the naive way.

1. Setup (once, reused while its parameters do not change): N realistic Case events (default
   1,000,000, or TOCSIN_BENCH_EVENTS; tests/benchmarks/projection_events.py) encrypted and compressed as
   the store does, with their message index rows, loaded with COPY into the schema `bench_replay` in
   recording order, in chunks of 10,000 (each chunk one insert: chained by the real audit trigger, so
   the "known at" times are real recording times). Then the checkpoints, as `tocsin replay checkpoint`
   builds them (every 50,000 events, or TOCSIN_BENCH_CHECKPOINT_EVERY). Both times are reported apart.
2. The busiest département as of a moment near the end of the log, in both senses: through
   `replay.as_of.replay_view` with checkpoints (first call, then again with PostgreSQL's cache warm),
   then the same call folding from the first event. The two views must be equal; the times and their
   ratio (naive / first call) are printed. Goal: under 2 s, ≥ 10× faster (judged on the first call).
   The département's view is what the live one shows (figures, openings in the last hour and 24 h,
   most serious open cases); its whole case list (the `cases` view) is timed too, for information.

Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_replay`.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from adapters.store.event_store import TocsinStore
from projections.store.view_store import StoreReader
from replay.as_of import replay_view
from replay.checkpoints.build import build_checkpoints
from replay.checkpoints.storage import FORMAT as CHECKPOINT_FORMAT
from replay.checkpoints.storage import drop_checkpoints, list_checkpoints, load_meta
from replay.event_log import HAPPENED_BY, KNOWN_AT
from tests.benchmarks.bench_projections import CIPHER_KEY, bench_settings, database_url
from tests.benchmarks.projection_events import START, CrisisEvents, stored_state, topic_of

SCHEMA = "bench_replay"
GENERATOR_VERSION = "2"  # 2: event states compressed with LZ4 (the store's compressor), was zlib
CHUNK = 10_000
HOURS = 48.0
GOAL_SECONDS, GOAL_RATIO = 2.0, 10.0

assert CIPHER_KEY  # the bench store is readable from one run to the next (synthetic data only)


def setup(events: int, every: int, seed: int = 1) -> tuple[float, float, bool]:
    """Load the events and build the checkpoints unless already there; (load s, checkpoint s, reused)."""
    url = database_url()
    wanted = {"events": f"{events}:{seed}:{GENERATOR_VERSION}", "checkpoints": f"{every}:{CHECKPOINT_FORMAT}"}
    with psycopg.connect(url, autocommit=True) as conn:
        found: dict[str, str]
        try:
            meta = SQL("SELECT key, value FROM {}.bench_meta").format(Identifier(SCHEMA))
            found = dict(conn.execute(meta).fetchall())
        except psycopg.errors.UndefinedTable:
            found = {}
        if found == wanted:
            return 0.0, 0.0, True
        if found.get("events") != wanted["events"]:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(SCHEMA)))
    loaded = checkpointed = 0.0
    if found.get("events") != wanted["events"]:
        loaded = _load(url, events, seed)
    began = time.perf_counter()
    store = TocsinStore(bench_settings(SCHEMA), url)
    try:
        drop_checkpoints(store)
        build_checkpoints(store, every)
    finally:
        store.close()
    checkpointed = time.perf_counter() - began
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SQL("CREATE TABLE IF NOT EXISTS {}.bench_meta (key text PRIMARY KEY, value text)").format(
            Identifier(SCHEMA)))
        for key, value in wanted.items():
            conn.execute(SQL("INSERT INTO {}.bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                             "excluded.value").format(Identifier(SCHEMA)), (key, value))
    return loaded, checkpointed, False


def _load(url: str, events: int, seed: int) -> float:
    began = time.perf_counter()
    TocsinStore(bench_settings(SCHEMA), url).close()  # creates the store's tables and the chain trigger
    mapper = StoreReader(StoreReader.environment(bench_settings(SCHEMA), url)).mapper
    chunk: list = []
    with psycopg.connect(url) as conn:
        for event in CrisisEvents(events, seed=seed, hours=HOURS):
            chunk.append(event)
            if len(chunk) == CHUNK:
                _copy(conn, mapper, chunk)
                chunk = []
        if chunk:
            _copy(conn, mapper, chunk)
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("tocsin_events", "tocsin_messages", "tocsin_chain"):
            conn.execute(SQL("VACUUM ANALYZE {}.{}").format(Identifier(SCHEMA), Identifier(table)))
    return time.perf_counter() - began


def _copy(conn: psycopg.Connection, mapper: Any, events: list) -> None:
    """One chunk: its message index rows, then its events (the chain trigger reads both), one transaction."""
    s = Identifier(SCHEMA)
    with conn.transaction():
        conn.execute(SQL("LOCK TABLE {}.tocsin_events IN EXCLUSIVE MODE").format(s))
        with conn.cursor() as cur:
            with cur.copy(SQL("COPY {}.tocsin_messages (distribution_id, originator_id, originator_version, case_id,"
                              " kind, sender_id, sent_at, received_at, sha256, source) FROM STDIN").format(s)) as copy:
                for e in events:
                    p = e.provenance
                    copy.write_row((p["distribution_id"], e.originator_id, e.version, e.case_id, p["kind"],
                                    p["sender_id"], datetime.fromisoformat(p["sent_at"]), e.recorded_at,
                                    hashlib.sha256(p["distribution_id"].encode()).digest(), "bench"))
            with cur.copy(SQL("COPY {}.tocsin_events (originator_id, originator_version, topic, state) FROM STDIN"
                              ).format(s)) as copy:
                for e in events:
                    copy.write_row((e.originator_id, e.version, topic_of(e), stored_state(mapper, e)))


def _moments(store: TocsinStore, events: int) -> dict[str, datetime]:
    """Known at: the recording time of the event at 97 % of the log; happened by: 95 % into the crisis."""
    with store.connect() as conn:
        row = conn.execute(SQL("SELECT chained_at FROM {} WHERE notification_id >= %s ORDER BY notification_id"
                               " LIMIT 1").format(store.table("tocsin_chain")), (int(events * 0.97),)).fetchone()
    return {KNOWN_AT: row["chained_at"], HAPPENED_BY: START + timedelta(hours=HOURS * 0.95)}


def _busiest_departement(store: TocsinStore) -> str:
    latest = list_checkpoints(store)[-1]
    departements = load_meta(store, latest)["territories"]["departement"]
    return max((code for code in departements if code != "non-localise"),
               key=lambda code: departements[code][0].get("cases:total", 0))  # (figures, updated_at)


def main(events: int | None = None) -> dict:
    events = events or int(os.environ.get("TOCSIN_BENCH_EVENTS") or 1_000_000)
    every = int(os.environ.get("TOCSIN_BENCH_CHECKPOINT_EVERY") or 50_000)
    loaded, checkpointed, reused = setup(events, every)
    if reused:
        print(f"rejeu : magasin de {events} événements et points de reprise réutilisés ({SCHEMA})", flush=True)
    else:
        print(f"rejeu : {events} événements chargés et chaînés en {loaded:.0f} s (0 : déjà là), points de "
              f"reprise (tous les {every}) construits en {checkpointed:.0f} s", flush=True)
    store = TocsinStore(bench_settings(SCHEMA), database_url())
    results: dict[str, Any] = {"events": events, "checkpoint_every": every}
    try:
        departement = _busiest_departement(store)
        results["departement"] = departement
        for sense, at in _moments(store, events).items():
            began = time.perf_counter()
            fast = replay_view(store, "departement", departement, at, sense)
            fast_s = time.perf_counter() - began  # the first call (after the other sense's naive scan)
            began = time.perf_counter()
            replay_view(store, "departement", departement, at, sense)
            again_s = time.perf_counter() - began  # the same, again: PostgreSQL's cache now warm
            began = time.perf_counter()
            naive = replay_view(store, "departement", departement, at, sense, use_checkpoints=False)
            naive_s = time.perf_counter() - began
            assert fast.view == naive.view, "checkpointed and naive replays differ"
            began = time.perf_counter()
            listed = replay_view(store, "cases", departement, at, sense)
            assert listed.view is not None
            list_s = time.perf_counter() - began  # for information: the whole case list of the département
            ratio = naive_s / fast_s
            ok = fast_s < GOAL_SECONDS and ratio >= GOAL_RATIO
            cases = fast.view["figures"].get("cases:total", 0) if fast.view else 0
            results[sense] = {"at": at.isoformat(), "checkpoint_s": round(fast_s, 3),
                              "checkpoint_again_s": round(again_s, 3), "naive_s": round(naive_s, 2),
                              "ratio": round(ratio, 1), "events_after_checkpoint": fast.events,
                              "naive_events": naive.events, "cases": cases, "goal_met": ok,
                              "case_list_s": round(list_s, 3), "case_list_rows": len(listed.view["cases"])}
            print(f"rejeu {sense} : département {departement} ({cases} affaires) au {at:%d/%m/%Y %H:%M:%S} — "
                  f"avec points de reprise {fast_s:.2f} s (puis {again_s:.2f} s ; {fast.events} événements "
                  f"après le point), "
                  f"naïf {naive_s:.2f} s ({naive.events} événements), ×{ratio:.1f} "
                  f"[objectif < {GOAL_SECONDS:g} s et ≥ ×{GOAL_RATIO:g} : {'atteint' if ok else 'NON atteint'}] ; "
                  f"liste complète de ses {len(listed.view['cases'])} affaires : {list_s:.2f} s",
                  flush=True)
    finally:
        store.close()
    return results


if __name__ == "__main__":
    main()
