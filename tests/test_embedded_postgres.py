"""The embedded PostgreSQL stops with its last holder, even after an earlier holder was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HOLD = """
import sys, time
from pathlib import Path
from adapters.embedded import embedded_database_url
print(embedded_database_url(Path(sys.argv[1])), flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(data: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLD, str(data), str(seconds)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent.parent)


def _running(pgdata: Path) -> bool:
    return (pgdata / "postmaster.pid").exists()


@pytest.mark.slow
def test_a_killed_holder_does_not_keep_the_server_running_forever(tmp_path: Path) -> None:
    pgdata = tmp_path / "postgres"
    killed = _hold(tmp_path, 120)
    try:
        assert killed.stdout.readline().startswith("postgresql://")
        assert _running(pgdata)
        os.kill(killed.pid, signal.SIGKILL)  # never takes itself off the holders' list
        killed.wait(10)
        last = _hold(tmp_path, 0)
        assert last.stdout.readline().startswith("postgresql://")
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
                           cwd=Path(__file__).parent.parent, timeout=60)
