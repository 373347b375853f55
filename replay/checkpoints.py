"""Checkpoints of the replay views: as-of(T) = nearest valid checkpoint + fold of the events after it.

A checkpoint is the projections' in-memory views (projections.memory.MemoryViews: case entries, case
rows, territory figures) after folding a PREFIX of the log, every event up to notification id `n`.
It records, besides `n`:
- `recorded_max`: the latest recording time (`tocsin_chain.chained_at`) among events <= n;
- `happened_max`: the latest message time (sent, else received, else recorded: the same definition
  as replay/as_of.py) among events <= n.

Validity (both senses fold a subset of the log in notification order, see replay/as_of.py):
- known at T: the events folded are those chained by T, a prefix of the log; a checkpoint fits iff
  `recorded_max <= T` (then every event it contains is in the subset).
- happened by T: the events folded are those whose message time is <= T, in notification order; a
  checkpoint fits iff `happened_max <= T`: every event <= n belongs to the subset, so the checkpoint
  is exactly the fold of the subset's first part, and the rest of the subset (events after n with a
  message time <= T) is folded on top, in order: the same result as folding the subset from zero.
  A message sent "in the future" (a skewed clock) raises `happened_max` for every later checkpoint;
  they then do not fit earlier moments and an earlier checkpoint (or none: fold from the first event)
  is used. Always correct, only slower.
Both maxima are non-decreasing with n, so the best checkpoint is the one with the highest n that fits.

Blocks: the events after the checkpoint that belong to the subset are found without reading the rest
of the log. Each checkpoint stores, for the log it folded since the previous one, blocks of `BLOCK`
consecutive events with their earliest recording and message times; a block whose earliest time is
after T holds no event of the subset and is not read. Happened by T otherwise reads every event
recorded after the checkpoint, to the end of the log, to find the few sent by T; with blocks it reads
up to about T, plus any block holding a message delivered late (correct whatever the delays, only
slower), plus the events after the latest checkpoint, which no block covers yet.

Storage (each part JSON (orjson: fast, and no code runs on load), then compressed and encrypted with
`store.seal`; the views hold no personal data, but they stay as protected as the events they come from):
- `tocsin_replay_checkpoints`: one row per checkpoint with a small `meta` part: the département, zone
  and national figures, and where each case and commune is stored;
- `tocsin_replay_checkpoint_shards`: one part per département (the case's at checkpoint time, or a
  pseudo-territory): the rows of its cases and the figures of its communes, then the folded state of
  each of its cases as its own JSON document (parsed only if an event after the checkpoint touches it).
So replaying one département loads one shard plus the shards of the few cases that the events after
the checkpoint bring into it, not the whole country. Of the events after the checkpoint, only those
of the cases in scope are decoded (resource and acknowledgement events of other cases carry no
placement, so they are skipped undecoded), and a case's folded state is rebuilt from the shard only
when one of them touches it (LazyEntries): the rows of the others are enough to show them.

Checkpoints are disposable, like every view: `tocsin replay checkpoint` (once, from cron, or
`--watch SECONDS` as a worker) folds the events since the latest checkpoint and stores one every
`every` events (default 50,000). The tables are created on first use.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson
import psycopg
from eventsourcing.utils import get_topic
from psycopg.sql import SQL

from adapters.store.codec import CaseEvent, EventDecoder
from adapters.store.locks import Leadership, lock_key
from domain.case import Case
from domain.case_state import CaseState, parse_time
from domain.geography import NATIONAL, Level
from projections.case_list import UNPLACED
from projections.fold import CaseEntry
from projections.memory import MemoryViews, TerritoryRow

KNOWN_AT, HAPPENED_BY = "known-at", "happened-by"
EVERY = 50_000
PAGE = 10_000
BLOCK = 2_000  # events per block of the log (see Blocks below)
FORMAT = 5  # bump when the stored layout changes: older checkpoints are then ignored
ROW_TIMES = ("opened_at", "closed_at", "last_message_at", "updated_at")  # datetimes of a case row
# What a territory's view reads of every case (its most serious open cases, its openings per hour).
SUMMARY = ("case_id", "commune", "departement", "zone", "status", "severity", "opened_at")

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

# Events after a position, with their recording time and message time (as replay/as_of.py defines them).
# The range is repeated on the chain: PostgreSQL does not carry an inequality across the join, and would
# otherwise walk the chain from its first link. The message is looked up per event (LATERAL … LIMIT 1,
# the key is unique): with a filter on its time, the planner otherwise hashed the whole message index
# for every page (0.8 s a page at a million events).
# Without the message times (`happened` NULL, no filter on it), reading is twice as fast: the replay from
# a checkpoint takes them from the events it decodes (message_time), and decodes few of them.
EVENTS_AFTER = """
SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,
       c.chained_at AS recorded, {happened} AS happened
FROM {events} e
{messages}
LEFT JOIN {chain} c ON c.notification_id = e.notification_id AND c.notification_id > %(after)s
                    AND (%(upto)s::bigint IS NULL OR c.notification_id <= %(upto)s)
WHERE e.notification_id > %(after)s
  AND (%(upto)s::bigint IS NULL OR e.notification_id <= %(upto)s)
  AND (%(known)s::timestamptz IS NULL OR c.chained_at <= %(known)s)
  AND (%(happened)s::timestamptz IS NULL OR {happened} <= %(happened)s)
ORDER BY e.notification_id
LIMIT %(limit)s
"""
MESSAGE_TIMES = """LEFT JOIN LATERAL (SELECT sent_at, received_at FROM {messages}
                   WHERE originator_id = e.originator_id AND originator_version = e.originator_version LIMIT 1) m ON true"""


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
    if sense not in (KNOWN_AT, HAPPENED_BY):
        raise ValueError(f"sens inconnu : {sense} ({KNOWN_AT} ou {HAPPENED_BY})")
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


# --- reading events ----------------------------------------------------------------------------------


def stream_events(store: Any, conn: psycopg.Connection, *, after: int = 0, upto: int | None = None,
                  known: datetime | None = None, happened: datetime | None = None,
                  decoder: EventDecoder | None = None, page: int = PAGE) -> Iterator[tuple[list[CaseEvent], list]]:
    """Pages of (decoded case events, raw rows) after `after`, in notification order, filtered by sense."""
    decoder = decoder or EventDecoder(store.mapper)
    for rows in raw_pages(store, conn, after=after, upto=upto, known=known, happened=happened, page=page):
        yield decoder.decode(r[:5] for r in rows), rows


def raw_pages(store: Any, conn: psycopg.Connection, *, after: int = 0, upto: int | None = None,
              known: datetime | None = None, happened: datetime | None = None, page: int = PAGE,
              message_times: bool = True) -> Iterator[list]:
    """Pages of undecoded rows (notification id, originator id, version, topic, state, recorded, happened)."""
    assert message_times or happened is None, "filtering on message times needs them"
    query = SQL(EVENTS_AFTER).format(
        events=store.table("tocsin_events"), chain=store.table("tocsin_chain"),
        messages=SQL(MESSAGE_TIMES).format(messages=store.table("tocsin_messages")) if message_times else SQL(""),
        happened=SQL("coalesce(m.sent_at, m.received_at, c.chained_at)" if message_times else "NULL::timestamptz"))
    params = {"upto": upto, "known": known, "happened": happened, "limit": page}
    while rows := conn.cursor(binary=True).execute(query, {**params, "after": after}).fetchall():
        after = rows[-1][0]
        yield rows


def scan_ranges(store: Any, conn: psycopg.Connection, after: int, at: datetime, sense: str
                ) -> list[tuple[int, int | None]]:
    """The notification id ranges (lo, hi] after `after` that may hold events of the subset as of `at`.

    Blocks whose earliest time in the sense is after `at` hold none of them and are skipped; past the
    last block (hi None) everything is read. Known at: recording times grow with the notification id,
    so nothing after the first skipped block can be in the subset either."""
    column = SQL("recorded_min") if sense == KNOWN_AT else SQL("happened_min")
    rows = conn.execute(SQL(
        "SELECT b.after_id, b.last_id, coalesce({column} <= %(at)s, true) AS wanted FROM {blocks} b"
        " JOIN {checkpoints} c ON c.id = b.checkpoint_id AND c.format = %(format)s"
        " WHERE b.last_id > %(after)s ORDER BY b.after_id").format(
        column=column, blocks=store.table("tocsin_replay_blocks"),
        checkpoints=store.table("tocsin_replay_checkpoints")), {"at": at, "after": after, "format": FORMAT}).fetchall()
    ranges: list[tuple[int, int | None]] = []

    def read(lo: int, hi: int | None) -> None:
        if ranges and ranges[-1][1] == lo:  # follows the previous range: one range
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))

    cursor = after
    for after_id, last_id, wanted in rows:
        if after_id != cursor:
            break  # not the block that follows (a gap, or a concurrent build's): read on from here
        if not wanted and sense == KNOWN_AT:
            return ranges
        if wanted:
            read(cursor, last_id)
        cursor = last_id
    read(cursor, None)
    return ranges


def snapshot_connection(store: Any) -> psycopg.Connection:
    conn = psycopg.connect(store.database_url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for every page
    conn.read_only = True
    return conn


# --- writing checkpoints ------------------------------------------------------------------------------


def _shard_of_row(row: dict) -> str:
    return row["departement"] or UNPLACED


def save_checkpoint(store: Any, views: MemoryViews, *, recorded_max: datetime | None,
                    happened_max: datetime | None, events: int, blocks: Iterable[Block] = ()) -> int:
    """Store the views (a fold of every event up to views.position) as a checkpoint, with the blocks of
    the log folded since the previous one; its id."""
    ensure_tables(store)
    shards: dict[str, dict[str, Any]] = {}
    case_shard: dict[UUID, str] = {}
    for oid, entry in views.entries.items():
        row = views.cases.get(oid)
        if row is None:
            continue
        shard = _shard_of_row(row)
        part = shards.setdefault(shard, _empty_part())
        part["entries"][oid.hex] = orjson.dumps((entry.state, entry.updated_at, entry.last_event_id))
        part["rows"][oid.hex] = orjson.dumps(row)
        part["index"][oid.hex] = [row[name] for name in SUMMARY]
        case_shard[oid] = shard
    commune_shard: dict[str, str] = {}
    for row in views.cases.values():
        commune_shard.setdefault(row["commune"], _shard_of_row(row))
    for code, territory in views.territories[Level.COMMUNE].items():
        shard = commune_shard.get(code, UNPLACED)
        commune_shard[code] = shard
        shards.setdefault(shard, _empty_part())["communes"][code] = (
            territory.figures, territory.updated_at)
    dep_zone = {row["departement"]: row["zone"] for row in views.cases.values()}
    meta = {
        "position": views.position,
        "territories": {level.value: {code: (row.figures, row.updated_at) for code, row in views.territories[level].items()}
                        for level in (Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL)},
        "commune_shard": commune_shard,
        "dep_zone": dep_zone,
    }
    # Sealed before the transaction: the store's pooled connections end a transaction left idle for
    # seconds (idle_in_transaction_session_timeout), and sealing a large checkpoint takes that long.
    sealed_meta, sealed_cases = _seal(store, meta), store.seal(CaseShards.pack(case_shard))
    sealed_parts = [(shard, store.seal(_pack_shard(part))) for shard, part in shards.items()]
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


def _empty_part() -> dict[str, dict]:
    return {"entries": {}, "rows": {}, "index": {}, "communes": {}}


def build_checkpoints(store: Any, every: int = EVERY, *, block: int = BLOCK, log: Any = None) -> list[int]:
    """Fold the events since the latest checkpoint, storing a checkpoint every `every` events.

    Returns the ids of the checkpoints written (none when fewer than `every` events are new, or when
    another process is building them: two builders would store the same checkpoints twice)."""
    builder = Leadership(store.database_url, builder_lock_key(store))
    if not builder.try_acquire():
        if log:
            log("Un autre processus construit déjà les points de reprise : rien à faire ici.")
        return []
    try:
        return _build_checkpoints(store, every, block, log)
    finally:
        builder.release()


def builder_lock_key(store: Any) -> int:
    return lock_key(store.settings.schema, "replay-checkpoints")


def _build_checkpoints(store: Any, every: int, block: int, log: Any) -> list[int]:
    latest = best_checkpoint(store, None)
    if latest is not None:
        views = load_views(store, latest)
        recorded_max, happened_max, folded = latest.recorded_max, latest.happened_max, latest.events
    else:
        views, recorded_max, happened_max, folded = MemoryViews(), None, None, 0
    written: list[int] = []
    blocks: list[Block] = []
    since = 0
    began = time.perf_counter()
    with snapshot_connection(store) as conn, conn.transaction():
        for events, rows in stream_events(store, conn, after=views.position, page=min(PAGE, every)):
            # A page never straddles a checkpoint boundary: pages are at most `every` rows, cut here.
            cut = every - since
            head, tail = rows[:cut], rows[cut:]
            for chunk in (head, tail):
                if not chunk:
                    continue
                last_nid = chunk[-1][0]
                blocks += blocks_of(chunk, views.position, block)
                chunk_events = [e for e in events if e.notification_id <= last_nid
                                and e.notification_id > views.position]
                views.process(chunk_events, last_nid)
                recorded_max = _latest(recorded_max, (r[5] for r in chunk))
                happened_max = _latest(happened_max, (r[6] for r in chunk))
                since += len(chunk)
                folded += len(chunk)
                if since >= every:
                    written.append(save_checkpoint(store, views, recorded_max=recorded_max,
                                                   happened_max=happened_max, events=folded, blocks=blocks))
                    blocks = []
                    if log:
                        log(f"point de reprise n°{written[-1]} : notification {views.position}, {folded} événements "
                            f"({time.perf_counter() - began:.1f} s)")
                    since = 0
    return written


def blocks_of(rows: list, after: int, size: int = BLOCK) -> Iterator[Block]:
    """The blocks of consecutive raw rows (see raw_pages) that follow notification id `after`."""
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        yield Block(after, part[-1][0], _earliest(r[5] for r in part), _earliest(r[6] for r in part))
        after = part[-1][0]


def _earliest(values: Iterable[datetime | None]) -> datetime | None:
    return min((v for v in values if v is not None), default=None)


def _latest(current: datetime | None, values: Iterable[datetime | None]) -> datetime | None:
    for value in values:
        if value is not None and (current is None or value > current):
            current = value
    return current


# --- loading checkpoints ------------------------------------------------------------------------------


def _seal(store: Any, value: Any) -> bytes:
    return store.seal(orjson.dumps(value))  # case states are dataclasses: orjson writes them as objects


def _unseal(store: Any, data: bytes) -> Any:
    return orjson.loads(store.unseal(bytes(data)))


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Documents:
    """JSON documents of one kind (case rows, or folded states) of the loaded shards, by case id (hex)."""

    def __init__(self) -> None:
        self._parts: list[tuple[dict[str, list[int]], memoryview]] = []

    def add(self, offsets: dict[str, list[int]], documents: memoryview) -> None:
        self._parts.append((offsets, documents))

    def pop(self, key: str, default: Any = None) -> Any:
        for offsets, documents in self._parts:
            found = offsets.pop(key, None)
            if found is not None:
                start, length = found
                return documents[start:start + length]
        return default

    def __iter__(self) -> Iterator[str]:
        for offsets, _ in self._parts:
            yield from offsets


class LazyDocuments(dict):
    """A mapping by case id whose values are built from their stored JSON documents on first use.
    Values set meanwhile (by the fold) take precedence. The fold reads them with `get`."""

    def __init__(self, raw: Documents) -> None:
        super().__init__()
        self._raw = raw

    def get(self, oid: UUID, default: Any = None) -> Any:  # type: ignore[override]
        found = dict.get(self, oid)
        if found is None:
            raw = self._raw.pop(oid.hex, None)
            if raw is None:
                return default
            found = self[oid] = self._build(oid, orjson.loads(raw))
        return found

    def materialised(self) -> dict[UUID, Any]:
        for key in list(self._raw):
            self.get(UUID(key))
        return dict(self)

    def _build(self, oid: UUID, document: Any) -> Any:
        raise NotImplementedError


class LazyEntries(LazyDocuments):
    """Case entries (the folded states): a replay folds a few cases of a shard after the checkpoint,
    while it shows the rows of all of them. A document is [state, updated_at, last_event_id]."""

    def _build(self, oid: UUID, document: Any) -> CaseEntry:
        state, updated_at, last_event_id = document
        return CaseEntry(CaseState(**state), _time(updated_at), last_event_id)


class LazyRows(LazyDocuments):
    """Case rows: a territory's view reads the summary of every case (SUMMARY: where, status,
    severity, opening) and the full rows of the few it shows."""

    def __init__(self, raw: Documents, index: dict[str, list]) -> None:
        super().__init__(raw)
        self._index = index  # oid hex -> the SUMMARY fields (opened_at as ISO 8601)

    def _build(self, oid: UUID, document: Any) -> dict[str, Any]:
        return _row(oid, document)

    def summaries(self) -> Iterator[tuple[list, UUID | str]]:
        """(SUMMARY fields, key to `row`) of every case: parsed rows first, then the checkpoint's index."""
        parsed = set()
        for oid, row in dict.items(self):
            parsed.add(oid.hex)
            yield [row[name] for name in SUMMARY], oid
        for key, fields in self._index.items():
            if key not in parsed:
                yield [*fields[:-1], _time(fields[-1])], key

    def row(self, key: UUID | str) -> dict[str, Any]:
        return self.get(key if isinstance(key, UUID) else UUID(key))


def _row(oid: UUID, row: dict[str, Any]) -> dict[str, Any]:
    """A case row as stored (JSON) back to what the fold makes: its UUID and datetimes."""
    row["originator_id"] = oid
    for name in ROW_TIMES:
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name])
    return row


class CaseShards:
    """Which shard holds each case of a checkpoint: records of (16-byte id, shard number), sorted,
    searched in place. A replay looks up a handful of cases; parsing a mapping of every case of the
    country (170,000 at a million events) took longer than the rest of the replay's set-up."""

    RECORD = 18

    def __init__(self, data: bytes) -> None:
        size = int.from_bytes(data[:4], "big")
        self.names: list[str] = orjson.loads(data[4:4 + size])
        self.records = memoryview(data)[4 + size:]

    @classmethod
    def pack(cls, case_shard: dict[UUID, str]) -> bytes:
        names = sorted(set(case_shard.values()))
        number = {name: i for i, name in enumerate(names)}
        head = orjson.dumps(names)
        return len(head).to_bytes(4, "big") + head + b"".join(
            oid.bytes + number[case_shard[oid]].to_bytes(2, "big") for oid in sorted(case_shard))

    def get(self, oid: UUID) -> str | None:
        wanted, records, size = oid.bytes, self.records, self.RECORD
        lo, hi = 0, len(records) // size
        while lo < hi:
            mid = (lo + hi) // 2
            found = records[mid * size:mid * size + 16].tobytes()
            if found == wanted:
                return self.names[int.from_bytes(records[mid * size + 16:mid * size + size], "big")]
            if found < wanted:
                lo = mid + 1
            else:
                hi = mid
        return None


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
    return {r["shard"]: _unpack_shard(store.unseal(bytes(r["data"]))) for r in rows}


def _pack_shard(part: dict) -> bytes:
    """A shard's communes and case summaries as JSON, then each case's row and folded state, each its
    own JSON document, after it: a replay parses the rows and states of the few cases it folds or
    shows, not all of them (they are most of the bytes)."""
    offsets: dict[str, dict[str, tuple[int, int]]] = {"rows": {}, "entries": {}}
    documents, at = [], 0
    for kind, table in offsets.items():
        for key, document in part[kind].items():
            table[key] = (at, len(document))
            documents.append(document)
            at += len(document)
    head = orjson.dumps({"communes": part["communes"], "index": part["index"], **offsets})
    return len(head).to_bytes(8, "big") + head + b"".join(documents)


def _unpack_shard(data: bytes) -> dict:
    """The shard's head; its "rows" and "entries" map an id to the (start, length) of its document in
    "documents" (sliced when the document is parsed: slicing them all up front took 0.3 s a shard)."""
    size = int.from_bytes(data[:8], "big")
    part = orjson.loads(data[8:8 + size])
    part["documents"] = memoryview(data)[8 + size:]
    return part


def views_from_parts(meta: dict, parts: dict[str, dict]) -> MemoryViews:
    views = MemoryViews(position=meta["position"])
    for level_value, table in meta["territories"].items():
        views.territories[Level(level_value)] = {code: TerritoryRow(figures, _time(at))
                                                 for code, (figures, at) in table.items()}
    communes = views.territories[Level.COMMUNE]
    raw_rows, raw_entries = Documents(), Documents()
    index: dict[str, list] = {}
    for part in parts.values():
        raw_rows.add(part["rows"], part["documents"])
        raw_entries.add(part["entries"], part["documents"])
        index.update(part["index"])
        communes.update({code: TerritoryRow(figures, _time(at)) for code, (figures, at) in part["communes"].items()})
    views.cases = LazyRows(raw_rows, index)
    views.entries = LazyEntries(raw_entries)
    return views


def load_views(store: Any, checkpoint: CheckpointInfo) -> MemoryViews:
    """Every view of a checkpoint (all shards), every case state built (to fold on and save again)."""
    views = views_from_parts(load_meta(store, checkpoint), load_shards(store, checkpoint, None))
    return materialised(views)


def materialised(views: MemoryViews) -> MemoryViews:
    """The views with every row and case state parsed (as plain dicts), to fold on or read in full."""
    for name in ("cases", "entries"):
        lazy = getattr(views, name)
        if isinstance(lazy, LazyDocuments):
            setattr(views, name, lazy.materialised())
    return views


# --- scoped replay -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a replayed view needs: every case (None) or the cases of one territory, or one case."""

    level: Level | None = None  # None with oid None: everything
    code: str | None = None
    oid: UUID | None = None

    @property
    def everything(self) -> bool:
        return self.oid is None and (self.level is None or self.level == Level.NATIONAL
                                     or self.code == UNPLACED)

    def shards(self, meta: dict, cases: Callable[[], CaseShards]) -> set[str] | None:
        """Checkpoint shards holding the cases in scope at checkpoint time (None: all)."""
        if self.everything:
            return None
        if self.oid is not None:
            shard = cases().get(self.oid)
            return {shard} if shard else set()
        if self.level == Level.DEPARTEMENT:
            return {self.code}
        if self.level == Level.COMMUNE:
            shard = meta["commune_shard"].get(self.code)
            return {shard} if shard else set()
        return {dep for dep, zone in meta["dep_zone"].items() if zone == self.code}

    def brings_in(self, event: CaseEvent) -> bool:
        """Can this event place its case in scope? (Placements only come from a message's facts.)"""
        if self.oid is not None:
            return event.originator_id == self.oid
        placement = event.facts.get("placement") if isinstance(event.facts, dict) else None
        if not placement:
            return False
        key = {Level.COMMUNE: "insee", Level.DEPARTEMENT: "departement", Level.ZONE: "zone"}[self.level]
        return placement.get(key) == self.code


def scope_for(level: str, code: str) -> Scope:
    """The scope of a replay_view request (level as in replay/as_of.py)."""
    from domain.identity import case_uuid

    if level == "case":
        return Scope(oid=case_uuid(code))
    if level == "cases":  # a case list: of the nation, a zone, a département or a commune
        return Scope() if code == NATIONAL else Scope(level_of_code(code), code)
    lv = Level(level)
    return Scope(lv, NATIONAL if lv == Level.NATIONAL else code)


def level_of_code(code: str) -> Level:
    """A territory code's level, by its form: INSEE codes have 5 characters, départements 2 or 3
    (01, 2A, 971), zones are names (ouest, paris…). Checked by form, not against the checkpoint,
    so a territory whose first case comes after the checkpoint is still recognised."""
    if code == NATIONAL:
        return Level.NATIONAL
    if len(code) == 5 and code[:2].isalnum() and code[2:].isdigit():
        return Level.COMMUNE
    if len(code) <= 3 and code[:2].isalnum() and (code[:2].isdigit() or code.upper() in ("2A", "2B")):
        return Level.DEPARTEMENT
    return Level.ZONE


@dataclass
class AsOf:
    views: MemoryViews
    checkpoint: CheckpointInfo | None
    folded: int  # events folded after the checkpoint (or from zero)
    seconds: float


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a replay creates millions of small objects (decoded case
    states, rows), each allocation burst triggering full collections that walk all of them again; that
    doubled a département's replay. Nothing here makes reference cycles, so memory is freed as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def views_as_of(store: Any, at: datetime, sense: str = KNOWN_AT, *, level: str | None = None,
                code: str | None = None, use_checkpoints: bool = True) -> AsOf:
    """The views as of `at`: from the best checkpoint when there is one, else folded from zero.

    With `level`/`code`, only what that view needs is loaded and folded: the returned views are exact
    for that territory (or case) and must not be read for any other."""
    with gc_paused():
        return _views_as_of(store, at, sense, level=level, code=code, use_checkpoints=use_checkpoints)


def _views_as_of(store: Any, at: datetime, sense: str, *, level: str | None, code: str | None,
                 use_checkpoints: bool) -> AsOf:
    began = time.perf_counter()
    if sense not in (KNOWN_AT, HAPPENED_BY):
        raise ValueError(f"sens inconnu : {sense} ({KNOWN_AT} ou {HAPPENED_BY})")
    known, happened = (at, None) if sense == KNOWN_AT else (None, at)
    checkpoint = best_checkpoint(store, at, sense) if use_checkpoints else None
    decoder = EventDecoder(store.mapper)
    if checkpoint is None:
        views, folded = MemoryViews(), 0
        with snapshot_connection(store) as conn, conn.transaction():
            for events, rows in stream_events(store, conn, known=known, happened=happened, decoder=decoder):
                views.process(events, rows[-1][0])
                folded += len(events)
        return AsOf(views, None, folded, time.perf_counter() - began)

    scope = scope_for(level, code) if level is not None and code is not None else Scope()
    cases = functools.cache(lambda: load_case_shards(store, checkpoint))

    def load_checkpoint() -> tuple[dict, set[str] | None, dict[str, dict]]:
        meta = load_meta(store, checkpoint)
        wanted = scope.shards(meta, cases)
        return meta, wanted, load_shards(store, checkpoint, wanted)

    # The checkpoint is loaded while the events after it are read: each mostly waits on PostgreSQL or
    # in decompression and the cipher, which let the other thread run.
    with ThreadPoolExecutor(1) as pool:
        loading = pool.submit(load_checkpoint)
        with snapshot_connection(store) as conn, conn.transaction():
            ranges = scan_ranges(store, conn, checkpoint.notification_id, at, sense)
            rows = [r for lo, hi in ranges for page in raw_pages(store, conn, after=lo, upto=hi, known=known,
                                                                  message_times=False) for r in page]
        meta, wanted, parts = loading.result()
    last = rows[-1][0] if rows else checkpoint.notification_id
    if wanted is None:
        events = [e for e in decoder.decode(r[:5] for r in rows) if happened is None or message_time(e) <= happened]
    else:
        in_scope = {key for part in parts.values() for key in part["rows"]}
        events, brought = scoped_events(rows, decoder, scope, in_scope, happened)
        # Cases brought into scope by a later event need their prior state: load their shards too.
        extra = {cases().get(oid) for oid in brought} - {None} if brought else set()
        parts.update(load_shards(store, checkpoint, extra - set(parts)))
    views = views_from_parts(meta, parts)
    views.process(events, last)
    if level is None:
        materialised(views)  # every view, to be read in full (timelines, reports)
    return AsOf(views, checkpoint, len(events), time.perf_counter() - began)


def _until(events: list[CaseEvent], happened: datetime | None) -> list[CaseEvent]:
    return events if happened is None else [e for e in events if message_time(e) <= happened]


# Events that never carry a placement, so never bring a case into a territory (decoding is most of the
# cost of a replay: these are only decoded for cases already in scope).
_NOT_PLACING = frozenset(get_topic(cls) for cls in (Case.ResourcesUpdated, Case.Acknowledged))


def message_time(event: CaseEvent) -> datetime:
    """When an event's message says it happened, as the message index records it at ingestion: sent,
    else received (replay/as_of.py), read from the event's own provenance."""
    provenance = event.provenance or {}
    return parse_time(provenance.get("sent_at")) or parse_time(provenance.get("received_at")) or event.recorded_at


def scoped_events(rows: list, decoder: EventDecoder, scope: Scope, in_scope: set[str],
                  happened: datetime | None = None) -> tuple[list[CaseEvent], set[UUID]]:
    """The events of the cases in scope (`in_scope`: their ids in hex, as checkpoints key them; and
    those an event brings in), decoded, those whose message time is after `happened` left out; and
    the ids of the cases brought in.

    An event of another case can only bring it in if its JSON holds the territory's code as a string
    (a placement's code is a JSON string; codes are ASCII, never escaped): events without it are not
    parsed at all."""
    keys = [r[1].hex for r in rows]
    if scope.oid is not None:
        first = [r for r, key in zip(rows, keys) if key in in_scope or r[1] == scope.oid]
    else:
        needle = orjson.dumps(scope.code) if scope.code and scope.code.isascii() else None
        first = [r for r, key in zip(rows, keys) if key in in_scope
                 or r[3] not in _NOT_PLACING and (needle is None or needle in decoder.unseal(bytes(r[4])))]
    decoded = _until(decoder.decode(r[:5] for r in first), happened)
    brought = {e.originator_id for e in decoded if e.originator_id.hex not in in_scope and scope.brings_in(e)}
    done = {r[0] for r in first}
    late = _until(decoder.decode(r[:5] for r in rows if r[1] in brought and r[0] not in done), happened)
    events = [e for e in decoded if e.originator_id in brought or e.originator_id.hex in in_scope] + late
    events.sort(key=lambda e: e.notification_id)
    return events, brought
