"""The checkpoint tables: writing a checkpoint, finding the one that fits a moment, loading its parts.

Each part is JSON (orjson: fast, and no code runs on load), then compressed and encrypted with
`store.seal`; the views hold no personal data, but they stay as protected as the events they come from.
- `tocsin_replay_checkpoints`: one row per checkpoint with its `meta` part and its case -> shard index;
- `tocsin_replay_checkpoint_shards`: one part per shard (see replay/checkpoints/documents.py);
- `tocsin_replay_blocks`: the blocks of the log each checkpoint folded since the previous one
  (see replay/checkpoints/__init__.py).
The tables are created on first use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from psycopg.sql import SQL

from adapters.store.event_store import may_create
from projections.memory import MemoryViews
from replay.checkpoints.documents import CaseShards, materialised, pack_shard, parts_of, unpack_shard, views_from_parts
from replay.event_log import KNOWN_AT, check_sense

FORMAT = 5  # bump when the stored layout changes: older checkpoints are then ignored


CREATE = [
    """CREATE TABLE IF NOT EXISTS {checkpoints} (
        id bigserial PRIMARY KEY,
        format integer NOT NULL,
        notification_id bigint NOT NULL,
        recorded_max timestamptz,
        happened_max timestamptz,
        events bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        meta bytea NOT NULL)""",
    """ALTER TABLE {checkpoints} ADD COLUMN IF NOT EXISTS cases bytea""",
    """CREATE INDEX IF NOT EXISTS tocsin_replay_checkpoints_nid_idx ON {checkpoints} (notification_id)""",
    """CREATE TABLE IF NOT EXISTS {shards} (
        checkpoint_id bigint NOT NULL REFERENCES {checkpoints} (id) ON DELETE CASCADE,
        shard text NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (checkpoint_id, shard))""",
    """CREATE TABLE IF NOT EXISTS {blocks} (
        checkpoint_id bigint NOT NULL REFERENCES {checkpoints} (id) ON DELETE CASCADE,
        after_id bigint NOT NULL,
        last_id bigint NOT NULL,
        recorded_min timestamptz,
        happened_min timestamptz,
        PRIMARY KEY (checkpoint_id, after_id))""",
    """CREATE INDEX IF NOT EXISTS tocsin_replay_blocks_last_idx ON {blocks} (last_id)""",
]


@dataclass(frozen=True)
class CheckpointInfo:
    id: int
    notification_id: int
    recorded_max: datetime | None
    happened_max: datetime | None
    events: int
    created_at: datetime


class Block(NamedTuple):
    """A run of consecutive events (notification ids in (after_id, last_id]) and their earliest times:
    a replay as of T skips the blocks whose earliest time (in its sense) is after T."""

    after_id: int
    last_id: int
    recorded_min: datetime | None
    happened_min: datetime | None


def ensure_tables(store: Any) -> None:
    with store.connect() as conn, conn.transaction():
        # Two server processes answering their first replay at once would both create the tables.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{store.settings.schema}.tocsin_replay",))
        if not may_create(conn, store.settings.schema, "tocsin_replay_checkpoints"):
            return  # created by the tables' owner
        for statement in CREATE:
            conn.execute(SQL(statement).format(checkpoints=store.table("tocsin_replay_checkpoints"),
                                               shards=store.table("tocsin_replay_checkpoint_shards"),
                                               blocks=store.table("tocsin_replay_blocks")))


def drop_checkpoints(store: Any) -> None:
    """Delete every checkpoint (they are disposable: `build_checkpoints` makes them again)."""
    ensure_tables(store)
    with store.connect() as conn:
        conn.execute(SQL("TRUNCATE {}, {}, {}").format(store.table("tocsin_replay_blocks"),
                                                      store.table("tocsin_replay_checkpoint_shards"),
                                                      store.table("tocsin_replay_checkpoints")))


def list_checkpoints(store: Any) -> list[CheckpointInfo]:
    ensure_tables(store)
    with store.connect() as conn:
        rows = conn.execute(SQL(
            "SELECT id, notification_id, recorded_max, happened_max, events, created_at FROM {}"
            " WHERE format = %s ORDER BY notification_id").format(store.table("tocsin_replay_checkpoints")),
            (FORMAT,)).fetchall()
    return [CheckpointInfo(r["id"], r["notification_id"], r["recorded_max"], r["happened_max"], r["events"],
                           r["created_at"]) for r in rows]


def best_checkpoint(store: Any, at: datetime | None, sense: str = KNOWN_AT) -> CheckpointInfo | None:
    """The checkpoint with the highest notification id that fits (`at` None: the latest)."""
    check_sense(sense)
    ensure_tables(store)
    column = SQL("recorded_max") if sense == KNOWN_AT else SQL("happened_max")
    with store.connect() as conn:
        row = conn.execute(SQL(
            "SELECT id, notification_id, recorded_max, happened_max, events, created_at FROM {table}"
            " WHERE format = %(format)s AND (%(at)s::timestamptz IS NULL OR {column} <= %(at)s)"
            " ORDER BY notification_id DESC LIMIT 1").format(table=store.table("tocsin_replay_checkpoints"),
                                                              column=column),
            {"format": FORMAT, "at": at}).fetchone()
    if row is None:
        return None
    return CheckpointInfo(row["id"], row["notification_id"], row["recorded_max"], row["happened_max"], row["events"],
                          row["created_at"])


def save_checkpoint(store: Any, views: MemoryViews, *, recorded_max: datetime | None,
                    happened_max: datetime | None, events: int, blocks: Iterable[Block] = ()) -> int:
    """Store the views (a fold of every event up to views.position) as a checkpoint, with the blocks of
    the log folded since the previous one; its id."""
    ensure_tables(store)
    meta, case_shard, shards = parts_of(views)
    # Sealed before the transaction: the store's pooled connections end a transaction left idle for
    # seconds (idle_in_transaction_session_timeout), and sealing a large checkpoint takes that long.
    sealed_meta, sealed_cases = _seal(store, meta), store.seal(CaseShards.pack(case_shard))
    sealed_parts = [(shard, store.seal(pack_shard(part))) for shard, part in shards.items()]
    with store.connect() as conn, conn.transaction():
        checkpoint_id = conn.execute(SQL(
            "INSERT INTO {} (format, notification_id, recorded_max, happened_max, events, meta, cases)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id").format(store.table("tocsin_replay_checkpoints")),
            (FORMAT, views.position, recorded_max, happened_max, events, sealed_meta, sealed_cases)).fetchone()["id"]
        with conn.cursor() as cur:
            cur.executemany(SQL("INSERT INTO {} (checkpoint_id, shard, data) VALUES (%s, %s, %s)").format(
                store.table("tocsin_replay_checkpoint_shards")),
                [(checkpoint_id, shard, data) for shard, data in sealed_parts])
            cur.executemany(SQL("INSERT INTO {} (checkpoint_id, after_id, last_id, recorded_min, happened_min)"
                                " VALUES (%s, %s, %s, %s, %s)").format(store.table("tocsin_replay_blocks")),
                            [(checkpoint_id, *block) for block in blocks])
    return checkpoint_id


def _seal(store: Any, value: Any) -> bytes:
    return store.seal(orjson.dumps(value))  # case states are dataclasses: orjson writes them as objects


def _unseal(store: Any, data: bytes) -> Any:
    return orjson.loads(store.unseal(bytes(data)))


def load_meta(store: Any, checkpoint: CheckpointInfo) -> dict:
    with store.connect() as conn:
        row = conn.execute(SQL("SELECT meta FROM {} WHERE id = %s").format(store.table("tocsin_replay_checkpoints")),
                           (checkpoint.id,)).fetchone()
    return _unseal(store, row["meta"])


def load_case_shards(store: Any, checkpoint: CheckpointInfo) -> CaseShards:
    with store.connect() as conn:
        row = conn.execute(SQL("SELECT cases FROM {} WHERE id = %s").format(store.table("tocsin_replay_checkpoints")),
                           (checkpoint.id,)).fetchone()
    return CaseShards(store.unseal(bytes(row["cases"])))


def load_shards(store: Any, checkpoint: CheckpointInfo, shards: Iterable[str] | None) -> dict[str, dict]:
    """The given shards of a checkpoint (None: all of them)."""
    query = "SELECT shard, data FROM {} WHERE checkpoint_id = %s"
    params: tuple = (checkpoint.id,)
    if shards is not None:
        shards = sorted(set(shards))
        if not shards:
            return {}
        query += " AND shard = ANY(%s)"
        params = (checkpoint.id, shards)
    with store.connect() as conn:
        rows = conn.execute(SQL(query).format(store.table("tocsin_replay_checkpoint_shards")), params).fetchall()
    return {r["shard"]: unpack_shard(store.unseal(bytes(r["data"]))) for r in rows}


def load_views(store: Any, checkpoint: CheckpointInfo) -> MemoryViews:
    """Every view of a checkpoint (all shards), every case state built (to fold on and save again)."""
    views = views_from_parts(load_meta(store, checkpoint), load_shards(store, checkpoint, None))
    return materialised(views)
