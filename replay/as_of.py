"""Any view as it stood at a past moment, in the two senses of DESIGN.md's "two times".

- known at T (`KNOWN_AT`): what the platform had recorded by T. The events folded are those chained by
  T; the chain's `chained_at` (clock time of the insert, under the events table's exclusive lock) is
  monotonic with the notification id, so "known at T" is exactly a prefix of the log.
- happened by T (`HAPPENED_BY`): what the messages say had happened by T, as known now. The events folded
  are those that happened by T (replay/event_log.py: the message's sent time, else its reception time;
  a replay from a checkpoint reads the same two times from the provenance of the events it decodes,
  from which ingestion wrote the index), in notification order: the case fold is order-tolerant, so a
  subset folds to the right state.

The fold is the projections' own (projections.memory.MemoryViews over projections.fold), so a replayed
view is computed by exactly the code that computes the live one. `views_as_of` folds from the best
checkpoint (replay/checkpoints) or from the first event when there is none, loading and decoding only
what the view needs (replay/scope.py); `replay_view` names the views and shapes them for the CLI and
the API.
"""

from __future__ import annotations

import functools
import gc
import heapq
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.store.codec import EventDecoder
from domain.geography import NATIONAL, Level
from projections.memory import MemoryViews
from replay.checkpoints.documents import SUMMARY, LazyRows, materialised, views_from_parts
from replay.checkpoints.scan import raw_pages, scan_ranges, snapshot_connection, stream_events
from replay.checkpoints.storage import CheckpointInfo, best_checkpoint, load_case_shards, load_meta, load_shards
from replay.event_log import KNOWN_AT, check_sense, happened_at
from replay.scope import Scope, scope_for, scoped_events

CASE, CASES = "case", "cases"
MOST_SERIOUS = 5  # as many as the live view shows (projections.read.queries.territory_view)
VIEW_LEVELS = (*(level.value for level in Level), CASES, CASE)


@dataclass(frozen=True)
class ReplayedView:
    level: str
    code: str
    at: datetime
    sense: str
    position: int  # the last notification id folded
    events: int  # events folded (after the checkpoint, if any)
    view: dict | None  # None: nothing in that territory (or no such case) at that moment
    checkpoint: int | None = None  # the notification id of the checkpoint started from (None: from zero)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"level": self.level, "code": self.code, "at": self.at.isoformat(), "sense": self.sense,
                "position": self.position, "events": self.events, "checkpoint": self.checkpoint,
                "seconds": self.seconds, "view": self.view}


@dataclass
class AsOf:
    views: MemoryViews
    checkpoint: CheckpointInfo | None
    folded: int  # events folded after the checkpoint (or from zero)
    seconds: float


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a replay creates millions of small objects (decoded case
    states, rows), each allocation burst triggering full collections that walk all of them again. Nothing
    here makes reference cycles, so memory is freed as usual."""
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
    check_sense(sense)
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
        events = [e for e in decoder.decode(r[:5] for r in rows) if happened is None or happened_at(e) <= happened]
    else:
        in_scope = {key for part in parts.values() for key in part["rows"]}
        events, brought = scoped_events(rows, decoder, scope, in_scope, happened)
        # Cases brought into scope by a later event need their prior state: load their shards too.
        extra = {shard for oid in brought if (shard := cases().get(oid)) is not None}
        parts.update(load_shards(store, checkpoint, extra - set(parts)))
    views = views_from_parts(meta, parts)
    views.process(events, last)
    if level is None:
        materialised(views)  # every view, to be read in full (timelines, reports)
    return AsOf(views, checkpoint, len(events), time.perf_counter() - began)


def replay_view(store: Any, level: str, code: str, at: datetime, sense: str = KNOWN_AT, *,
                use_checkpoints: bool = True) -> ReplayedView:
    """One view (a territory's figures and cases, the case list of a territory, or one case) as of `at`."""
    if level not in VIEW_LEVELS:
        raise ValueError(f"niveau inconnu : {level} (attendu : {', '.join(VIEW_LEVELS)})")
    if level == Level.NATIONAL.value:
        code = NATIONAL
    with gc_paused():  # also while selecting: see gc_paused
        result = _views_as_of(store, at, sense, level=level, code=code, use_checkpoints=use_checkpoints)
        view = select_view(result.views, level, code, at)
    return ReplayedView(level, code, at, sense, result.views.position, result.folded, view,
                        result.checkpoint.notification_id if result.checkpoint else None, round(result.seconds, 3))


def select_view(views: MemoryViews, level: str, code: str, at: datetime) -> dict | None:
    """A case's row; a territory's case list (every case, most severe first); or a territory's view as
    the live one shows it at `at`: its figures, the cases opened in the hour and the 24 hours before,
    its most serious open cases."""
    if level == CASE:
        row = next((r for r in _rows(views).values() if r["case_id"] == code), None)
        return _jsonable(row) if row else None
    if level == CASES:
        rows = [r for r in _rows(views).values() if _inside(code, r["commune"], r["departement"], r["zone"])]
        rows.sort(key=lambda r: (-(r.get("severity") or 0), r["case_id"]))
        return {"cases": [_jsonable(r) for r in rows]}
    territory = views.territories[Level(level)].get(code)
    if territory is None:
        return None
    inside = [(f, key) for f, key in _summaries(views) if _inside(code, f[1], f[2], f[3])]
    opened = [f[6] for f, _ in inside if f[6] is not None and f[6] <= at]
    hour_ago, day_ago = at - timedelta(hours=1), at - timedelta(hours=24)
    serious = heapq.nsmallest(MOST_SERIOUS, ((f, key) for f, key in inside if f[4] == "open"),
                              key=lambda item: _seriousness(item[0]))
    cases = views.cases
    return {"figures": dict(sorted(territory.figures.items())), "updated_at": territory.updated_at.isoformat(),
            "opened_last_hour": sum(1 for t in opened if t > hour_ago),
            "opened_last_24h": sum(1 for t in opened if t > day_ago),
            "most_serious": [_jsonable(cases.row(key) if isinstance(cases, LazyRows) else cases[key])
                             for _, key in serious]}


def _rows(views: MemoryViews) -> dict:
    return views.cases.materialised() if isinstance(views.cases, LazyRows) else views.cases


def _summaries(views: MemoryViews) -> Iterator[tuple[list, Any]]:
    if isinstance(views.cases, LazyRows):
        return views.cases.summaries()
    return (([row[name] for name in SUMMARY], oid) for oid, row in views.cases.items())


def _inside(code: str, commune: str, departement: str, zone: str) -> bool:
    return code == NATIONAL or code in (commune, departement, zone)


def _seriousness(fields: list) -> tuple:
    """The live view's order: severity, then the latest opened, then the case id."""
    severity, opened = fields[5] or 0, fields[6]
    return -severity, -opened.timestamp() if opened is not None else math.inf, fields[0]


def _jsonable(row: dict) -> dict:
    """A copy of a case row for output. Times stay datetimes: the JSON encoders (orjson in the API, the
    CLI's) write them as ISO 8601, faster than formatting tens of thousands of them here."""
    return {**row, "originator_id": str(row["originator_id"])}
