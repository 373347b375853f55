"""Which ingester reads a stream: the one holding a PostgreSQL advisory lock.

Ingestion of a stream is strictly ordered (the stored position is a watermark: every message at or
below it is in the store), so one ingester reads at a time; any other waits, ready to take over the
moment the leader's session ends, which PostgreSQL notices even when the leader is killed with SIGKILL.
The lock lives on its own connection, outside the pool, and is checked before every commit.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)


def lock_key(schema: str, source: str) -> int:
    """A stable signed 64-bit key for (store, stream)."""
    digest = hashlib.sha256(f"tocsin-ingest:{schema}:{source}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leadership:
    def __init__(self, database_url: str, key: int) -> None:
        self.database_url = database_url
        self.key = key
        self.conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lead if nobody holds it; a broken connection is replaced first."""
        if self.conn is None or self.conn.closed or self.conn.broken:
            # A dedicated session, not a pooled one: the lock lives exactly as long as this session.
            self.conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row and row[0])

    def still_held(self) -> bool:
        """True while the lock's session is alive (its locks die with it)."""
        if self.conn is None or self.conn.closed or self.conn.broken:
            return False
        try:
            self.conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def release(self) -> None:
        """Give the lead up by ending the session: it frees the lock even if the unlock call cannot run."""
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = None


def run_while_leading(database_url: str, key: int, step: Callable[[], int], stop: threading.Event,
                      poll_seconds: float = 1.0, on_step: Callable[[], None] | None = None) -> None:
    """Call `step` until it has nothing left to do, again whenever new events are recorded (NOTIFY on
    "tocsin_events") or `poll_seconds` pass, until `stop` is set; only while this process holds the lock
    `key` (another process running the same loop stands by and takes over when this one's session ends).
    The alert policy and the dispatcher each run one."""
    leadership = Leadership(database_url, key)
    try:
        with psycopg.connect(database_url, autocommit=True) as listener:
            listener.execute('LISTEN "tocsin_events"')
            leading = False
            while not stop.is_set():
                # Once held, the lock stays ours while its session lives; until then, ask for it. (Asking
                # again while holding it would count it twice; a live session alone proves nothing.)
                leading = leadership.still_held() if leading else leadership.try_acquire()
                if not leading:
                    stop.wait(poll_seconds)
                    continue
                while not stop.is_set() and step():
                    if on_step:
                        on_step()
                for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                    pass
    finally:
        leadership.release()
