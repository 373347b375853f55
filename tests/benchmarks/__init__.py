"""Benchmarks: `python -m tests.benchmarks` (or `make bench`) runs every bench_*.py module's main()."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def database_url() -> str:
    """TOCSIN_BENCH_DATABASE_URL, else TOCSIN_TEST_DATABASE_URL, else the local test database when it
    answers, else an embedded PostgreSQL under var/bench (as `make test` does)."""
    from tests.conftest import LOCAL_DATABASE_URL

    url = os.environ.get("TOCSIN_BENCH_DATABASE_URL") or os.environ.get("TOCSIN_TEST_DATABASE_URL")
    if url:
        return url
    try:
        with psycopg.connect(LOCAL_DATABASE_URL, connect_timeout=3):
            return LOCAL_DATABASE_URL
    except psycopg.OperationalError:
        from adapters.embedded import embedded_database_url

        work = ROOT / "var" / "bench"
        work.mkdir(parents=True, exist_ok=True)
        return embedded_database_url(work)


def cpu_pace() -> float:
    """Seconds of CPU a fixed workload like the projections' takes now: JSON documents the size of an
    event decoded into fresh dicts, then counted by key. On these shared 2-core machines the same code,
    same instruction count (callgrind), has run up to half as fast on an idle machine, presumably a busy
    host; each bench prints this before and after its figures, so that runs can be compared (a lower
    pace is a faster machine). A plain arithmetic loop did not show those slowdowns."""
    import time

    import orjson

    document = orjson.dumps({
        "facts": {"resources": [{"id": f"r{i}", "kind": "VSAV", "status": "DEPART",
                                 "at": f"2025-11-02T18:0{i}:00+01:00", "lat": 48.1 + i, "lon": -1.6 - i}
                                for i in range(6)]},
        "provenance": {key: f"fr.fire.sis35.cgo-35_{key}_0123456789abcdef" for key in
                       ("distribution_id", "message_id", "sender_id", "sent_at", "received_at", "sha256")},
    })
    started = time.process_time()
    counts: dict[str, int] = {}
    for _ in range(20_000):
        for resource in orjson.loads(document)["facts"]["resources"]:
            counts[resource["status"]] = counts.get(resource["status"], 0) + 1
    return time.process_time() - started


def fmt(value: float) -> str:
    """A whole number as French text writes it: 20 000 (a narrow no-break space between thousands)."""
    return f"{value:,.0f}".replace(",", "\u202f")


def proc_status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status in KiB (VmRSS, VmHWM…); 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0
