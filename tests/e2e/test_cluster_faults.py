"""The multi-machine topology on this machine's loopback (deploy/local-cluster), proven by killing nodes.

While a simulated crisis streams at a steady rate over NATS, the PostgreSQL primary's machine is killed
(its Patroni and PostgreSQL, one process group, SIGKILL: a failover), then one NATS server, the ingester
that leads, one API server and the projection worker that leads. The dashboard is read all along from
the other API server. Then the killed components are started again (`up`: the old primary rejoins, by
pg_rewind, as a standby) and, once the stream is ingested:

- every distinct message published is stored once (an event, or quarantine), nothing else;
- every view equals a rebuild from zero; the audit chain verifies;
- the primary is the other member, and the old one a standby;
- the surviving API server answered every dashboard request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from adapters.settings import Settings
from adapters.simulator import simulate
from tests.support.paths import ROOT
from tests.support.ports import free_port_block
from tests.support.sql import first_row

SCRIPT = ROOT / "deploy" / "local-cluster"
RATE = 40.0  # messages per second, steadily
SIZE = 1600  # 40 s of crisis
DASHBOARD_EVERY = 0.25


@functools.cache
def base_port() -> int:
    """Free ports chosen when the run starts (TOCSIN_TEST_CLUSTER_PORT to impose them): two runs at once, or a
    run beside `make bench`'s cluster or a developer's own, never share one."""
    return int(os.environ.get("TOCSIN_TEST_CLUSTER_PORT") or free_port_block())


def cluster(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *args, "--dir", str(folder), "--base-port", str(base_port())],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def status(folder: Path) -> dict[str, dict]:
    result = cluster(folder, "status", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def env_of(folder: Path) -> dict[str, str]:
    result = cluster(folder, "env", timeout=60)
    assert result.returncode == 0, result.stderr
    env = {}
    for line in result.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


def wait_until(condition, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def leader(folder: Path, kind: str) -> tuple[str, int]:
    """The component of that kind that leads (after a failover, once one has taken the lead again)."""
    found: list[tuple[str, int]] = []

    def led() -> bool:
        found[:] = [(n, c["pid"]) for n, c in status(folder).items() if c["kind"] == kind and c["role"] == "leader"]
        return bool(found)

    wait_until(led, 60, f"a leading {kind}")
    return found[0]


def kill_group(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def local_cluster():
    # Under the repository (not pytest's 0700 temporary folder): the PostgreSQL user must reach its data.
    folder = ROOT / "var" / f"test-cluster-{os.getpid()}"
    started = time.monotonic()
    result = cluster(folder, "up", "--fresh")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert time.monotonic() - started < 240  # `up` returns within four minutes
        yield folder
    finally:
        cluster(folder, "down", timeout=120)
        # The components' logs outlive the run, for whoever reads a failure.
        shutil.rmtree(ROOT / "var" / "test-cluster-logs", ignore_errors=True)
        shutil.copytree(folder / "logs", ROOT / "var" / "test-cluster-logs", dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


class Dashboard(threading.Thread):
    """Reads the national view from one API server every DASHBOARD_EVERY seconds, keeping every answer."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(name="dashboard", daemon=True)
        self.url, self.token = url, token
        self.answers: list[tuple[float, int | str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10, headers={"authorization": f"Bearer {self.token}"}) as client:
            while not self.stop.is_set():
                try:
                    code: int | str = client.get(self.url + "/api/v1/views/national/FR").status_code
                except httpx.HTTPError as error:
                    code = repr(error)
                self.answers.append((time.monotonic(), code))
                self.stop.wait(DASHBOARD_EVERY)


def publish_steadily(settings: Settings, messages: list, sent: list[str], errors: list) -> None:
    """Publish at RATE per second, each with its own Nats-Msg-Id (a retry after a lost acknowledgement
    is stored once), retrying through a NATS server's loss."""
    from adapters.nats.server import connect
    from adapters.nats.stream import subject_for

    async def run() -> None:
        nc = await connect(settings.nats_url or "", name="test-publisher")
        js = nc.jetstream(timeout=5)
        start = time.monotonic()
        for i, m in enumerate(messages):
            await asyncio.sleep(max(0.0, start + i / RATE - time.monotonic()))
            headers = {"Nats-Msg-Id": f"fault-test-{i}", "Content-Type": m.content_type}
            for attempt in range(60):
                try:
                    await js.publish(subject_for(settings, m.kind), m.raw, headers=headers)
                    break
                except Exception:  # noqa: BLE001 - a server gone, an election: publish again
                    if attempt == 59:
                        raise
                    await asyncio.sleep(0.5)
            sent.append(m.distribution_id)
        await nc.close()

    try:
        asyncio.run(run())
    except BaseException as error:  # reported by the test
        errors.append(error)


def assert_runs_as_the_application_role(folder: Path, env: dict[str, str]) -> None:
    """Tocsin's processes connect as deploy/README.md's application role, which is neither superuser nor owner
    of the history (so they start without the privileged-role warning), and no one connects without a
    password: not that role, not the superuser, not on a member's own address."""
    assert "password" not in env["TOCSIN_DATABASE_URL"].split("?")[0] and "PGPASSFILE" in env
    assert (Path(env["PGPASSFILE"]).stat().st_mode & 0o077) == 0  # the secrets: owner only
    with psycopg.connect(env["TOCSIN_DATABASE_URL"]) as conn:
        user, superuser, createrole, bypassrls = first_row(conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user"))
        sessions = conn.execute(
            "SELECT DISTINCT application_name, usename FROM pg_stat_activity WHERE application_name LIKE 'tocsin-%'"
        ).fetchall()
        owner = first_row(conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'tocsin'"
                                       " AND tablename = 'tocsin_events'"))[0]
    assert (user, superuser, createrole, bypassrls) == ("tocsin_app", False, False, False)
    assert owner != user
    processes = {name for name, _ in sessions}
    assert {"tocsin-api0", "tocsin-ingest0", "tocsin-worker0"} <= processes, sessions
    assert {role for _, role in sessions} == {"tocsin_app"}, sessions
    for name in ("api0", "api1", "ingest0", "ingest1", "worker0", "worker1"):
        assert "could drop the append-only triggers" not in (folder / "logs" / f"{name}.log").read_text()
    members = [c["url"] for c in status(folder).values() if c["kind"] == "postgresql"]
    for url, user in [(env["TOCSIN_DATABASE_URL"], "tocsin_app"), (members[0], "postgres"), (members[1], "postgres")]:
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(url, user=user, passfile=str(folder / "no-pgpass"), connect_timeout=5).close()


@pytest.mark.slow
def test_killing_the_primary_a_nats_server_the_lead_ingester_an_api_server_and_a_worker(local_cluster):
    folder = local_cluster
    env = env_of(folder)
    settings = Settings.from_env(env)
    before = status(folder)
    primary = next(n for n, c in before.items() if c["kind"] == "postgresql" and c["role"] == "primary")
    standby = next(n for n, c in before.items() if c["kind"] == "postgresql" and c["role"] == "standby")
    assert all(c["alive"] for c in before.values()), before
    # The interface's roles: primary / standby for PostgreSQL, leader / follower for the others (an API server
    # leads when it runs the alert policy or their delivery).
    assert {c["role"] for c in before.values() if c["kind"] == "postgresql"} == {"primary", "standby"}
    assert {c["role"] for c in before.values() if c["kind"] in ("api", "ingester", "worker")} <= {"leader", "follower"}

    assert_runs_as_the_application_role(folder, env)

    token = subprocess.run([str(ROOT / ".venv" / "bin" / "tocsin"), "token", "--role", "national", "--territory", "FR"],
                           env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout.strip()
    dashboard = Dashboard(before["api1"]["url"], token)
    dashboard.start()

    messages = list(simulate("storm", size=SIZE, seed=21))
    sent: list[str] = []
    errors: list[BaseException] = []
    publisher = threading.Thread(target=publish_steadily, args=(settings, messages, sent, errors))
    publisher.start()
    killed_at: dict[str, float] = {}
    try:
        wait_until(lambda: len(sent) >= 200, 60, "the crisis streaming")
        killed_at[primary] = time.monotonic()
        kill_group(before[primary]["pid"])
        time.sleep(6)
        killed_at["nats0"] = time.monotonic()
        kill_group(before["nats0"]["pid"])
        # The roles as they stand after the failover (the leading ingester may have changed with it).
        wait_until(lambda: any(c["role"] == "primary" for c in status(folder).values()), 60, "a new primary")
        failover_seconds = time.monotonic() - killed_at[primary]
        leading_ingester, pid = leader(folder, "ingester")
        kill_group(pid)
        time.sleep(3)
        kill_group(before["api0"]["pid"])
        time.sleep(2)
        leading_worker, pid = leader(folder, "worker")
        kill_group(pid)
        killed_at["last"] = time.monotonic()
        publisher.join(SIZE / RATE + 120)
        assert not publisher.is_alive() and not errors, errors
    finally:
        publisher.join(120)

    # The killed components come back: the old primary as a standby of the new one.
    result = cluster(folder, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    published = set(sent)
    assert len(sent) == SIZE

    def drained() -> bool:
        try:
            with psycopg.connect(env["TOCSIN_DATABASE_URL"]) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM tocsin.tocsin_messages) + (SELECT count(*) FROM"
                    " tocsin.tocsin_quarantine), (SELECT min(position) FROM tocsin.tocsin_view_tracking"
                    " WHERE name NOT LIKE '%@rebuild'), (SELECT coalesce(max(notification_id), 0) FROM"
                    " tocsin.tocsin_events)"
                ).fetchone()
        except psycopg.Error:
            return False
        return row is not None and row[0] >= len(published) and row[1] == row[2]

    wait_until(drained, 120, "the stream ingested and the views caught up")
    dashboard.stop.set()
    dashboard.join(15)

    # Exactly once: every distinct message stored once, as an event or in quarantine, and nothing else.
    with psycopg.connect(env["TOCSIN_DATABASE_URL"]) as conn:
        ids = [r[0] for r in conn.execute("SELECT distribution_id FROM tocsin.tocsin_messages")]
        quarantined = first_row(conn.execute("SELECT count(*) FROM tocsin.tocsin_quarantine"))[0]
        events = first_row(conn.execute("SELECT count(*) FROM tocsin.tocsin_events"))[0]
        # The platform's own acts beside the messages: the directory's seed and the alerts the crisis raised.
        own = first_row(conn.execute(
            "SELECT count(*) FROM tocsin.tocsin_events WHERE topic LIKE 'domain.directory_events:%'"
            " OR topic LIKE 'domain.alert:%' OR topic LIKE 'domain.callout:%'"))[0]
    assert len(ids) == len(set(ids))
    assert set(ids) <= published
    assert len(ids) + quarantined == len(published)
    assert events - own == len(ids)  # one event per message, each once

    # `tocsin status --json` counts the same.
    tocsin = str(ROOT / ".venv" / "bin" / "tocsin")
    out = subprocess.run([tocsin, "status", "--json"], env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    reported = json.loads(out)
    assert (reported["messages"], reported["events"], reported["quarantined"]) == (len(ids), events, quarantined)

    # Every view equals a rebuild from zero (the rebuild swaps its tables in: compared before and after).
    from adapters.store.event_store import open_store
    from projections.registry import VIEWS
    from projections.store.rebuild import rebuild
    from tests.integration.test_projections_store import tables

    store = open_store(settings)
    try:
        live = tables(store)
        rebuild(store, VIEWS, partitions=1)
        assert tables(store) == live
    finally:
        store.close()

    # The audit chain verifies.
    audit = subprocess.run([tocsin, "audit", "verify"], env={**os.environ, **env}, capture_output=True, text=True,
                           timeout=300, check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr

    # The primary is the other member; the old one follows it as a standby.
    def roles() -> dict[str, str | None]:
        return {n: c["role"] for n, c in status(folder).items() if c["kind"] == "postgresql"}

    wait_until(lambda: roles() == {primary: "standby", standby: "primary"}, 60, "the old primary as a standby")

    # The API server reads the views from the standby, and says how far behind the primary it is.
    def read_from_standby() -> bool:
        feed = httpx.get(before["api1"]["url"] + "/api/v1/feed", headers={"authorization": f"Bearer {token}"},
                         timeout=10).json()
        return feed["replication"] is not None and feed["replication"]["standby"] is True

    wait_until(read_from_standby, 60, "the views read from the standby")

    # The surviving API server answered the dashboard throughout.
    times = [t for t, _ in dashboard.answers]
    codes = [code for _, code in dashboard.answers]
    assert times[0] < killed_at[primary] and times[-1] > killed_at["last"]
    assert set(codes) == {200}, [c for c in codes if c != 200][:5]
    longest_wait = max(b - a for a, b in zip(times, times[1:], strict=False))
    assert longest_wait < 5.0  # never a dashboard left waiting
    print(f"\nfailover observed after {failover_seconds:.1f} s; {len(codes)} dashboard reads, all answered, the"
          f" longest {longest_wait:.2f} s after the previous one")
