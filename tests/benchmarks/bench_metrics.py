"""What the ingestion metrics cost: CPU per message committed, with the metrics and without, same run.

The same prepared messages (simulated, parsed and sealed once) are committed by `Ingestor.commit_prepared`
in batches of 500 into a fresh schema per round, once as Tocsin runs and once with the module's metrics
replaced by a stand-in that does nothing; three rounds alternated, the median of each side. The CPU is
this process's (where the counters are moved); PostgreSQL's share is the same on both sides. The HTTP
side (server CPU per request and p99, with and without the middleware) is measured in bench_api.
Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_metrics [N]`.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from tests.benchmarks import database_url

SIZE = 3_000
BATCH = 500


class _Off:
    """Every metric, every call, every label: nothing."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self


def _round(url: str, data_dir: Path, prepared: list, with_metrics: bool) -> float:
    """CPU µs per message to commit `prepared` into a new schema."""
    import adapters.ingest.ingestion as ingestion
    from adapters.services import open_services
    from adapters.settings import Settings

    schema = "bench_metrics_" + uuid.uuid4().hex[:8]
    services = open_services(Settings(database_url=url, schema=schema, data_dir=data_dir))
    real = ingestion.metrics
    try:
        if not with_metrics:
            ingestion.metrics = _Off()  # type: ignore[assignment]
        began = time.process_time()
        for start in range(0, len(prepared), BATCH):
            services.ingestor.commit_prepared(prepared[start : start + BATCH])
        return (time.process_time() - began) * 1e6 / len(prepared)
    finally:
        ingestion.metrics = real
        services.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


def main(size: int = SIZE) -> dict:
    import tempfile

    from adapters.services import open_services
    from adapters.settings import Settings
    from adapters.simulator import simulate

    url = database_url()
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-metrics-") as tmp:
        # Prepared once, with a store's sealer (the key is the data folder's), then committed many times.
        schema = "bench_metrics_" + uuid.uuid4().hex[:8]
        services = open_services(Settings(database_url=url, schema=schema, data_dir=Path(tmp)))
        try:
            from adapters.ingest.ingestion import Incoming

            prepared = services.ingestor.preparer.many(
                [Incoming(m.raw, m.content_type, "bench") for m in simulate("storm", size=size, seed=5)])
        finally:
            services.close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))
        rounds: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(3):
            rounds["with"].append(_round(url, Path(tmp), prepared, True))
            rounds["without"].append(_round(url, Path(tmp), prepared, False))
    with_, without = statistics.median(rounds["with"]), statistics.median(rounds["without"])
    print(f"   Coût des métriques à l'ingestion ({size} messages par lots de {BATCH}, médiane de 3 tours alternés) :"
          f" {with_:.0f} µs de CPU par message avec, {without:.0f} µs sans ({with_ - without:+.1f} µs)", flush=True)
    return {"cpu_us_per_message_with": round(with_, 1), "cpu_us_per_message_without": round(without, 1)}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else SIZE)
