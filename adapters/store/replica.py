"""Where the views are read: a PostgreSQL standby when TOCSIN_READ_DATABASE_URL names one, else the store.

Writers (ingestion, projection workers, the platform's own acts) need the primary; the dashboard and the
API only read views, which streaming replication copies to standbys. A `ReadReplica` is the store as those
readers see it (same schema, same codec) with connections from a pool of its own on the read URL, e.g. a
multi-host URL with `target_session_attrs=prefer-standby`, which falls back to the primary when no standby
answers. A standby replays what the primary committed a little later: `lag` says how much, for the dashboard.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import Mapper
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from adapters.settings import Settings
from adapters.store.event_store import TocsinStore

log = logging.getLogger(__name__)


class ViewSource(Protocol):
    """What the views' readers use of a store: its settings, its codec, pooled connections (rows as dicts)."""

    settings: Settings
    database_url: str

    @property
    def mapper(self) -> Mapper[Any]: ...

    def connect(self) -> AbstractContextManager[Any]: ...


STANDBY_PROBE_SECONDS = 10.0  # how often readers left on a primary look for a standby that came back


class ReadReplica:
    def __init__(self, store: TocsinStore, url: str, *, max_size: int = 8) -> None:
        self.store = store
        self.settings = store.settings
        self.database_url = url
        params = conninfo_to_dict(url)
        # With prefer-standby, connections made while no standby answered (a failover) stay on the primary:
        # once a standby is back (the old primary rejoined), the pool is drained so that they move to it.
        self._standby_url = (
            make_conninfo(url, target_session_attrs="standby", connect_timeout="2")
            if params.get("target_session_attrs") == "prefer-standby" else None
        )
        self._probed_at = 0.0
        self.pool: ConnectionPool = ConnectionPool(
            url,
            kwargs={"row_factory": dict_row, "autocommit": True},
            min_size=1,
            max_size=max_size,
            open=True,  # in the background: a standby still starting must not stop the app's start
            check=ConnectionPool.check_connection,  # a server gone (failover) costs a reconnection, not an error
            name="tocsin-read",
        )

    @property
    def mapper(self) -> Mapper[Any]:
        return self.store.mapper

    def connect(self) -> AbstractContextManager[Any]:
        return self.pool.connection()

    def close(self) -> None:
        self.pool.close()

    def back_to_standby(self) -> bool:
        """Readers on the primary while the URL prefers a standby: if one answers now, move them there."""
        if self._standby_url is None or time.monotonic() - self._probed_at < STANDBY_PROBE_SECONDS:
            return False
        self._probed_at = time.monotonic()
        try:
            psycopg.connect(self._standby_url).close()
        except psycopg.Error:
            return False
        log.warning("a standby answers again: the views' readers move to it")
        self.pool.drain()
        return True


def read_source(store: TocsinStore) -> TocsinStore | ReadReplica:
    """The views' source the settings ask for."""
    url = store.settings.read_database_url
    return ReadReplica(store, url) if url else store


def replication_lag(source: ViewSource) -> dict[str, Any]:
    """Where the readers' server stands: `standby` (or the primary itself), and on a standby how far its replay
    is behind: `lag_bytes` (WAL received, not yet replayed) and `lag_seconds` (age of the last transaction
    replayed, 0 when everything received is replayed: an idle primary sends nothing to be late on)."""
    with source.connect() as conn:
        row = conn.execute(
            "SELECT pg_is_in_recovery() AS standby,"
            " pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS lag_bytes,"
            " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds"
        ).fetchone()
    if not row["standby"]:
        if isinstance(source, ReadReplica) and source.back_to_standby():
            return replication_lag(source)
        return {"standby": False, "lag_bytes": 0, "lag_seconds": 0.0}
    return {
        "standby": True,
        "lag_bytes": int(row["lag_bytes"] or 0),
        "lag_seconds": round(max(0.0, float(row["lag_seconds"] or 0.0)), 3),
    }
