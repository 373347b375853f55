"""Audit verification rate: `verify_store` over a store of N chained events (default 1,000,000).

Events, message index rows and raw messages are generated in SQL (opaque bytes standing for the
encrypted payloads) and chained by the real trigger, so the figure covers the whole walk: fetching
every event, its message and its raw message hash, recomputing every hash, checking the seal.
Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_audit [N]`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.sql import SQL, Identifier

BATCH = 100_000


def _generate(conn: psycopg.Connection, total: int) -> None:
    for start in range(0, total, BATCH):
        stop = min(total, start + BATCH) - 1
        params = {"a": start, "b": stop}
        # Ten events per aggregate, a ~1.3 kB raw message and a ~600 B state each.
        conn.execute(
            "INSERT INTO tocsin_raw_messages (sha256, body) SELECT sha256(int8send(i)),"
            " convert_to(repeat(md5(i::text), 40), 'UTF8')"
            " FROM generate_series(%(a)s::bigint, %(b)s::bigint) i", params)
        conn.execute(
            "INSERT INTO tocsin_messages (distribution_id, originator_id, originator_version, case_id, kind,"
            " sender_id, sent_at, received_at, sha256, source) SELECT 'bench-' || i, md5((i / 10)::text)::uuid,"
            " i %% 10 + 1, 'case-' || (i / 10), 'createCase', 'fr.fire.sis35', now(), now(), sha256(int8send(i)),"
            " 'bench' FROM generate_series(%(a)s::bigint, %(b)s::bigint) i", params)
        conn.execute(
            "INSERT INTO tocsin_events (originator_id, originator_version, topic, state)"
            " SELECT md5((i / 10)::text)::uuid, i %% 10 + 1, 'domain.case:Case.Reported',"
            " convert_to(repeat(md5((-i)::text), 19), 'UTF8')"
            " FROM generate_series(%(a)s::bigint, %(b)s::bigint) i ORDER BY i", params)
        conn.commit()


def main(total: int | None = None) -> dict:
    from adapters.settings import Settings
    from adapters.store.event_store import TocsinStore
    from replay.audit.chain import seal
    from replay.audit.keys import load_signing_key, trusted_keys
    from replay.audit.verify import verify_store
    from tests.benchmarks import database_url

    total = total or int(os.environ.get("TOCSIN_BENCH_EVENTS", "1000000"))
    url = database_url()
    schema = "bench_audit_" + uuid.uuid4().hex[:8]
    data_dir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    settings = Settings(database_url=url, data_dir=data_dir, schema=schema)
    store = TocsinStore(settings, url)
    try:
        began = time.perf_counter()
        with psycopg.connect(url) as conn:
            conn.execute(SQL("SET search_path TO {}").format(Identifier(schema)))
            _generate(conn, total)
        chained = time.perf_counter() - began
        key = load_signing_key(data_dir)
        assert key is not None  # created on first use
        seal(store, key, data_dir)  # itself a full verification: the first seal walks the whole chain
        report = verify_store(store, trusted_keys(data_dir))
        assert report.ok, report.summary()
        result = {"events": report.checked, "insert_and_chain_s": round(chained, 1),
                  "verify_s": round(report.elapsed, 2), "verify_events_per_s": round(report.rate)}
        print(f"audit : {total} événements insérés et chaînés en {chained:.1f} s ; vérification complète en "
              f"{report.elapsed:.2f} s, soit {report.rate:,.0f} événements/s".replace(",", "\u202f"))
        return result
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
