"""API latency under load, and memory per live (SSE) client.

Loads about 100,000 cases (realistic events from projection_events, written straight into the event
store and folded by the projection worker), starts the real app under uvicorn in its own process,
then 100 concurrent clients ask for the national view and for a département's case list; reports the
median and p99 latency of each (goal: p99 under 100 ms). Then what the HTTP metrics cost: a second
server, the same app without its metrics middleware (`app_without_metrics`), serves the national view in
turn with the first, three rounds each; the median of the three rounds' server CPU per request and p99,
with and without. Finally opens 1,000 live streams and reports the server's resident memory per stream.
Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_api [CASES]`.
Database: TOCSIN_TEST_DATABASE_URL, else the local test database, else an embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.sql import SQL, Identifier

from tests.benchmarks import database_url, proc_status_kib
from tests.support.sql import first_row

ROOT = Path(__file__).resolve().parents[2]
CASES = 100_000
CLIENTS = 100
REQUESTS_PER_CLIENT = 20
STREAMS = 1_000
GOAL_MS = 100.0
# Server processes: one by default, as `make run` serves; TOCSIN_BENCH_API_WORKERS=2 as deploy/ runs it.
WORKERS = int(os.environ.get("TOCSIN_BENCH_API_WORKERS") or 1)


def load_cases(services, cases: int) -> tuple[int, int]:
    """Write the events of `cases` cases into the store with COPY, then fold them; (cases, events)."""
    from projections.store.worker import ProjectionWorker
    from tests.benchmarks.projection_events import CrisisEvents, stored_state, topic_of

    store = services.store
    seen: set = set()
    rows = []
    for event in CrisisEvents(cases * 8, seed=7):
        if event.originator_id not in seen:
            if len(seen) >= cases:
                continue  # only the events of the first `cases` cases
            seen.add(event.originator_id)
        rows.append((event.originator_id, event.version, topic_of(event), stored_state(store.mapper, event)))
    table = SQL("{}.tocsin_events").format(Identifier(services.settings.schema))
    copy_sql = SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN").format(table)
    with psycopg.connect(store.database_url) as conn, conn.cursor() as cur:
        with cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
    with ProjectionWorker(store) as worker:
        worker.catch_up()
    return len(seen), len(rows)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (the server processes under uvicorn's supervisor)."""
    total = proc_status_kib(pid, "VmRSS")
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        total += sum(_rss_kib(int(child)) for child in children.read_text().split())
    return total


class _Connection:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less than the server."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.reader, self.writer
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {self.token}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _load(port: int, path: str, token: str, clients: int = CLIENTS) -> list[float]:
    latencies: list[float] = []
    connections = [_Connection(port, token) for _ in range(clients)]
    for c in connections:  # connect and warm up
        status, body = await c.get(path)
        assert status == 200, body[:300]

    async def one_client(connection: _Connection) -> None:
        for _ in range(REQUESTS_PER_CLIENT):
            began = time.perf_counter()
            status, body = await connection.get(path)
            latencies.append((time.perf_counter() - began) * 1000)
            assert status == 200, body[:300]

    await asyncio.gather(*(one_client(c) for c in connections))
    for c in connections:
        c.close()
    return latencies


async def _streams(port: int, tokens: list[str]) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    opened = []
    for token in tokens:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"event: hello")
        assert b"200" in head.split(b"\r\n", 1)[0], head[:200]
        opened.append((reader, writer))
    return opened


def _http_options() -> list[str]:
    """The HTTP implementation `tocsin serve` uses (h11 with header bounds), or uvicorn's default
    (httptools) with TOCSIN_BENCH_API_HTTP=httptools, to measure what the bounds cost."""
    if os.environ.get("TOCSIN_BENCH_API_HTTP") == "httptools":
        return []
    from api.cli.http_limits import cli_options

    return cli_options()


def _server_cpu(pid: int) -> float:
    """CPU seconds of the server process and its workers: latency under load depends on the host,
    CPU per request much less (these machines' speed varies from hour to hour)."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def app_without_metrics() -> Any:
    """The app as `tocsin serve` builds it, less the HTTP metrics middleware (the baseline of its cost)."""
    from api.app import create_app
    from api.observability import HttpMetrics

    app = create_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HttpMetrics]
    return app


def _start_server(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(WORKERS),
         *_http_options()],
        cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise RuntimeError("le serveur ne démarre pas")
        time.sleep(0.2)


def _metrics_cost(with_metrics: tuple[int, int], env: dict[str, str], path: str, token: str) -> dict:
    """Server CPU per request and p99, with the metrics middleware and without, alternated, median of 3."""
    port = _free_port()
    bare = _start_server("tests.benchmarks.bench_api:app_without_metrics", port, env)
    try:
        asyncio.run(_load(port, path, token))  # warm-up, as the first server had
        rounds: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
        for _ in range(3):
            for name, (pid, at) in (("with", with_metrics), ("without", (bare.pid, port))):
                latencies, cpu_us = _measured(pid, at, path, token)
                ordered = sorted(latencies)
                rounds[name].append((cpu_us, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]))
    finally:
        bare.terminate()
        bare.wait(10)
    cpu = {k: statistics.median(c for c, _ in v) for k, v in rounds.items()}
    p99 = {k: statistics.median(p for _, p in v) for k, v in rounds.items()}
    print(f"   Coût des métriques HTTP (vue nationale, médiane de 3 tours alternés) : CPU du serveur "
          f"{cpu['with']:.0f} µs par requête avec, {cpu['without']:.0f} µs sans"
          f" ({cpu['with'] - cpu['without']:+.0f} µs) ;"
          f" p99 {p99['with']:.1f} ms avec, {p99['without']:.1f} ms sans", flush=True)
    return {"server_cpu_us_per_request_with": round(cpu["with"]), "server_cpu_us_per_request_without":
            round(cpu["without"]), "p99_ms_with": round(p99["with"], 1), "p99_ms_without": round(p99["without"], 1)}


def _measured(pid: int, port: int, path: str, token: str) -> tuple[list[float], float]:
    """Latencies of the load, and the server's CPU per request (µs) while serving it."""
    before = _server_cpu(pid)
    latencies = asyncio.run(_load(port, path, token))
    return latencies, (_server_cpu(pid) - before) * 1e6 / len(latencies)


def _report(name: str, measured: tuple[list[float], float]) -> dict:
    latencies, cpu_us = measured
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    median = statistics.median(ordered)
    verdict = "OK" if p99 < GOAL_MS else "AU-DESSUS DE L'OBJECTIF"
    print(f"   {name} : médiane {median:.1f} ms, p99 {p99:.1f} ms ({len(ordered)} requêtes, "
          f"{CLIENTS} clients simultanés, {WORKERS} processus serveurs ; CPU du serveur {cpu_us:.0f} µs par requête)"
          f" — objectif p99 < {GOAL_MS:.0f} ms : {verdict}", flush=True)
    return {"median_ms": round(median, 1), "p99_ms": round(p99, 1), "server_cpu_us_per_request": round(cpu_us)}


def main(cases: int = CASES) -> dict:
    from adapters.services import open_services
    from adapters.settings import Settings
    from api.auth import AuthConfig

    with tempfile.TemporaryDirectory(prefix="tocsin-bench-api-") as tmp:
        work = Path(tmp)
        url = database_url()
        schema = "bench_api_" + uuid.uuid4().hex[:8]
        settings = Settings(database_url=url, data_dir=work, schema=schema)
        services = open_services(settings)
        server = None
        try:
            began = time.perf_counter()
            n_cases, n_events = load_cases(services, cases)
            print(f"   {n_cases} affaires ({n_events} événements) chargées et projetées en "
                  f"{time.perf_counter() - began:.0f} s", flush=True)
            with psycopg.connect(url) as conn:
                busiest = SQL("SELECT departement, count(*) AS n FROM {}.tocsin_view_cases "
                              "WHERE departement <> 'non-localise' GROUP BY 1 ORDER BY 2 DESC LIMIT 1")
                row = first_row(conn.execute(busiest.format(Identifier(schema))))
            departement, in_dep = row[0], row[1]

            port = _free_port()
            env = {**os.environ, "TOCSIN_DATABASE_URL": url, "TOCSIN_DB_SCHEMA": schema, "TOCSIN_DATA_DIR": str(work),
                   "TOCSIN_PROJECTIONS_IN_APP": "0", "PYTHONPATH": str(ROOT)}
            server = _start_server("api.app:create_app", port, env)

            auth = AuthConfig.from_env(settings, {})
            national = auth.mint("national", "national:FR")
            prefecture = auth.mint("prefecture", f"departement:{departement}")
            alone = asyncio.run(_load(port, "/api/v1/views/national/FR", national, clients=1))
            alone_list = asyncio.run(_load(port, f"/api/v1/cases?level=departement&code={departement}&limit=50",
                                           prefecture, clients=1))
            print(f"   (un seul client : vue nationale {statistics.median(alone):.1f} ms, liste "
                  f"{statistics.median(alone_list):.1f} ms en médiane)", flush=True)
            results: dict[str, Any] = {
                "national_view": _report("Vue nationale (GET /api/v1/views/national/FR)",
                                         _measured(server.pid, port, "/api/v1/views/national/FR", national)),
                "departement_cases": _report(
                    f"Liste des affaires du {departement} ({in_dep} affaires, 50 par page)",
                    _measured(server.pid, port, f"/api/v1/cases?level=departement&code={departement}&limit=50",
                              prefecture)),
            }
            results["http_metrics"] = _metrics_cost((server.pid, port), env, "/api/v1/views/national/FR", national)

            communes = list(services.geography.communes)[:STREAMS]
            tokens = [auth.mint("mayor", f"commune:{c}") for c in communes]

            async def measure_streams() -> float:
                await asyncio.sleep(0.5)
                before = _rss_kib(server.pid)
                opened = await _streams(port, tokens)
                await asyncio.sleep(1.0)
                after = _rss_kib(server.pid)
                for _, writer in opened:
                    writer.close()
                return (after - before) / len(opened)

            per_stream = asyncio.run(measure_streams())
            results["sse_kib_per_client"] = round(per_stream, 1)
            print(f"   Flux temps réel : {per_stream:.1f} Kio de mémoire serveur par client ({STREAMS} flux ouverts)",
                  flush=True)
            return results
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
            services.close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else CASES)
