"""Building checkpoints: fold the events since the latest checkpoint, store one every `every` events.

`tocsin replay checkpoint` (once, from cron, or `--watch SECONDS` as a worker) runs this. One builder
at a time: the builder's advisory lock (`builder_lock_key`) makes a second one return at once instead
of storing the same checkpoints twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from adapters.store.locks import Leadership, lock_key
from projections.memory import MemoryViews
from replay.checkpoints.scan import PAGE, snapshot_connection, stream_events
from replay.checkpoints.storage import Block, best_checkpoint, load_views, save_checkpoint

EVERY = 50_000
BLOCK = 2_000  # events per block of the log (see Blocks in replay/checkpoints/__init__.py)


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
