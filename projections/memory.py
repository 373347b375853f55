"""The views held in memory: what the tables contain, without PostgreSQL.

Used by rebuilds (each partition folds into memory, then the tables are written in bulk), by replays
(the views as of a position) and by the tests as the reference the tables must equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.store.codec import CaseEvent
from domain.geography import Level
from projections.fold import CaseEntry, Changes, fold_batch
from projections.territory import LEVELS, Figures, add


@dataclass
class TerritoryRow:
    figures: Figures
    updated_at: datetime


@dataclass
class MemoryViews:
    entries: dict[UUID, CaseEntry] = field(default_factory=dict)
    cases: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    territories: dict[Level, dict[str, TerritoryRow]] = field(default_factory=lambda: {lv: {} for lv in LEVELS})
    position: int = 0

    def process(self, events: Iterable[CaseEvent], position: int | None = None) -> Changes:
        """Fold a batch and apply its changes; `position` is the last notification id it covers."""
        events = list(events)
        changes = fold_batch(events, self.entries)
        self.apply(changes)
        last = max((e.notification_id for e in events), default=self.position)
        self.position = max(self.position, last, position or 0)
        return changes

    def apply(self, changes: Changes) -> None:
        self.cases.update(changes.rows)
        for level in LEVELS:
            table = self.territories[level]
            for code, at in changes.touched[level].items():
                row = table.get(code)
                if row is None:
                    row = table[code] = TerritoryRow({}, at)
                elif at > row.updated_at:
                    row.updated_at = at
            for code, delta in changes.deltas[level].items():
                add(table[code].figures, delta)
