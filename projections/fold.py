"""The fold shared by live processing, rebuilds and replays: events in, row changes out.

`fold_batch` takes a batch of case events and the prior state of the cases they touch, and returns
what changes: the new case rows, and per level the counters to add to each territory and the time
each territory was last touched. It never reads or writes anything else, so the PostgreSQL worker,
the rebuild (in one or several processes) and the tests' in-memory fold all run the same code.

Batch boundaries never change the result: contributions are subtracted/added per case (sums are
associative), and a territory's `updated_at` is the latest recording time of an event whose case was
in that territory just before or just after the event (a maximum, whatever the batches).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.store.codec import CaseEvent
from domain.case_state import PLACING, CaseState
from domain.geography import NATIONAL, Level
from projections.case_list import case_row, fold_event, placement_codes
from projections.territory import LEVELS, Figures, add, figures


@dataclass(slots=True)
class CaseEntry:
    """A case as folded so far, and the last event folded into it."""

    state: CaseState = field(default_factory=CaseState)
    updated_at: datetime | None = None
    last_event_id: int = 0

    def row(self, originator_id: UUID) -> dict[str, Any]:
        assert self.updated_at is not None, "a case entry without events has no row"
        return case_row(self.state, originator_id, updated_at=self.updated_at, last_event_id=self.last_event_id)


@dataclass
class Changes:
    """What a batch changes. `deltas` and `touched` are keyed by level, then territory code."""

    rows: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    deltas: dict[Level, dict[str, Figures]] = field(default_factory=lambda: {level: {} for level in LEVELS})
    touched: dict[Level, dict[str, datetime]] = field(default_factory=lambda: {level: {} for level in LEVELS})

    def merge(self, other: Changes) -> None:
        """Combine the changes of a disjoint set of cases (parallel rebuild partitions)."""
        self.rows.update(other.rows)
        for level in LEVELS:
            deltas = self.deltas[level]
            for code, values in other.deltas[level].items():
                add(deltas.setdefault(code, {}), values)
            _touch_all(self.touched[level], other.touched[level])


def fold_batch(events: Iterable[CaseEvent], entries: MutableMapping[UUID, CaseEntry]) -> Changes:
    """Fold `events` (in notification order) into `entries` (mutated: the prior state of every case
    the events touch must be there, absent meaning no event yet) and return the changes."""
    changes = Changes()
    old_rows: dict[UUID, dict[str, Any] | None] = {}
    # Per case, the run of its latest events that left it in the same place: [codes, latest time, entry].
    # Touching a place once per run, not once per event, gives the same maxima for less work.
    runs: dict[UUID, list] = {}
    placing = PLACING
    for event in events:
        oid = event.originator_id
        at = event.recorded_at
        run = runs.get(oid)
        if run is None:
            entry = entries.get(oid)
            if entry is None:
                entry = entries[oid] = CaseEntry()
                old_rows[oid] = None
                before = None
            else:
                old_rows[oid] = entry.row(oid)
                before = placement_codes(entry.state)
        else:
            before, entry = run[0], run[2]
        _fold_one(entry, event)
        if before is None or event.kind in placing:
            after = placement_codes(entry.state)
        else:
            after = before  # this kind of message never moves a case
        if run is not None and after == before:
            if at > run[1]:
                run[1] = at
            continue
        if run is not None:
            _touch_places(changes.touched, run[0], run[1])
        if before is not None and before != after:
            _touch_places(changes.touched, before, at)  # the event took the case away from there
        runs[oid] = [after, at, entry]
    for codes, at, _ in runs.values():
        _touch_places(changes.touched, codes, at)

    # Contributions are summed per place first, then added once per place at each level.
    by_place: dict[tuple[str, str, str], Figures] = {}
    for oid, old in old_rows.items():
        new = entries[oid].row(oid)
        changes.rows[oid] = new
        _move(by_place, old, new)
    for (commune, departement, zone), delta in by_place.items():
        for level, code in zip(LEVELS, (commune, departement, zone, NATIONAL), strict=True):
            add(changes.deltas[level].setdefault(code, {}), delta)
    return changes


def fold_history(events: Iterable[CaseEvent], entries: MutableMapping[UUID, CaseEntry]) -> None:
    """Fold past events into `entries` without computing changes (to warm up cold cases)."""
    for event in events:
        entry = entries.get(event.originator_id)
        if entry is None:
            entry = entries[event.originator_id] = CaseEntry()
        _fold_one(entry, event)


def _fold_one(entry: CaseEntry, event: CaseEvent) -> None:
    state = fold_event(entry.state, event.kind, event.facts, event.provenance)
    if state.case_id is None:
        state.case_id = event.case_id  # an acknowledgement's facts do not repeat it
    if entry.updated_at is None or event.recorded_at > entry.updated_at:
        entry.updated_at = event.recorded_at
    if event.notification_id > entry.last_event_id:
        entry.last_event_id = event.notification_id


def _move(by_place: dict[tuple[str, str, str], Figures], old: dict | None, new: dict) -> None:
    """Subtract the old contribution of a case from its old place and add the new one to its new place."""
    new_figures, new_place = figures(new), _place(new)
    if old is not None:
        old_figures, old_place = figures(old), _place(old)
        if old_figures == new_figures and old_place == new_place:
            return
        add(by_place.setdefault(old_place, {}), old_figures, -1)
    add(by_place.setdefault(new_place, {}), new_figures)


def _place(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["commune"], row["departement"], row["zone"]


def _touch_places(touched: dict[Level, dict[str, datetime]], codes: tuple[str, str, str], at: datetime) -> None:
    _touch(touched[Level.COMMUNE], codes[0], at)
    _touch(touched[Level.DEPARTEMENT], codes[1], at)
    _touch(touched[Level.ZONE], codes[2], at)
    _touch(touched[Level.NATIONAL], NATIONAL, at)


def _touch(times: dict[str, datetime], code: str, at: datetime) -> None:
    current = times.get(code)
    if current is None or at > current:
        times[code] = at


def _touch_all(times: dict[str, datetime], other: dict[str, datetime]) -> None:
    for code, at in other.items():
        _touch(times, code, at)
