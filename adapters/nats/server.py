"""Which NATS server to talk to: TOCSIN_NATS_URL, else the embedded one kept under the data folder.

The embedded server listens on a port remembered in `data_dir/nats/port`, so that `tocsin simulate
--nats`, `tocsin ingest --nats` and `tocsin status` run as separate processes meet the same server and
the same JetStream store. The first process that needs it starts it and stops it when done; the others
join it. The store is on disk, so messages published by a process that has exited are still there.
"""

from __future__ import annotations

import fcntl
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nats.aio.client import Client

from adapters.embedded import EmbeddedNats, free_port
from adapters.settings import Settings

log = logging.getLogger(__name__)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


@contextmanager
def nats_url(settings: Settings) -> Iterator[str]:
    """The configured NATS URL, or the embedded server's (joined, or started here for the duration)."""
    if settings.nats_url:
        yield settings.nats_url
        return
    folder = (settings.data_dir / "nats").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    server = _join_or_start(folder, settings.data_dir)
    try:
        yield server.url if isinstance(server, EmbeddedNats) else server
    finally:
        if isinstance(server, EmbeddedNats):
            server.stop()


def _join_or_start(folder: Path, data_dir: Path) -> EmbeddedNats | str:
    port_file = folder / "port"
    # The lock makes "is it running? else start it" atomic between processes sharing the data folder.
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        port = int(port_file.read_text()) if port_file.exists() else 0
        if port and _listening(port):
            log.info("joining the embedded NATS on port %d", port)
            return f"nats://127.0.0.1:{port}"
        server = EmbeddedNats(data_dir, port=port or free_port()).start()
        port_file.write_text(str(server.port))
        return server


def servers(url: str) -> list[str]:
    """TOCSIN_NATS_URL may list a cluster's servers, comma-separated: the client moves to another when one
    goes (and learns the others from the cluster itself)."""
    return [u.strip() for u in url.split(",") if u.strip()]


async def connect(
    url: str, *, name: str = "tocsin", connect_timeout: float = 5.0, on_disconnect: Callable[[], None] | None = None
) -> Client:
    """A client that keeps reconnecting forever: a NATS restart must pause ingestion, not end it.
    `on_disconnect` is called when the connection drops (not when it is closed on purpose)."""

    async def on_error(error: Exception) -> None:
        log.info("NATS: %r", error)  # reconnection attempts are expected while a server restarts

    async def disconnected() -> None:
        if not client.is_closed:  # closing on purpose also reports a disconnection
            log.warning("NATS: connection lost, reconnecting")
            if on_disconnect is not None:
                on_disconnect()

    async def on_reconnect() -> None:
        log.warning("NATS: reconnected")

    client = Client()
    await client.connect(
        servers=servers(url),
        name=name,
        # nats-py annotates these as int but uses them as asyncio timeouts: fractions of a second work.
        connect_timeout=connect_timeout,  # type: ignore[arg-type]
        reconnect_time_wait=0.5,  # type: ignore[arg-type]
        max_reconnect_attempts=-1,
        allow_reconnect=True,
        error_cb=on_error,
        disconnected_cb=disconnected,
        reconnected_cb=on_reconnect,
    )
    return client
