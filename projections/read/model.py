"""The read model an HTTP app keeps for its lifetime: the views' queries, cached, for many readers.

Each query has its own memo and typed key; a new position of the views (the live hub sees it first)
empties them all at once. The async methods answer from the cache on the event loop when they can,
and read the database in a worker thread when they must.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from anyio import to_thread

from adapters.geography import Geography
from adapters.store.replica import ViewSource, replication_lag
from domain.geography import Level
from projections.read import queries
from projections.read.memo import Generation, Memo
from projections.read.queries import ChangedCases

CACHE_SECONDS = 10.0  # new data empties the cache at once; the TTL only moves the "last hour" windows

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Territory:
    level: Level
    code: str


@dataclass(frozen=True)
class CasePage:
    """A page of a territory's case list: the key of its memo."""

    level: Level
    code: str
    status: str | None = None
    family: str | None = None
    since: datetime | None = None
    limit: int = 50
    offset: int = 0
    sort: str = "severity"


class ReadModel:
    def __init__(self, store: ViewSource, geography: Geography, ttl: float = CACHE_SECONDS) -> None:
        self.store = store
        self.geography = geography
        self._generation = Generation()
        self._views: Memo[Territory, dict[str, Any]] = Memo(self._generation, ttl)
        self._pages: Memo[CasePage, dict[str, Any]] = Memo(self._generation, ttl)
        self._children: Memo[Territory, list[dict[str, Any]]] = Memo(self._generation, ttl)
        self._derived: Memo[Hashable, bytes] = Memo(self._generation, ttl)
        self._by_id: Memo[frozenset[str], list[dict[str, Any]]] = Memo(self._generation, ttl)

    # ---- the cache ----

    @property
    def generation(self) -> int:
        return self._generation.value

    def invalidate(self) -> None:
        """The views moved on: every cached answer is stale."""
        self._generation.advance()

    def peek(self, key: Hashable) -> bytes | None:
        """A response body kept with `remember` (e.g. a page serialised for one caller's perimeter)."""
        return self._derived.peek(key)

    def remember(self, key: Hashable, body: bytes, generation: int) -> None:
        """Keep a body derived from reads made at `generation`."""
        self._derived.remember(key, body, generation)

    # ---- the queries, cached ----

    async def territory_view(self, level: Level, code: str) -> dict[str, Any]:
        view = await _cached(self._views, Territory(level, code), lambda: queries.territory_view(
            self.store, level, code, geography=self.geography))
        return dict(view)  # a copy: callers may add to it

    async def case_list(
        self, level: Level, code: str, *, status: str | None = None, family: str | None = None,
        since: datetime | None = None, limit: int = 50, offset: int = 0, sort: str = "severity",
    ) -> dict[str, Any]:
        """{total, items} of a page of a territory's cases."""
        page = CasePage(level, code, status, family, since, limit, offset, sort)

        def compute() -> dict[str, Any]:
            items = queries.case_list(self.store, level, code, status=status, family=family, since=since,
                                      limit=limit, offset=offset, geography=self.geography, sort=sort)
            total = queries.count_cases(self.store, level, code, status=status, family=family, since=since)
            return {"total": total, "items": items}

        result = await _cached(self._pages, page, compute)
        return dict(result)

    async def cases_by_id(self, case_ids: frozenset[str]) -> list[dict[str, Any]]:
        """The case list's rows of these cases, as read (a crisis's: projections.read.crisis_view)."""
        rows = await _cached(self._by_id, case_ids, lambda: queries.cases_by_id(self.store, sorted(case_ids)))
        return list(rows)

    async def children_counts(self, level: Level, code: str) -> list[dict[str, Any]]:
        counts = await _cached(self._children, Territory(level, code), lambda: queries.children_counts(
            self.store, self.geography, level, code))
        return list(counts)

    # ---- positions and changes (not cached: the live hub asks when the views moved) ----

    def position(self) -> int:
        """The lowest position of the views (what every one of them has folded)."""
        return min(queries.view_positions(self.store).values(), default=0)

    def replication(self) -> dict[str, Any]:
        """How far behind the primary the server these views are read from is (a standby's replay lag)."""
        return replication_lag(self.store)

    def changed_cases(self, after: int, *, ahead: bool = False) -> ChangedCases:
        return queries.changed_cases(self.store, self.geography, after, ahead=ahead)


async def _cached(memo: Memo[K, T], key: K, compute: Callable[[], T]) -> T:
    value = memo.peek(key)
    if value is not None:
        return value
    return await to_thread.run_sync(memo.get, key, compute)
