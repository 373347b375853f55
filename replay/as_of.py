"""Any view as it stood at a past moment, in the two senses of DESIGN.md's "two times".

- known at T (`KNOWN_AT`): what the platform had recorded by T. The events folded are those chained by
  T; the chain's `chained_at` (clock time of the insert, under the events table's exclusive lock) is
  monotonic with the notification id, so "known at T" is exactly a prefix of the log.
- happened by T (`HAPPENED_BY`): what the messages say had happened by T, as known now. The events folded
  are those whose message was sent by T (the message index's `sent_at`, else its reception time), in
  notification order: the case fold is order-tolerant, so a subset folds to the right state.

The fold is the projections' own (projections.memory.MemoryViews over projections.fold), so a replayed
view is computed by exactly the code that computes the live one. The folding itself, from the best
checkpoint (replay/checkpoints.py) or from the first event when there is none, lives in
replay/checkpoints.py; this module names the views and shapes them for the CLI and the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.geography import NATIONAL, Level
from projections.memory import MemoryViews
from replay.checkpoints import HAPPENED_BY, KNOWN_AT, AsOf, gc_paused
from replay.checkpoints import views_as_of as _views_as_of

__all__ = ["CASE", "CASES", "HAPPENED_BY", "KNOWN_AT", "VIEW_LEVELS", "ReplayedView", "replay_view", "views_as_of"]

CASE, CASES = "case", "cases"
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
        view = select_view(result.views, level, code)
    return ReplayedView(level, code, at, sense, result.views.position, result.folded, view,
                        result.checkpoint.notification_id if result.checkpoint else None, round(result.seconds, 3))


def select_view(views: MemoryViews, level: str, code: str) -> dict | None:
    if level == CASE:
        row = next((r for r in views.cases.values() if r["case_id"] == code), None)
        return _jsonable(row) if row else None
    if level == CASES:
        return {"cases": [_jsonable(r) for r in _cases_in(views, code)]}
    territory = views.territories[Level(level)].get(NATIONAL if level == Level.NATIONAL.value else code)
    if territory is None:
        return None
    return {"figures": dict(sorted(territory.figures.items())), "updated_at": territory.updated_at.isoformat(),
            "cases": [_jsonable(r) for r in _cases_in(views, code if level != Level.NATIONAL.value else NATIONAL)]}


def _cases_in(views: MemoryViews, code: str) -> list[dict]:
    """Case rows of a territory (any level's code, or FR), most severe first."""
    rows = [r for r in views.cases.values() if code == NATIONAL or code in (r["commune"], r["departement"], r["zone"])]
    return sorted(rows, key=lambda r: (-(r.get("severity") or 0), r["case_id"]))


def _jsonable(row: dict) -> dict:
    """A copy of a case row for output. Times stay datetimes: the JSON encoders (orjson in the API, the
    CLI's) write them as ISO 8601, and formatting tens of thousands of them here would double the time
    of a département's replay."""
    return {**row, "originator_id": str(row["originator_id"])}
