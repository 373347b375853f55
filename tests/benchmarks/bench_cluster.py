"""High availability, measured: the local topology (deploy/local-cluster) next to one PostgreSQL + one NATS.

Both carry the same Tocsin processes (two `tocsin serve`, two `tocsin ingest --nats`, two `tocsin projections
run`) and the same bench code; only what they stand on differs: the cluster's etcd ×3, PostgreSQL ×2 under
Patroni (synchronous replication, views read from the standby) and NATS ×3 (the stream copied three times),
against one embedded PostgreSQL and one nats-server. Both run side by side and are measured in turn, so
that a change in the machine's load (these 2 cores are shared) weighs on both alike:

- ingestion: a simulated storm published at once; messages/s from the first publication to the last message
  stored (event or quarantine); CPU per message of every process of the topology (Tocsin's, PostgreSQL's with
  its backends, NATS's, Patroni's, etcd's: the process trees of their pids, from /proc), until the views
  have folded it all, less what the topology spends idle (measured for 5 s just before);
- message to screen: live dashboards (GET /api/v1/stream, national scope: each sees every case) spread over
  the two API servers; the first message of new cases published one at a time; from each publication to the
  `case` event on each stream, p50 and p99; the streams the servers did not accept are counted and said;
- standby read lag under the ingestion load: `replay_lag` of pg_stat_replication on the primary, and
  now() − pg_last_xact_replay_timestamp() on the standby, sampled every 0.2 s (p50, p99, max);
- faults, on the cluster (one PostgreSQL or one NATS has no failover: it stops until restarted): while
  messages stream at FAULT_RATE/s and both API servers' dashboards are read every 0.1 s, the primary's member
  is killed (kill -9 of its process group, as tests/e2e/test_cluster_faults.py does), then the NATS server
  leading the stream; the longest time without a message stored, and the longest an API server answered no
  dashboard read, from the kill on. `up` brings the member back between faults.

Knobs, so that `make bench` stays bounded (the time it takes is in deploy/README.md): TOCSIN_BENCH_CLUSTER=0 skips
it; TOCSIN_BENCH_CLUSTER_MESSAGES (3,000 a run), TOCSIN_BENCH_CLUSTER_STREAMS (1,000),
TOCSIN_BENCH_CLUSTER_RUNS (3: ingestion and latency, the median of the runs), TOCSIN_BENCH_CLUSTER_FAULT_RUNS
(1: each fault costs about a minute with the member's return; the median when more).
Ports: a free block probed when the bench starts (tests/support/ports.py), as the fault test does.
Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_cluster`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.machinery
import importlib.util
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import httpx
import psycopg

from adapters.embedded import EmbeddedNats
from adapters.settings import Settings
from tests.benchmarks import cpu_pace, fmt
from tests.support.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local-cluster"
TOCSIN = str(Path(sys.executable).parent / "tocsin")
SCHEMA = "tocsin"
MESSAGES = int(os.environ.get("TOCSIN_BENCH_CLUSTER_MESSAGES") or 3000)
STREAMS = int(os.environ.get("TOCSIN_BENCH_CLUSTER_STREAMS") or 1000)
RUNS = int(os.environ.get("TOCSIN_BENCH_CLUSTER_RUNS") or 3)
FAULT_RUNS = int(os.environ.get("TOCSIN_BENCH_CLUSTER_FAULT_RUNS") or 1)
STREAM_GOAL = 1000  # the target: live dashboards spread over two API servers
LATENCY_CASES = 40  # new cases published one at a time, each a sample on every stream
LATENCY_EVERY = 0.5  # seconds between them
FAULT_RATE = 40.0  # messages/s during a fault, as the fault test streams
FAULT_BEFORE, FAULT_AFTER = 8.0, 30.0  # seconds of streaming before the kill and after it
DASHBOARD_EVERY = 0.1
CASE_ID = re.compile(rb'"case_id":"([^"]+)"')
STORED = ("SELECT (SELECT count(*) FROM tocsin.tocsin_messages) + (SELECT count(*) FROM tocsin.tocsin_quarantine)")
VIEWS_CAUGHT_UP = ("SELECT (SELECT min(position) FROM tocsin.tocsin_view_tracking WHERE name NOT LIKE '%@rebuild')"
                   " >= (SELECT coalesce(max(notification_id), 0) FROM tocsin.tocsin_events)")


# ---- the two topologies --------------------------------------------------------------------------------------


@dataclass
class Topology:
    label: str
    env: dict[str, str]  # the `tocsin` settings pointing at it
    api: list[str]  # the API servers' base URLs
    roots: Callable[[], list[int]]  # the pids whose process trees are the topology
    # Who reads the replication's state (pg_stat_replication's lags are hidden from Tocsin's own role).
    monitor_url: str | None = None

    @property
    def writer_url(self) -> str:
        return self.env["TOCSIN_DATABASE_URL"]

    def settings(self) -> Settings:
        return Settings.from_env(self.env)


def _local_cluster_module() -> ModuleType:
    """deploy/local-cluster itself (a script without .py), for its layout: ports, names, who is primary."""
    loader = importlib.machinery.SourceFileLoader("local_cluster", str(SCRIPT))
    spec = importlib.util.spec_from_loader("local_cluster", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class Cluster:
    """The local topology, started from empty data on free ports, as the fault test starts it."""

    def __init__(self) -> None:
        self.folder = ROOT / "var" / f"bench-cluster-{os.getpid()}"  # readable by the PostgreSQL user
        self.base = free_port_block()
        self.layout = _local_cluster_module().Cluster(self.folder, self.base)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), *args, "--dir", str(self.folder), "--base-port", str(self.base)],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def up(self, *args: str) -> None:
        result = self.run("up", *args)
        if result.returncode:
            raise RuntimeError(f"local-cluster up : {result.stdout[-2000:]} {result.stderr[-2000:]}")

    def status(self) -> dict[str, dict]:
        return {row["name"]: row for row in self.layout.status()}

    def pids(self) -> list[int]:
        return [entry["pid"] for entry in self.layout.load().values()]

    def topology(self) -> Topology:
        rows = self.status()
        return Topology("grappe", self.layout.tocsin_env(),
                        [r["url"] for r in rows.values() if r["kind"] == "api"], self.pids,
                        monitor_url=self.layout.database_url("read-write", "postgres"))

    def down(self) -> None:
        self.run("down", timeout=180)
        # The components' logs outlive the run (var/bench-cluster-logs), for whoever reads a figure.
        shutil.rmtree(ROOT / "var" / "bench-cluster-logs", ignore_errors=True)
        with contextlib.suppress(OSError):
            shutil.copytree(self.folder / "logs", ROOT / "var" / "bench-cluster-logs")
        shutil.rmtree(self.folder, ignore_errors=True)


class SingleNode:
    """One embedded PostgreSQL and one nats-server, under the same Tocsin processes as the cluster's."""

    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="tocsin-bench-single-"))
        self.work.chmod(0o755)  # an embedded PostgreSQL started as root runs as another user
        self.processes: list[subprocess.Popen] = []
        self.postmaster: int | None = None
        self.nats: EmbeddedNats | None = None

    def start(self) -> Topology:
        from adapters.embedded import embedded_database_url, free_port

        url = embedded_database_url(self.work)
        self.postmaster = int((self.work / "postgres" / "postmaster.pid").read_text().split()[0])
        nats = self.nats = EmbeddedNats(self.work).start()
        env = {
            "TOCSIN_DATABASE_URL": url, "TOCSIN_DB_SCHEMA": SCHEMA, "TOCSIN_NATS_URL": nats.url,
            "TOCSIN_DATA_DIR": str(self.work / "tocsin"),
            "TOCSIN_CIPHER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        topology = Topology("nœud unique", env, [], self._pids)
        _ensure_stream(topology)
        for i in range(2):
            port = free_port()
            self._spawn(f"api{i}", [TOCSIN, "serve", "--host", "127.0.0.1", "--port", str(port)],
                        {**env, "TOCSIN_PROJECTIONS_IN_APP": "0"})
            topology.api.append(f"http://127.0.0.1:{port}")
        for i in range(2):
            self._spawn(f"ingest{i}", [TOCSIN, "ingest", "--nats"], env)
            self._spawn(f"worker{i}", [TOCSIN, "projections", "run"], env)
        _wait_until(lambda: all(_http_ok(api + "/healthz") for api in topology.api), 240, "API")
        return topology

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        with open(self.work / f"{name}.log", "ab") as log:
            self.processes.append(subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                env={**os.environ, **env, "PGAPPNAME": f"tocsin-{name}"}, start_new_session=True))

    def _pids(self) -> list[int]:
        nats = self.nats.process.pid if self.nats is not None and self.nats.process is not None else None
        return [p.pid for p in self.processes] + [pid for pid in (self.postmaster, nats) if pid]

    def stop(self) -> None:
        for p in self.processes:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        for p in self.processes:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        if self.nats is not None:
            self.nats.stop()
        if self.postmaster:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.postmaster, signal.SIGINT)  # a fast shutdown
            folder = Path(f"/proc/{self.postmaster}")
            _wait_until(lambda: not folder.exists(), 60, "PostgreSQL stopped")
        shutil.rmtree(self.work, ignore_errors=True)


# ---- small tools -----------------------------------------------------------------------------------------------


def _wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"délai dépassé : {what}")
        time.sleep(every)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _query(url: str, sql: str) -> object:
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
            return row[0] if row else None
    except psycopg.Error:
        return None


def _stored(topology: Topology) -> int | None:
    value = _query(topology.writer_url, STORED)
    return int(value) if isinstance(value, int) else None


class Probe:
    """One connection for repeated reads (a new one each time would cost the measured server a backend), opened
    again after a failure: through the writers' multi-host URL, to the new primary after a failover."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: psycopg.Connection | None = None

    def value(self, sql: str) -> object:
        try:
            if self.conn is None or self.conn.closed or self.conn.broken:
                self.conn = psycopg.connect(self.url, connect_timeout=3, autocommit=True)
            row = self.conn.execute(sql).fetchone()
            return row[0] if row else None
        except psycopg.Error:
            self.close()
            return None

    def stored(self) -> int:
        value = self.value(STORED)
        return value if isinstance(value, int) else -1

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None


def _tree_cpu(roots: list[int]) -> float:
    """CPU seconds (user + system) of these processes, of the processes in their process groups (a Patroni
    member's postmaster, which is not its child), of all their descendants, and of the children they waited
    for (PostgreSQL's backends that ended, an ingester's workers), from /proc."""
    parents: dict[int, int] = {}
    groups: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid], groups[pid] = int(fields[1]), int(fields[2])
        ticks[pid] = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    found: set[int] = set()
    wanted = set(roots)
    frontier = {pid for pid in ticks if pid in wanted or groups[pid] in wanted}
    while frontier:
        found |= frontier
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
    return sum(ticks[pid] for pid in found) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(topology: Topology, seconds: float = 5.0) -> float:
    """CPU seconds a second the topology spends with nothing to do (Patroni's and etcd's loops, the workers'
    and API servers' polling, open streams' upkeep): taken out of the CPU per message."""
    before = _tree_cpu(topology.roots())
    time.sleep(seconds)
    return (_tree_cpu(topology.roots()) - before) / seconds


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def _ensure_stream(topology: Topology) -> None:
    from adapters.nats.server import connect
    from adapters.nats.stream import ensure_stream

    settings = topology.settings()

    async def create() -> None:
        nc = await connect(settings.nats_url or "", name="bench")
        try:
            await ensure_stream(nc.jetstream(timeout=10), settings)
        finally:
            await nc.close()

    asyncio.run(create())


def _new_cases(seed: int, count: int) -> list:
    """The first message of `count` cases of a simulated crisis (no duplicate, no deliberate anomaly)."""
    from adapters.simulator import simulate

    firsts: dict[str, object] = {}
    for m in simulate("storm", size=count * 30, seed=seed, duplicate_ratio=0.0):
        if m.case_id not in firsts and not m.anomalies and m.kind == "createCase":
            firsts[m.case_id] = m
            if len(firsts) == count:
                break
    return list(firsts.values())


# ---- ingestion, and the standby's lag under it ---------------------------------------------------------------


class LagSampler(threading.Thread):
    """The standby's replay lag, every 0.2 s: as the primary sees it and as the standby's replay says."""

    def __init__(self, topology: Topology) -> None:
        super().__init__(name="lag", daemon=True)
        self.topology = topology
        self.replay_lag: list[float] = []
        self.replay_age: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        reader = self.topology.env.get("TOCSIN_READ_DATABASE_URL")
        if not reader:
            return
        with psycopg.connect(self.topology.monitor_url or self.topology.writer_url, autocommit=True) as primary, \
                psycopg.connect(reader, autocommit=True) as standby:
            if not standby.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                return
            while not self.stop.wait(0.2):
                for (lag,) in primary.execute(
                        "SELECT extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication"
                        " WHERE replay_lag IS NOT NULL").fetchall():
                    self.replay_lag.append(lag)
                row = standby.execute(
                    "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8").fetchone()
                if row and row[0] is not None:
                    self.replay_age.append(max(0.0, row[0]))


def _publish_all(topology: Topology, messages: list) -> None:
    from adapters.nats.server import connect
    from adapters.nats.stream import Publishable, publish

    settings = topology.settings()

    async def run() -> None:
        nc = await connect(settings.nats_url or "", name="bench-publisher")
        try:
            await publish(nc.jetstream(timeout=10), settings,
                          (Publishable(m.raw, m.content_type, m.kind) for m in messages))
        finally:
            await nc.close()

    asyncio.run(run())


def ingestion(topology: Topology, seed: int) -> dict:
    from adapters.simulator import simulate

    messages = list(simulate("storm", size=MESSAGES, seed=seed))
    distinct = len({m.distribution_id for m in messages})
    before = _stored(topology) or 0
    idle = _idle_cpu(topology)
    lag = LagSampler(topology)
    cpu_before = _tree_cpu(topology.roots())
    began = time.perf_counter()
    lag.start()
    probe = Probe(topology.writer_url)
    try:
        _publish_all(topology, messages)
        _wait_until(lambda: probe.stored() >= before + distinct, 900, "ingestion", every=0.05)
        stored_after = time.perf_counter() - began
        _wait_until(lambda: probe.value(VIEWS_CAUGHT_UP) is True, 300, "views", every=0.1)
        cpu = _tree_cpu(topology.roots()) - cpu_before - idle * (time.perf_counter() - began)
    finally:
        probe.close()
    lag.stop.set()
    lag.join(5)
    return {"rate": len(messages) / stored_after, "cpu_us": cpu / len(messages) * 1e6, "idle_cpu": idle,
            "replay_lag": lag.replay_lag, "replay_age": lag.replay_age}


# ---- message to screen ------------------------------------------------------------------------------------------


async def _open_stream(api: str, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    where = urlsplit(api)
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(where.hostname, where.port), 10)
        writer.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"event: hello"), 20)
        if b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
            writer.close()
            return None
        await asyncio.wait_for(reader.readuntil(b"\n\n"), 10)
        return reader, writer
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        if writer is not None:
            writer.close()
        return None


async def _screens(topology: Topology, tokens: list[str], cases: list) -> dict:
    from adapters.nats.server import connect
    from adapters.nats.stream import subject_for

    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for start in range(0, len(tokens), 50):  # in waves: a server's accept backlog is finite
        batch = await asyncio.gather(*(_open_stream(topology.api[i % len(topology.api)], token)
                                       for i, token in enumerate(tokens[start:start + 50], start=start)))
        opened += [s for s in batch if s is not None]
    published: dict[str, float] = {}
    latencies: list[float] = []

    async def read(reader: asyncio.StreamReader) -> None:
        seen: set[str] = set()
        pending = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            *events, pending = (pending + chunk).split(b"\n\n")
            for event in events:
                if b"event: case" in event and (found := CASE_ID.search(event)):
                    case = found.group(1).decode()
                    if case in published and case not in seen:
                        seen.add(case)
                        latencies.append(now - published[case])

    readers = [asyncio.create_task(read(r)) for r, _ in opened]
    idle = await asyncio.to_thread(_idle_cpu, topology)  # the streams open, no news yet
    settings = topology.settings()
    nc = await connect(settings.nats_url or "", name="bench-screens")
    cpu_before = _tree_cpu(topology.roots())
    began = time.perf_counter()
    try:
        js = nc.jetstream(timeout=10)
        for m in cases:
            published[m.case_id] = time.perf_counter()
            await js.publish(subject_for(settings, m.kind), m.raw,
                             headers={"Nats-Msg-Id": uuid.uuid4().hex, "Content-Type": m.content_type})
            await asyncio.sleep(LATENCY_EVERY)
        expected = len(opened) * len(cases)
        deadline = time.monotonic() + 30
        while len(latencies) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        cpu = _tree_cpu(topology.roots()) - cpu_before - idle * (time.perf_counter() - began)
    finally:
        await nc.close()
        for task in readers:
            task.cancel()
        for _, writer in opened:
            writer.close()
        await asyncio.gather(*readers, return_exceptions=True)
    return {"streams": len(opened), "latencies": latencies, "expected": len(opened) * len(cases),
            "cpu_us": cpu / len(cases) * 1e6, "idle_cpu": idle}


def screens(topology: Topology, seed: int) -> dict:
    from api.auth import AuthConfig

    auth = AuthConfig.from_env(topology.settings(), {})
    tokens = [auth.mint("national", "national:FR", subject=f"bench-{i}") for i in range(STREAMS)]
    result = asyncio.run(_screens(topology, tokens, _new_cases(seed, LATENCY_CASES)))
    _wait_until(lambda: _query(topology.writer_url, VIEWS_CAUGHT_UP) is True, 120, "views")
    return result


# ---- faults -----------------------------------------------------------------------------------------------------


class Dashboard(threading.Thread):
    """Reads the national view from one API server every DASHBOARD_EVERY seconds; the times it got an answer."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(name="dashboard", daemon=True)
        self.url, self.token = url, token
        self.answered: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10, headers={"authorization": f"Bearer {self.token}"}) as client:
            while not self.stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + "/api/v1/views/national/FR").status_code == 200:
                        self.answered.append(time.monotonic())
                self.stop.wait(DASHBOARD_EVERY)


class StoredWatch(threading.Thread):
    """The moments the count of stored messages grew, read on the primary every 0.1 s (through the writers'
    multi-host URL: after a failover, from the new primary as soon as it takes writes)."""

    def __init__(self, topology: Topology) -> None:
        super().__init__(name="stored", daemon=True)
        self.topology = topology
        self.grew: list[float] = []
        self.answered: list[float] = []  # a read-write session answered: after a kill, the new primary takes writes
        self.stop = threading.Event()

    def run(self) -> None:
        last = -1
        probe = Probe(self.topology.writer_url)
        while not self.stop.wait(0.1):
            count = probe.stored()
            if count >= 0:
                self.answered.append(time.monotonic())
            if count > last:
                if last >= 0:
                    self.grew.append(time.monotonic())
                last = count
        probe.close()


def _publish_steadily(topology: Topology, messages: list, errors: list) -> None:
    """FAULT_RATE messages a second, each with its own Nats-Msg-Id, published again through a server's loss."""
    from adapters.nats.server import connect
    from adapters.nats.stream import subject_for

    settings = topology.settings()

    async def run() -> None:
        nc = await connect(settings.nats_url or "", name="bench-steady")
        js = nc.jetstream(timeout=5)
        start = time.monotonic()
        run_id = uuid.uuid4().hex[:8]
        for i, m in enumerate(messages):
            await asyncio.sleep(max(0.0, start + i / FAULT_RATE - time.monotonic()))
            headers = {"Nats-Msg-Id": f"bench-{run_id}-{i}", "Content-Type": m.content_type}
            for attempt in range(120):
                try:
                    await js.publish(subject_for(settings, m.kind), m.raw, headers=headers)
                    break
                except Exception:  # noqa: BLE001 - a server gone, an election: publish again
                    if attempt == 119:
                        raise
                    await asyncio.sleep(0.5)
        await nc.close()

    try:
        asyncio.run(run())
    except BaseException as error:  # noqa: BLE001 - reported by the caller
        errors.append(error)


def _longest_gap(times: list[float], since: float) -> float:
    """The longest interval between consecutive moments that ends after `since` (the kill)."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > since]
    return max(gaps, default=float("nan"))


def _stream_leader(cluster: Cluster, stream: str) -> str:
    """The component name of the NATS server leading the stream's copies (nats0 if none says)."""
    by_server = {c["server_name"]: c for c in cluster.layout.components() if c["kind"] == "nats"}
    for c in by_server.values():
        try:
            info = httpx.get(c["monitor"] + "/jsz?accounts=true&streams=true", timeout=3).json()
        except (httpx.HTTPError, ValueError):
            continue
        for account in info.get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                leader = (detail.get("cluster") or {}).get("leader")
                if detail.get("name") == stream and leader in by_server:
                    return by_server[leader]["name"]
    return "nats0"


def fault(cluster: Cluster, what: str, seed: int) -> dict:
    from adapters.simulator import simulate
    from api.auth import AuthConfig

    topology = cluster.topology()
    token = AuthConfig.from_env(topology.settings(), {}).mint("national", "national:FR")
    messages = list(simulate("storm", size=int(FAULT_RATE * (FAULT_BEFORE + FAULT_AFTER)), seed=seed))
    distinct = len({m.distribution_id for m in messages})
    before = _stored(topology) or 0
    dashboards = [Dashboard(url, token) for url in topology.api]
    watch = StoredWatch(topology)
    errors: list[BaseException] = []
    publisher = threading.Thread(target=_publish_steadily, args=(topology, messages, errors), daemon=True)
    for thread in (*dashboards, watch, publisher):
        thread.start()
    try:
        time.sleep(FAULT_BEFORE)
        rows = cluster.status()
        if what == "postgresql":
            victim = next(n for n, r in rows.items() if r["kind"] == "postgresql" and r["role"] == "primary")
        else:
            victim = _stream_leader(cluster, topology.settings().nats_stream)
        killed_at = time.monotonic()
        os.killpg(rows[victim]["pid"], signal.SIGKILL)
        publisher.join(FAULT_AFTER + 300)
        if errors or publisher.is_alive():
            raise RuntimeError(f"publication interrompue : {errors}")
        # Every message stored once, else the shortfall is a figure too (the fault test fails on it).
        deadline = time.monotonic() + 180
        while (stored := _stored(topology) or 0) < before + distinct and time.monotonic() < deadline:
            time.sleep(0.5)
        missing = before + distinct - stored
    finally:
        for thread in (*dashboards, watch):
            thread.stop.set()  # type: ignore[attr-defined]
            thread.join(15)
    cluster.up()  # the killed member back (the old primary rewound into a standby)
    _wait_until(lambda: _query(topology.writer_url, VIEWS_CAUGHT_UP) is True, 300, "views")
    steady = _longest_gap([t for t in watch.grew if t < killed_at], 0.0)
    writable = min((t for t in watch.answered if t > killed_at), default=float("nan")) - killed_at
    return {"victim": victim, "no_ingestion_s": _longest_gap(watch.grew, killed_at), "steady_gap_s": steady,
            "writable_after_s": writable, "missing": missing,
            "no_dashboard_s": max(_longest_gap(d.answered, killed_at) for d in dashboards)}


# ---- the run --------------------------------------------------------------------------------------------------


def _ratio(cluster: float, single: float) -> str:
    return f"×{cluster / single:.2f}" if single else "-"


def main() -> dict:
    if os.environ.get("TOCSIN_BENCH_CLUSTER") == "0":
        print("   ignoré (TOCSIN_BENCH_CLUSTER=0)", flush=True)
        return {}
    pace_before = cpu_pace()
    single, cluster = SingleNode(), Cluster()
    try:
        began = time.perf_counter()
        alone = single.start()
        started = time.perf_counter()
        cluster.up("--fresh")
        print(f"   nœud unique prêt en {started - began:.0f} s, grappe locale en {time.perf_counter() - started:.0f} s"
              f" (ports {cluster.base}-{cluster.base + 99})", flush=True)
        grappe = cluster.topology()
        topologies = (alone, grappe)
        ingest: dict[str, list[dict]] = {t.label: [] for t in topologies}
        screen: dict[str, list[dict]] = {t.label: [] for t in topologies}
        for run in range(RUNS):  # in turn, so that the machine's load weighs on both alike
            for t in topologies:
                ingest[t.label].append(got := ingestion(t, seed=1000 + run))
                print(f"   ({t.label}, tour {run + 1} : ingestion {fmt(got['rate'])} messages/s, "
                      f"{fmt(got['cpu_us'])} µs de CPU par message)", flush=True)
        for run in range(RUNS):
            for t in topologies:
                screen[t.label].append(got := screens(t, seed=2000 + run))
                print(f"   ({t.label}, tour {run + 1} : {got['streams']} flux ouverts, message → écran p50 "
                      f"{_percentile(got['latencies'], 0.5) * 1000:.0f} ms, p99 "
                      f"{_percentile(got['latencies'], 0.99) * 1000:.0f} ms)", flush=True)
        faults: dict[str, list[dict]] = {"postgresql": [], "nats": []}
        try:
            for run in range(FAULT_RUNS):
                for n, what in enumerate(faults):  # a seed each: the same messages again would all be duplicates
                    faults[what].append(got := fault(cluster, what, seed=3000 + 10 * run + n))
                    print(f"   (panne {what}, tour {run + 1}, {got['victim']} tué : sans ingestion "
                          f"{got['no_ingestion_s']:.1f} s, sans tableau de bord {got['no_dashboard_s']:.1f} s, "
                          f"{got['missing']} messages manquants)", flush=True)
        except Exception as error:  # noqa: BLE001 - the figures measured so far are still printed
            print(f"   pannes interrompues : {error!r}", flush=True)
        pace_after = cpu_pace()
        return _report(alone, grappe, ingest, screen, faults, (pace_before, pace_after))
    finally:
        try:
            cluster.down()
        finally:
            single.stop()


def _report(alone: Topology, grappe: Topology, ingest: dict, screen: dict, faults: dict,
            pace: tuple[float, float]) -> dict:
    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    result: dict = {"runs": RUNS, "fault_runs": FAULT_RUNS, "messages": MESSAGES}
    rate = {t.label: med(ingest[t.label], "rate") for t in (alone, grappe)}
    cpu = {t.label: med(ingest[t.label], "cpu_us") for t in (alone, grappe)}
    print(f"   ingestion ({fmt(MESSAGES)} messages publiés d'un coup, médiane de {RUNS}) : grappe "
          f"{fmt(rate['grappe'])} messages/s, nœud unique {fmt(rate['nœud unique'])} messages/s"
          f" ({_ratio(rate['grappe'], rate['nœud unique'])}) ; CPU de toute la topologie par message (vues"
          f" comprises, repos déduit) : grappe {fmt(cpu['grappe'])} µs, nœud unique {fmt(cpu['nœud unique'])} µs"
          f" ({_ratio(cpu['grappe'], cpu['nœud unique'])})", flush=True)
    idle = {t.label: med(ingest[t.label], "idle_cpu") * 100 for t in (alone, grappe)}
    print(f"   au repos (sans message), CPU de toute la topologie, déduit des chiffres par message : grappe "
          f"{idle['grappe']:.0f} % d'un cœur, nœud unique {idle['nœud unique']:.0f} %", flush=True)
    result["ingestion"] = {"messages_per_s": {k: round(v) for k, v in rate.items()},
                           "cpu_us_per_message": {k: round(v) for k, v in cpu.items()},
                           "idle_cpu_percent": {k: round(v) for k, v in idle.items()}}

    lat: dict[str, dict] = {}
    for t in (alone, grappe):
        runs = screen[t.label]
        lat[t.label] = {
            "p50_ms": statistics.median(_percentile(r["latencies"], 0.5) * 1000 for r in runs),
            "p99_ms": statistics.median(_percentile(r["latencies"], 0.99) * 1000 for r in runs),
            "streams": min(r["streams"] for r in runs),
            "delivered": sum(len(r["latencies"]) for r in runs), "expected": sum(r["expected"] for r in runs),
            "cpu_us_per_message": statistics.median(r["cpu_us"] for r in runs),
            "idle_cpu_percent": statistics.median(r["idle_cpu"] for r in runs) * 100,
        }
    g, s = lat["grappe"], lat["nœud unique"]
    print(f"   message → écran ({LATENCY_CASES} affaires nouvelles, une toutes les {LATENCY_EVERY:g} s, médiane de "
          f"{RUNS}) : visé {fmt(STREAM_GOAL)} flux sur les deux serveurs d'API, tenus {fmt(g['streams'])} (grappe) et "
          f"{fmt(s['streams'])} (nœud unique) ; grappe p50 {g['p50_ms']:.0f} ms, p99 {g['p99_ms']:.0f} ms ; nœud "
          f"unique p50 {s['p50_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms ({_ratio(g['p50_ms'], s['p50_ms'])} et"
          f" {_ratio(g['p99_ms'], s['p99_ms'])}) ; livrés {fmt(g['delivered'])}/{fmt(g['expected'])} et "
          f"{fmt(s['delivered'])}/{fmt(s['expected'])} ; CPU de la topologie par message diffusé à tous les flux "
          f"(son coût au repos, flux ouverts, déduit) : grappe {fmt(g['cpu_us_per_message'])} µs, nœud unique "
          f"{fmt(s['cpu_us_per_message'])} µs ({_ratio(g['cpu_us_per_message'], s['cpu_us_per_message'])}), soit "
          f"{fmt(g['cpu_us_per_message'] / max(1, g['streams']))} et "
          f"{fmt(s['cpu_us_per_message'] / max(1, s['streams']))} µs par événement remis à un flux ; "
          f"au repos flux ouverts : {g['idle_cpu_percent']:.0f} % et {s['idle_cpu_percent']:.0f} % d'un cœur",
          flush=True)
    result["screen"] = {"goal_streams": STREAM_GOAL,
                        **{k: {m: round(v, 1) for m, v in d.items()} for k, d in lat.items()}}

    replay_lag = [x for r in ingest["grappe"] for x in r["replay_lag"]]
    replay_age = [x for r in ingest["grappe"] for x in r["replay_age"]]
    if replay_lag or replay_age:
        def stats(xs: list[float]) -> str:
            return (f"p50 {_percentile(xs, 0.5) * 1000:.0f} ms, p99 {_percentile(xs, 0.99) * 1000:.0f} ms, "
                    f"max {max(xs, default=float('nan')) * 1000:.0f} ms")
        print(f"   retard de lecture du secondaire sous la charge d'ingestion ({len(replay_age)} relevés) : replay_lag "
              f"(pg_stat_replication) {stats(replay_lag)} ; now() − pg_last_xact_replay_timestamp() {stats(replay_age)}"
              f" ; nœud unique : sans objet (les vues sont lues sur le primaire)", flush=True)
        result["standby_lag_ms"] = {
            name: {"p50": round(_percentile(xs, 0.5) * 1000), "p99": round(_percentile(xs, 0.99) * 1000),
                   "max": round(max(xs, default=0) * 1000)} for name, xs in (("replay_lag", replay_lag),
                                                                            ("replay_age", replay_age))}

    labels = {"postgresql": "perte du primaire PostgreSQL (bascule Patroni)",
              "nats": "perte d'un serveur NATS (celui qui mène le flux)"}
    result["faults"] = {}
    for what, runs in faults.items():
        if not runs:
            continue
        no_ingest = statistics.median(r["no_ingestion_s"] for r in runs)
        no_dash = statistics.median(r["no_dashboard_s"] for r in runs)
        steady = statistics.median(r["steady_gap_s"] for r in runs)
        writable = statistics.median(r["writable_after_s"] for r in runs)
        print(f"   {labels[what]} ({', '.join(r['victim'] for r in runs)} tué par kill -9 de son groupe, "
              f"{len(runs)} essai{'s' if len(runs) > 1 else ''}, {FAULT_RATE:.0f} messages/s) : sans ingestion "
              f"{no_ingest:.1f} s (en régime, au plus {steady:.1f} s entre deux messages stockés ; une session en "
              f"écriture répond {writable:.1f} s après la panne) ; sans tableau de "
              f"bord {no_dash:.1f} s (le pire des deux serveurs d'API, lu toutes les {DASHBOARD_EVERY:g} s) ; "
              f"messages jamais stockés : {sum(r['missing'] for r in runs)} ; nœud "
              f"unique : arrêt jusqu'au redémarrage du serveur", flush=True)
        result["faults"][what] = {"no_ingestion_s": round(no_ingest, 1), "no_dashboard_s": round(no_dash, 1),
                                  "steady_gap_s": round(steady, 1), "writable_after_s": round(writable, 1),
                                  "missing": sum(r["missing"] for r in runs)}
    print(f"   (étalon CPU : {pace[0]:.2f} s avant, {pace[1]:.2f} s après ; voir tests.benchmarks.cpu_pace)",
          flush=True)
    result["cpu_pace_seconds"] = [round(pace[0], 3), round(pace[1], 3)]
    return result


if __name__ == "__main__":
    main()
