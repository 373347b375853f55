"""What the routes read: the projections' views and case list, case rows for the live stream.

The views and the case list are the projections' (`projections.queries`); this module adapts them
to the API: the total of a paginated list, the active cases of each subdivision for the map, and a
point for each case (the case list keeps no coordinates; the live stream's rows carry the message's
point, the list falls back on a point inside the case's commune).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import psycopg
import shapely
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier

from adapters.geography import Geography
from adapters.store.event_store import TocsinStore
from domain.case import Case
from domain.case_state import best_placement
from domain.geography import NATIONAL, Level
from domain.identity import case_uuid
from projections import queries
from projections.case_list import NO_ZONE, UNPLACED, case_row
from projections.presentation import family_label
from projections.store.view_store import CASES, TRACKING_TABLE, table_name

log = logging.getLogger(__name__)

_CASE_TOPIC_PREFIX = "domain.case:Case."
PSEUDO_CODES = frozenset({UNPLACED, NO_ZONE})
CACHE_SECONDS = 10.0  # new events empty the cache at once; the TTL only moves the "last hour" windows
CACHE_ENTRIES = 10_000
_LEVEL_COLUMN = {Level.COMMUNE: "commune", Level.DEPARTEMENT: "departement", Level.ZONE: "zone"}


def row_placement(row: dict) -> dict:
    """{insee, departement, zone} of a case row, pseudo-territories read as unknown."""
    def real(value: Any) -> Any:
        return None if value in PSEUDO_CODES else value

    return {"insee": real(row.get("commune")), "departement": real(row.get("departement")),
            "zone": real(row.get("zone"))}


@lru_cache(maxsize=40_000)
def commune_point(geography: Geography, insee: str) -> tuple[float, float] | None:
    """(lat, lon) of a point inside the commune, for cases whose list row has no point."""
    geometry = geography.boundary(Level.COMMUNE, insee)
    if geometry is None:
        return None
    p = shapely.point_on_surface(shapely.geometry.shape(geometry))
    return round(p.y, 5), round(p.x, 5)


def with_point(row: dict, geography: Geography) -> dict:
    if row.get("lat") is None and row.get("commune") and row["commune"] not in PSEUDO_CODES:
        point = commune_point(geography, row["commune"])
        if point:
            row["lat"], row["lon"], row["approximate"] = point[0], point[1], True
    return row


def case_json(case: Case, geography: Geography, position: int) -> dict[str, Any]:
    """The live stream's row of a case: the case list's row, plus the case's own point."""
    row = case_row(case.state, case.id, updated_at=datetime.now(UTC), last_event_id=position)
    out = {k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, UUID) else v) for k, v in row.items()}
    out["family_label"] = family_label(row["family"])
    commune = row["commune"]
    out["commune_name"] = geography.name(Level.COMMUNE, commune) if geography.exists(Level.COMMUNE, commune) else None
    point = (best_placement(case.state) or {}).get("point")
    if point:
        out["lat"], out["lon"] = point[0], point[1]
    return with_point(out, geography)


# ---- the feed of changed cases ------------------------------------------------------------------

class CaseFeed:
    """Tails the event store's notification log: which cases changed since the last call."""

    def __init__(self, store: TocsinStore, geography: Geography, start_after: int | None = None) -> None:
        self.store = store
        self.geography = geography
        self.position = start_after if start_after is not None else (store.recorder.max_notification_id() or 0)
        self._lock = threading.Lock()

    def changed(self, batch: int = 2000) -> list[dict[str, Any]]:
        """Rows of the cases with new events (each case once, at its latest state)."""
        with self._lock:
            latest: dict[UUID, int] = {}
            while True:
                notes = self.store.recorder.select_notifications(self.position + 1, batch)
                for n in notes:
                    if n.topic.startswith(_CASE_TOPIC_PREFIX):
                        latest[n.originator_id] = n.id
                    self.position = max(self.position, n.id)
                if len(notes) < batch:
                    break
        out = []
        for originator, position in latest.items():
            try:
                case = self.store.repository.get(originator)
            except Exception:  # noqa: BLE001 - a case that cannot be read must not stop the feed
                log.exception("case %s unreadable", originator)
                continue
            out.append(case_json(case, self.geography, position))
        return out


# ---- the projections, adapted --------------------------------------------------------------------

class ReadModel:
    """The projections' read API, with the few additions the HTTP layer needs."""

    def __init__(self, store: TocsinStore, geography: Geography, ttl: float = CACHE_SECONDS) -> None:
        self.store = store
        self.geography = geography
        self.schema = store.settings.schema
        self.ttl = ttl
        self.generation = 0
        self._cache: dict[tuple, tuple[float, int, Any]] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.store.database_url, autocommit=True, row_factory=dict_row)

    # A read-through cache: a hundred dashboards of one territory cost one query, not a hundred. It is
    # emptied whenever the live hub sees new events (after the views have folded them), and entries
    # live `ttl` seconds at most (the "last hour" windows move with the clock).
    def invalidate(self) -> None:
        self.generation += 1

    def peek(self, key: tuple) -> Any:
        """The cached value, if fresh (cheap: callers on the event loop skip the thread pool)."""
        entry = self._cache.get(key)
        if entry is not None and entry[1] == self.generation and entry[0] > time.monotonic():
            return entry[2]
        return None

    def remember(self, key: tuple, value: Any, generation: int) -> None:
        """Keep a value derived from cached reads made at `generation` (e.g. a response's bytes)."""
        if generation == self.generation:
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + self.ttl, generation, value)

    async def get(self, what: str, level: Level, code: str, **filters: Any) -> Any:
        """territory_view / case_list / children_counts, from the cache or from a worker thread."""
        from fastapi.concurrency import run_in_threadpool

        key = _key(what, level, code, filters)
        value = self.peek(key)
        if value is None:
            value = await run_in_threadpool(getattr(self, what), level=level, code=code, **filters)
            return value
        return dict(value) if isinstance(value, dict) else list(value)

    def _cached(self, key: tuple, compute: Any) -> Any:
        entry = self._cache.get(key)
        if entry is not None and entry[1] == self.generation and entry[0] > time.monotonic():
            return entry[2]
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        # One computation per key at a time. While it runs, callers holding a value of the current
        # generation that only aged past its TTL get it (stale-while-revalidate, so the "last hour"
        # windows never stall a hundred readers); after new events everyone waits for the new value.
        if not lock.acquire(blocking=entry is None or entry[1] != self.generation):
            return entry[2]
        try:
            entry = self._cache.get(key)
            if entry is not None and entry[1] == self.generation and entry[0] > time.monotonic():
                return entry[2]
            generation = self.generation
            value = compute()
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + self.ttl, generation, value)
            return value
        finally:
            lock.release()

    def territory_view(self, level: Level, code: str) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            view = queries.territory_view(self.store, level, code, geography=self.geography)
            view["most_serious"] = [with_point(c, self.geography) for c in view.get("most_serious", [])]
            return view

        return dict(self._cached(_key("territory_view", level, code, {}), compute))

    def case_list(self, *, level: Level, code: str, status: str | None = None, family: str | None = None,
                  since: datetime | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            items = queries.case_list(self.store, level=level, code=code, status=status, family=family,
                                      since=since, limit=limit, offset=offset, geography=self.geography)
            return {"total": self.count(level, code, status, family, since),
                    "items": [with_point(i, self.geography) for i in items]}

        filters = {"status": status, "family": family, "since": since, "limit": limit, "offset": offset}
        return dict(self._cached(_key("case_list", level, code, filters), compute))

    def count(self, level: Level, code: str, status: str | None, family: str | None, since: datetime | None) -> int:
        where, params = [SQL("TRUE")], []
        if level is not Level.NATIONAL:
            where.append(SQL("{} = %s").format(Identifier(_LEVEL_COLUMN[level])))
            params.append(code)
        for column, value, op in (("status", status, "="), ("family", family, "="), ("opened_at", since, ">=")):
            if value is not None:
                where.append(SQL("{} " + op + " %s").format(Identifier(column)))
                params.append(value)
        query = SQL("SELECT count(*) AS n FROM {}.{} WHERE {}").format(
            Identifier(self.schema), Identifier(table_name(CASES)), SQL(" AND ").join(where))
        with self.store.connect() as conn:
            return conn.execute(query, params).fetchone()["n"]

    def children_counts(self, level: Level, code: str) -> list[dict[str, Any]]:
        return list(self._cached(_key("children_counts", level, code, {}), lambda: self._children_counts(level, code)))

    def _children_counts(self, level: Level, code: str) -> list[dict[str, Any]]:
        """Active cases in each direct subdivision of a territory (one query on the child level's view)."""
        children = self.geography.children(level, code)
        counts: dict[str, int] = {}
        by_level: dict[Level, list[str]] = {}
        for lvl, c in children:
            by_level.setdefault(lvl, []).append(c)
        with self._connect() as conn:
            for lvl, codes in by_level.items():
                query = SQL("SELECT code, cases_active FROM {}.{} WHERE code = ANY(%s)").format(
                    Identifier(self.schema), Identifier(table_name(lvl.value)))
                try:
                    counts.update({r["code"]: r["cases_active"] for r in conn.execute(query, (codes,))})
                except psycopg.errors.UndefinedTable:
                    pass  # no projection worker has run yet: nothing to count
        return [{"level": lvl.value, "code": c, "name": self.geography.name(lvl, c), "cases_active": counts.get(c, 0)}
                for lvl, c in children]

    def position(self) -> int:
        """The lowest position of the views the API reads (what every one of them has folded)."""
        query = SQL("SELECT min(position) AS p FROM {}.{} WHERE name = ANY(%s)").format(
            Identifier(self.schema), Identifier(TRACKING_TABLE))
        try:
            with self._connect() as conn:
                row = conn.execute(query, ([CASES, *(lvl.value for lvl in Level)],)).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return int(row["p"] or 0)


def _key(what: str, level: Level, code: str, filters: dict) -> tuple:
    return (what, level, code, *sorted(filters.items()))


def case_placement(store: TocsinStore, case_id: str) -> tuple[Case, dict] | None:
    """The case aggregate and where it is, or None when unknown."""
    from eventsourcing.application import AggregateNotFoundError

    try:
        case: Case = store.repository.get(case_uuid(case_id))
    except AggregateNotFoundError:
        return None
    return case, best_placement(case.state) or {}


def in_scope(level: Level, code: str) -> bool:
    return level is not Level.NATIONAL or code == NATIONAL
