"""Readiness: can this process serve? The database answers, and the views are not too far behind.

`/readyz` (the API) and the standalone processes' metrics port ask this; liveness (`/healthz`) asks
nothing of anyone. Two reads at an index's end, whatever the length of the history: the views' lowest
position, and when the oldest event they have not folded was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.ingest.feed_freshness import waiting_since
from adapters.store.event_store import TocsinStore
from projections.read.queries import view_positions


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str | None = None  # a machine code: database_unreachable, views_behind, nats_unreachable
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        if self.ready:
            return {"status": "ready", **self.detail}
        return {"status": "not_ready", "reason": self.reason, **self.detail}


def database_reachable(store: TocsinStore) -> Readiness:
    try:
        with store.connect() as conn:
            conn.execute("SELECT 1")
    except Exception as error:  # whatever the failure, the answer is the same: not ready
        return Readiness(False, "database_unreachable", {"error": type(error).__name__})
    return Readiness(True)


def views_readiness(store: TocsinStore, max_lag_seconds: float) -> Readiness:
    """Ready when the database answers and every view has folded what was recorded more than
    `max_lag_seconds` ago."""
    try:
        position = min(view_positions(store).values(), default=0)
        waiting = waiting_since(store, position)
    except Exception as error:  # whatever the failure, the answer is the same: not ready
        return Readiness(False, "database_unreachable", {"error": type(error).__name__})
    lag = 0.0 if waiting is None else max(0.0, (datetime.now(UTC) - waiting).total_seconds())
    detail = {"view_lag_seconds": round(lag, 3), "view_lag_threshold_seconds": max_lag_seconds}
    if lag > max_lag_seconds:
        return Readiness(False, "views_behind", detail)
    return Readiness(True, None, detail)
