"""Requests between authorities in a replay: a crisis's requests as they stood at a past moment, and the
delays of each (issued → seen → answered → done) for the after-action report.

A request's acts are its own events, recorded as they are done: what happened and what the platform knew
are the same moment, each event's timestamp. A request as of T is the fold of its events up to T.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.crisis.requests import all_requests, requests_of_crisis
from adapters.store.event_store import TocsinStore
from domain.geography import Hierarchy, Level
from domain.request import Request

DELAY_COLUMNS = ("id", "kind", "from", "to", "status", "issued_at", "seen_at", "answered_at", "done_at",
                 "to_seen_min", "to_answer_min", "to_done_min")


def request_as_of(store: TocsinStore, request_id: UUID, at: datetime) -> Request | None:
    """The request folded from its events recorded up to `at` (None: not issued yet then)."""
    state: Any = None
    event: Any
    for event in store.events.get(request_id):
        if event.timestamp > at:
            break
        state = event.mutate(state)
    return state if isinstance(state, Request) else None


def crisis_requests_as_of(store: TocsinStore, crisis_id: str | UUID, at: datetime) -> list[dict]:
    """A crisis's requests as they stood at `at`, oldest first, each with its history up to then."""
    out = []
    for request in requests_of_crisis(store, crisis_id):
        if request.issued_at > at:
            continue
        then = request_as_of(store, request.id, at)
        if then is not None:
            out.append(then.as_dict())
    return out


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


def delays(requests: Iterable[Request]) -> list[dict]:
    """One row per request: its times and the minutes from issuing to seen, answered and done."""
    rows = []
    for r in sorted(requests, key=lambda r: r.issued_at):
        rows.append({
            "id": r.ref, "kind": r.kind, "from": r.issuer["id"], "to": r.addressee["id"], "status": r.status.value,
            "issued_at": r.issued_at.isoformat(),
            "seen_at": r.seen_at.isoformat() if r.seen_at else None,
            "answered_at": r.answered_at.isoformat() if r.answered_at else None,
            "done_at": r.done_at.isoformat() if r.done_at else None,
            "to_seen_min": _minutes(r.issued_at, r.seen_at),
            "to_answer_min": _minutes(r.issued_at, r.answered_at),
            "to_done_min": _minutes(r.issued_at, r.done_at),
        })
    return rows


def delay_stats(rows: Sequence[dict], key: str) -> dict:
    """Median and largest of a delay column, and how many requests reached that step."""
    values = [row[key] for row in rows if row[key] is not None]
    if not values:
        return {"requests": 0, "median": None, "max": None}
    return {"requests": len(values), "median": round(statistics.median(values), 1), "max": max(values)}


def requests_in(store: TocsinStore, geography: Hierarchy, level: str, code: str, start: datetime,
                end: datetime, *, at: datetime | None = None) -> list[Request]:
    """The requests issued in the window by or to an organisation of the territory, as they stood at `at`
    (the end of the window by default): the after-action report's."""
    where = (Level(level), code)
    at = at or end
    out = []
    for request in all_requests(store, 10_000):
        if not start <= request.issued_at <= end:
            continue
        parties = (request.issuer, request.addressee)
        if not any(geography.contains(where, (Level(p["level"]), p["code"])) for p in parties):
            continue
        then = request_as_of(store, request.id, at)
        if then is not None:
            out.append(then)
    return out
