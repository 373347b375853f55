"""Ingestion throughput: simulated realistic messages on a JetStream stream → committed events.

The figure is the `tocsin ingest --nats --drain` process's own rate (from its first batch received
to its last batch committed), run as users run it; its peak memory (max RSS) is measured by the
kernel, for the process and for its worker processes (which prepare batches), summed. In the same
run, the same raw bytes are written with a binary COPY into a plain table: the floor cost of getting
those bytes into PostgreSQL, to compare against.

The CPU each message costs is given per part: the ingester's process, its workers, and PostgreSQL and
NATS when they run on this machine (read from /proc), start-up taken out (measured in the same run, on
an empty stream). Against the goal, their sum is what counts: at 5,000 messages/s, 2 cores leave
400 µs of CPU a message for all of them.
Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_ingestion [N]`.
Database: TOCSIN_TEST_DATABASE_URL, else the local test database, else an embedded PostgreSQL.
NATS: TOCSIN_BENCH_NATS_URL, else a private embedded nats-server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.sql import SQL, Identifier

from tests.benchmarks import cpu_pace, database_url, fmt, proc_status_kib
from tests.support.sql import database_url_of, first_row

ROOT = Path(__file__).resolve().parents[2]
GOAL = 5_000  # messages/s, end to end, on one 2-core machine
SERVERS = ("postgres", "nats-server")  # whose CPU per message is read from /proc when they run here
BUDGET_LABELS = {"ingester": "ingesteur", "workers": "préparation", "postgres": "PostgreSQL", "nats-server": "NATS"}


def _publish(settings, messages) -> None:
    from adapters.nats.server import connect
    from adapters.nats.stream import Publishable, ensure_stream, publish

    async def run() -> None:
        nc = await connect(settings.nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, settings)
            await publish(js, settings, (Publishable(m.raw, m.content_type, m.kind) for m in messages))
        finally:
            await nc.close()

    asyncio.run(run())


def _delete_stream(settings) -> None:
    from adapters.nats.server import connect

    async def run() -> None:
        nc = await connect(settings.nats_url)
        try:
            await nc.jetstream().delete_stream(settings.nats_stream)
        finally:
            await nc.close()

    asyncio.run(run())


def _ingest(settings) -> tuple[dict, float, int, float, float]:
    """Run the real command; its summary, its wall time, its peak RSS in kB, its CPU seconds with its
    worker processes', and its own process's alone."""
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": settings.database_url,
        "TOCSIN_DB_SCHEMA": settings.schema,
        "TOCSIN_NATS_URL": settings.nats_url,
        "TOCSIN_NATS_STREAM": settings.nats_stream,
        "TOCSIN_NATS_SUBJECT": settings.nats_subject,
        "TOCSIN_DATA_DIR": str(settings.data_dir),
    }
    out = settings.data_dir / "ingest.out"
    cpu_before = _children_cpu()
    began = time.perf_counter()
    with open(out, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", "ingest", "--nats", "--drain", "--json"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.DEVNULL,
        )
        # The kernel's high-water mark of each process's own memory, read until it exits. (wait4's
        # ru_maxrss would report this runner's size instead when it is the larger: Linux carries
        # the parent's peak over fork and exec.) Workers count too: the sum of their peaks.
        peaks: dict[int, int] = {}
        # Exited but not yet reaped (WNOWAIT), the process still shows its final CPU times in /proc: read
        # there, its own CPU includes its last moments, which sampling every 0.1 s would miss.
        while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            for pid in [process.pid, *_descendants(process.pid)]:
                peaks[pid] = max(peaks.get(pid, 0), proc_status_kib(pid, "VmHWM"))
            time.sleep(0.1)
        own_cpu = _cpu_seconds(process.pid) or 0.0
        process.wait()
        peak = sum(peaks.values())
    wall = time.perf_counter() - began
    if process.returncode != 0:
        raise RuntimeError(f"l'ingestion a échoué : {out.read_text()}")
    return json.loads(out.read_text()), wall, peak, _children_cpu() - cpu_before, own_cpu


def _children_cpu() -> float:
    """User + system CPU seconds of the waited-for children (the command and the workers it waited for):
    unlike the rate, barely changed by other work on the machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime



def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses);
    None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _cpu_seconds(pid: int, *, waited_children: bool = False) -> float | None:
    """User + system CPU seconds of a process (and of its children it waited for), from /proc."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if waited_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _server_cpu(name: str) -> float | None:
    """CPU seconds of the processes of a server on this machine (`postgres`, `nats-server`): its
    processes' own and, for their exited children (PostgreSQL's backends), what their parent waited
    for. None when none runs here (a remote server: its CPU cannot be read)."""
    total, found = 0.0, False
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != name:
                continue
        except OSError:
            continue
        seconds = _cpu_seconds(int(comm.parent.name), waited_children=True)
        if seconds is not None:
            total, found = total + seconds, True
    return total if found else None


def _spent(before: float | None, after: float | None) -> float | None:
    return after - before if before is not None and after is not None else None


def _descendants(pid: int) -> list[int]:
    """Children, grandchildren… of `pid` (the forkserver and the workers it starts), from /proc."""
    parents: dict[int, int] = {}
    for process in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(process.name)
        if fields is not None:
            parents[int(process.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _copy_rate(url: str, schema: str, raws: list[bytes]) -> float:
    """Messages/s of a binary COPY of the raw bytes into a plain table, committed."""
    table = SQL("{}.bench_raw_copy").format(Identifier(schema))
    with psycopg.connect(url) as conn:
        conn.execute(SQL("CREATE TABLE {} (seq bigint, body bytea)").format(table))
        conn.commit()
        began = time.perf_counter()
        with conn.cursor().copy(SQL("COPY {} (seq, body) FROM STDIN (FORMAT BINARY)").format(table)) as copy:
            copy.set_types(["int8", "bytea"])
            for seq, raw in enumerate(raws, start=1):
                copy.write_row((seq, raw))
        conn.commit()
        return len(raws) / (time.perf_counter() - began)


def main(size: int | None = None) -> dict:
    from adapters.embedded import EmbeddedNats
    from adapters.settings import Settings
    from adapters.simulator import simulate

    size = size or int(os.environ.get("TOCSIN_BENCH_MESSAGES", "20000"))
    work = Path(tempfile.mkdtemp(prefix="tocsin-bench-ingest-"))
    work.chmod(0o755)  # an embedded PostgreSQL started as root runs as another user
    tag = uuid.uuid4().hex[:8]
    server = None
    nats_url = os.environ.get("TOCSIN_BENCH_NATS_URL")
    if not nats_url:
        server = EmbeddedNats(work).start()
        nats_url = server.url
    settings = Settings(
        database_url=database_url(), nats_url=nats_url, data_dir=work, schema=f"bench_ingest_{tag}",
        nats_stream=f"BENCH_{tag}", nats_subject=f"bench{tag}.>",
    )
    try:
        pace_before = cpu_pace()
        began = time.perf_counter()
        messages = list(simulate("storm", size=size, seed=7))
        generated = time.perf_counter() - began
        began = time.perf_counter()
        _publish(settings, messages)
        published = time.perf_counter() - began

        # Start-up alone, to take it out of the per-message figures: the same command on an empty stream
        # (it starts its workers, which load the geography and schemas, then finds nothing to read).
        empty = dataclasses.replace(settings, nats_stream=f"BENCH_{tag}_EMPTY", nats_subject=f"bench{tag}empty.>")
        _, _, _, start_cpu, start_own = _ingest(empty)
        _delete_stream(empty)

        servers_before = {name: _server_cpu(name) for name in SERVERS}
        summary, wall, peak_kb, cpu, own_cpu = _ingest(settings)
        servers = {name: _spent(before, _server_cpu(name)) for name, before in servers_before.items()}
        with psycopg.connect(database_url_of(settings)) as conn:
            events = first_row(conn.execute(
                SQL("SELECT count(*) FROM {}.tocsin_events").format(Identifier(settings.schema))
            ))[0]
        expected = len({m.distribution_id for m in messages})
        if events != expected or summary["position"] != size:
            raise RuntimeError(f"ingestion incomplète : {events} événements pour {expected} messages distincts")

        copy_rate = _copy_rate(database_url_of(settings), settings.schema, [m.raw for m in messages])
        pace_after = cpu_pace()
        rate = summary["messages_per_s"]
        mean_size = sum(len(m.raw) for m in messages) / len(messages)
        result = {
            "messages": size, "mean_bytes": round(mean_size), "ingest_messages_per_s": rate,
            "ingest_wall_s": round(wall, 1), "ingest_peak_rss_mb": round(peak_kb / 1024),
            "ingest_cpu_us_per_message": round(cpu / size * 1e6),
            "copy_messages_per_s": round(copy_rate), "ratio": round(rate / copy_rate, 4),
            "publish_messages_per_s": round(size / published), "simulate_messages_per_s": round(size / generated),
            "cpu_pace_seconds": [round(pace_before, 3), round(pace_after, 3)],
            "cpu_us_per_message_after_start": {
                "ingester": round((own_cpu - start_own) / size * 1e6),
                "workers": round((cpu - own_cpu - (start_cpu - start_own)) / size * 1e6),
                **{name: round(spent / size * 1e6) if spent is not None else None for name, spent in servers.items()},
            },
        }
        budget = result["cpu_us_per_message_after_start"]
        known = [v for v in budget.values() if v is not None]
        print(f"ingestion NATS → événements : {fmt(size)} messages simulés ({fmt(mean_size)} octets en moyenne), "
              f"{fmt(rate)} messages/s ({summary['elapsed_s']:.1f} s du premier lot reçu au dernier validé ; "
              f"{wall:.1f} s avec le démarrage du processus)")
        print(f"temps CPU du processus d'ingestion et de ses auxiliaires (hors PostgreSQL) : {cpu:.1f} s, "
              f"{fmt(cpu / size * 1e6)} µs par message (démarrage compris)")
        print("CPU par message, démarrage déduit (" + ", ".join(
              f"{BUDGET_LABELS[name]} : {fmt(v) + ' µs' if v is not None else 'non mesurable ici'}"
              for name, v in budget.items()) + f") : {fmt(sum(known))} µs, soit {sum(known) * rate / 1e6:.2f} cœurs "
              f"occupés ; {fmt(GOAL)} messages/s sur {os.cpu_count()} cœurs "
              f"en laissent {fmt((os.cpu_count() or 1) * 1e6 / GOAL)}")
        print(f"mémoire maximale du processus d'ingestion (et de ses processus auxiliaires) : {fmt(peak_kb / 1024)} Mo")
        print(f"COPY binaire des mêmes octets bruts dans une table simple : {fmt(copy_rate)} messages/s ; "
              f"rapport ingestion/COPY : {rate / copy_rate:.3f} (COPY {copy_rate / rate:.0f} fois plus rapide)")
        print(f"publication NATS : {fmt(result['publish_messages_per_s'])} messages/s ; "
              f"simulation : {fmt(result['simulate_messages_per_s'])} messages/s")
        print(f"objectif {fmt(GOAL)} messages/s : {'atteint' if rate >= GOAL else 'non atteint'} (étalon CPU :"
              f" {pace_before:.2f} s avant, {pace_after:.2f} s après ; voir tests.benchmarks.cpu_pace)")
        return result
    finally:
        try:
            _delete_stream(settings)
        except Exception:
            pass
        with psycopg.connect(database_url_of(settings), autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(settings.schema)))
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
