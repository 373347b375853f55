"""The embedded PostgreSQL stops with its last holder: after an earlier holder was killed, and when a
service manager stops `tocsin serve` with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from adapters.embedded import free_port
from tests.support.nats_harness import ROOT, tocsin_command, wait_until

HOLD = """
import sys, time
from pathlib import Path
from adapters.embedded import embedded_database_url
print(embedded_database_url(Path(sys.argv[1])), flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(data: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", HOLD, str(data), str(seconds)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline()


def _running(pgdata: Path) -> bool:
    return (pgdata / "postmaster.pid").exists()


@pytest.mark.slow
def test_a_killed_holder_does_not_keep_the_server_running_forever(tmp_path: Path) -> None:
    pgdata = tmp_path / "postgres"
    killed = _hold(tmp_path, 120)
    try:
        assert _first_line(killed).startswith("postgresql://")
        assert _running(pgdata)
        os.kill(killed.pid, signal.SIGKILL)  # never takes itself off the holders' list
        killed.wait(10)
        last = _hold(tmp_path, 0)
        assert _first_line(last).startswith("postgresql://")
        assert last.wait(60) == 0
        deadline = time.monotonic() + 30
        while _running(pgdata) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(pgdata), "the last holder exited but the embedded PostgreSQL still runs"
    finally:
        if killed.poll() is None:
            killed.kill()
        if _running(pgdata):  # leave nothing behind: a holder that exits cleanly stops it
            subprocess.run([sys.executable, "-c", f"from pathlib import Path; from adapters.embedded import "
                            f"embedded_database_url; embedded_database_url(Path({str(tmp_path)!r}))"],
                           cwd=ROOT, timeout=60)


@pytest.mark.slow
def test_serve_stopped_with_sigterm_stops_its_embedded_postgres(tmp_path: Path) -> None:
    port, pgdata = free_port(), tmp_path / "postgres"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(tocsin_command("serve", "--port", str(port)), cwd=ROOT, stdout=log, stderr=log,
                              env={**env, "TOCSIN_DATA_DIR": str(tmp_path)})

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return server.poll() is not None

    try:
        wait_until(answers, 90, "the app to answer")
        assert server.poll() is None and _running(pgdata), (tmp_path / "serve.log").read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(30)
        log.close()
    assert returncode == 0, (tmp_path / "serve.log").read_text()
    wait_until(lambda: not _running(pgdata), 30, "the embedded PostgreSQL to stop")
