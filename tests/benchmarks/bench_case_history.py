"""Ingestion against long case histories: does a batch cost more when its cases already hold many events?

A crisis that lasts (a forest fire over days) gives its cases hundreds or thousands of versions. The
only part of a batch's commit that reads a case's history is the lookup of each case's last version
(every other statement probes an index once per row). This bench pads the cases of a batch of 500
realistic messages with synthetic versions (rows only, not chained: they stand for history), then
times the lookup at 10, 1,000 and 10,000 versions a case, each against the 10-version baseline of
the same run; then commits the same batch into a store whose cases hold 10 versions and into the one
whose cases hold 10,000.

Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_case_history`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.sql import SQL, Identifier

LEVELS = (10, 1_000, 10_000)  # versions a case
BATCH = 500
RUNS = 21


def _pad(url: str, schema: str, originators: list[uuid.UUID], versions: int) -> None:
    """Bring each case to `versions` versions with synthetic rows after its last one."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # history stand-ins: no audit link
        conn.execute(
            SQL(
                "INSERT INTO {t} (originator_id, originator_version, topic, state)"
                " SELECT o.id, v, 'bench:History', '\\x00'::bytea FROM unnest(%s::uuid[]) AS o(id)"
                " CROSS JOIN LATERAL (SELECT coalesce(max(originator_version), 0) AS last FROM {t}"
                " WHERE originator_id = o.id) AS l CROSS JOIN LATERAL generate_series(l.last + 1, %s::bigint) AS v"
            ).format(t=SQL("{}.tocsin_events").format(Identifier(schema))),
            (originators, versions),
        )
        conn.execute(SQL("VACUUM ANALYZE {}.tocsin_events").format(Identifier(schema)))


def _median_ms(action) -> float:
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e3


def _timed_ms(action) -> float:
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1e3


def main() -> dict:
    from adapters.ingest.ingestion import Incoming, _Accepted
    from adapters.services import open_services
    from adapters.settings import Settings
    from adapters.simulator import simulate
    from domain.identity import case_uuid
    from tests.benchmarks import cpu_pace, database_url, fmt

    url = database_url()
    tag = uuid.uuid4().hex[:8]
    data_dir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    # Two stores, the same batch: one whose cases stay short, one whose cases grow.
    short, long = (open_services(Settings(database_url=url, data_dir=data_dir, schema=f"bench_history_{tag}_{name}"))
                   for name in ("short", "long"))
    try:
        pace_before = cpu_pace()
        messages = list(simulate("storm", size=3 * BATCH, seed=7))
        prepared = long.ingestor.preparer.many([Incoming(m.raw, m.content_type) for m in messages])
        batch = [p for p in prepared if isinstance(p, _Accepted)][:BATCH]
        originators = sorted({case_uuid(p.case_id) for p in batch if p.case_id})
        lookups = {}
        for level in LEVELS:
            _pad(url, long.settings.schema, originators, level)
            lookups[level] = _median_ms(lambda: long.ingestor._lookup(batch))
        first, last = LEVELS[0], LEVELS[-1]
        _pad(url, short.settings.schema, originators, first)
        commits = {first: _timed_ms(lambda: short.ingestor.commit_prepared(batch)),
                   last: _timed_ms(lambda: long.ingestor.commit_prepared(batch))}
        pace_after = cpu_pace()
        for level in LEVELS:
            print(f"dernière version des {len(originators)} affaires d'un lot de {len(batch)} messages, "
                  f"{fmt(level)} versions par affaire : {lookups[level]:.2f} ms "
                  f"(rapport à {first} versions : {lookups[level] / lookups[first]:.2f})")
        print(f"validation du même lot : {commits[first]:.1f} ms sur des affaires de {first} versions, "
              f"{commits[last]:.1f} ms sur des affaires de {fmt(last)} versions "
              f"(rapport {commits[last] / commits[first]:.2f})")
        print(f"étalon CPU : {pace_before:.2f} s avant, {pace_after:.2f} s après (voir tests.benchmarks.cpu_pace)")
        return {"cases": len(originators), "lookup_ms": lookups, "commit_ms": commits,
                "cpu_pace_seconds": [round(pace_before, 3), round(pace_after, 3)]}
    finally:
        for services in (short, long):
            services.close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(services.settings.schema)))


if __name__ == "__main__":
    main()
