"""Any view as it stood at a past moment, in the two senses of DESIGN.md's "two times".

- known at T (`KNOWN_AT`): what the platform had recorded by T. The events folded are those chained by
  T; the chain's `chained_at` (clock time of the insert, under the events table's exclusive lock) is
  monotonic with the notification id, so "known at T" is exactly a prefix of the log.
- happened by T (`HAPPENED_BY`): what the messages say had happened by T, as known now. The events folded
  are those whose message was sent by T (the message index's `sent_at`, else its reception time; a
  replay from a checkpoint reads the same two times from the provenance of the events it decodes, from
  which ingestion wrote the index), in notification order: the case fold is order-tolerant, so a
  subset folds to the right state.

The fold is the projections' own (projections.memory.MemoryViews over projections.fold), so a replayed
view is computed by exactly the code that computes the live one. The folding itself, from the best
checkpoint (replay/checkpoints.py) or from the first event when there is none, lives in
replay/checkpoints.py; this module names the views and shapes them for the CLI and the API.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.geography import NATIONAL, Level
from projections.memory import MemoryViews
from replay.checkpoints import HAPPENED_BY, KNOWN_AT, SUMMARY, AsOf, LazyRows, gc_paused
from replay.checkpoints import views_as_of as _views_as_of

__all__ = ["CASE", "CASES", "HAPPENED_BY", "KNOWN_AT", "VIEW_LEVELS", "ReplayedView", "replay_view", "views_as_of"]

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


def views_as_of(store: Any, at: datetime, sense: str = KNOWN_AT, *, use_checkpoints: bool = True) -> tuple[MemoryViews, int]:
    """Every view as of `at` in the given sense, and the number of events folded (after the checkpoint)."""
    result = _views_as_of(store, at, sense, use_checkpoints=use_checkpoints)
    return result.views, result.folded


def replay_view(store: Any, level: str, code: str, at: datetime, sense: str = KNOWN_AT, *,
                use_checkpoints: bool = True) -> ReplayedView:
    """One view (a territory's figures and cases, the case list of a territory, or one case) as of `at`."""
    if level not in VIEW_LEVELS:
        raise ValueError(f"niveau inconnu : {level} (attendu : {', '.join(VIEW_LEVELS)})")
    if level == Level.NATIONAL.value:
        code = NATIONAL
    with gc_paused():  # also while selecting: see gc_paused
        result: AsOf = _views_as_of(store, at, sense, level=level, code=code, use_checkpoints=use_checkpoints)
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
    rows = views.cases
    return {"figures": dict(sorted(territory.figures.items())), "updated_at": territory.updated_at.isoformat(),
            "opened_last_hour": sum(1 for t in opened if t > hour_ago),
            "opened_last_24h": sum(1 for t in opened if t > day_ago),
            "most_serious": [_jsonable(rows.row(key) if isinstance(rows, LazyRows) else rows[key])
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
    CLI's) write them as ISO 8601, and formatting tens of thousands of them here would double the time
    of a département's replay."""
    return {**row, "originator_id": str(row["originator_id"])}
