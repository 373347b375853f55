"""Reading the views: the figures of a territory, its cases, the cases changed since a position, and
the state of each view. Every result is JSON-ready; the HTTP app, the CLI and the live stream call these.

Territories come in typed (`Level`, code), checked by the caller (`projections.read.territories` for
what a person types, the API's access check for a request). Connections are the store's pooled ones.

"Opened in the last hour / 24 h" are computed here, at read time, over the case list's `opened_at`
(the time the case was created by its sender, else its first message), relative to `now`: the wall
clock by default; a replay passes the moment it shows. The counters come from the level's own view;
the windows and the most serious cases from the case list (each view has its own position).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from adapters.geography import Geography, get_geography
from adapters.store.replica import ViewSource
from domain.case import Case
from domain.geography import NATIONAL, Level
from domain.nature import NatureFamily
from projections.case_list import CASE_COLUMNS
from projections.presentation import describe
from projections.read.rows import case_json
from projections.read.territories import territory_name
from projections.registry import BY_LEVEL, CASE_LIST, VIEWS
from projections.store.view_store import TRACKING_TABLE, ensure_tables, head, read_page, rebuild_running

LEVEL_COLUMN = {Level.COMMUNE: "commune", Level.DEPARTEMENT: "departement", Level.ZONE: "zone"}
CHANGED_PAGE = 5000  # case rows read at once by the live stream
# How a case list may be ordered: what needs attention first (the default), or the newest first.
SORTS = {
    "severity": "severity DESC, opened_at DESC NULLS LAST, case_id",
    "recent": "opened_at DESC NULLS LAST, case_id",
}


def territory_view(
    store: ViewSource, level: Level, code: str, *, now: datetime | None = None, top: int = 5,
    geography: Geography | None = None,
) -> dict[str, Any]:
    """A territory's figures; zeros when no case ever touched it."""
    geography = geography or get_geography()
    now = now or datetime.now(UTC)
    schema = store.settings.schema
    view = BY_LEVEL[level]
    with _connect(store) as conn:
        row = conn.execute(
            SQL("SELECT figures, updated_at FROM {} WHERE code = %s").format(_table(schema, view.table())), (code,)
        ).fetchone()
        tracking = conn.execute(
            SQL("SELECT name, position FROM {}.{} WHERE name = ANY(%s)").format(
                Identifier(schema), Identifier(TRACKING_TABLE)
            ),
            ([view.tracking(), CASE_LIST.tracking()],),
        ).fetchall()
        where, params = _territory_filter(level, code)
        windows = conn.execute(
            SQL(
                "SELECT count(*) FILTER (WHERE opened_at > %s) AS hour, count(*) AS day FROM {}"
                " WHERE {} opened_at > %s AND opened_at <= %s"
            ).format(_table(schema, CASE_LIST.table()), where),
            [now - timedelta(hours=1), *params, now - timedelta(hours=24), now],
        ).fetchone()
        serious = conn.execute(
            SQL(
                "SELECT {} FROM {} WHERE {} status = 'open' ORDER BY severity DESC, opened_at DESC NULLS LAST,"
                " case_id LIMIT %s"
            ).format(_fields(), _table(schema, CASE_LIST.table()), where),
            [*params, top],
        ).fetchall()
    name, label = territory_name(geography, level, code)
    positions = {t["name"]: t["position"] for t in tracking}
    return {
        "level": level.value,
        "code": code,
        "name": name,
        "label": label,
        **describe(row["figures"] if row else {}),
        "opened_last_hour": windows["hour"],
        "opened_last_24h": windows["day"],
        "windows_until": now.isoformat(),
        "most_serious": [case_json(c, geography) for c in serious],
        "updated_at": row["updated_at"].isoformat() if row else None,
        "position": positions.get(view.tracking(), 0),
        "case_list_position": positions.get(CASE_LIST.tracking(), 0),
    }


def case_list(
    store: ViewSource, level: Level = Level.NATIONAL, code: str = NATIONAL, *, status: str | None = None,
    family: str | None = None, since: datetime | None = None, limit: int = 50, offset: int = 0,
    geography: Geography | None = None, sort: str = "severity",
) -> list[dict[str, Any]]:
    """Cases of a territory, the most serious first (`sort="recent"`: newest first). `status`: open|closed;
    `family`: domain.nature family; `since`: opened at or after. Raises ValueError for a bad filter."""
    geography = geography or get_geography()
    where, params = _case_filter(level, code, status, family, since)
    if sort not in SORTS:
        raise ValueError(f"tri inconnu : {sort!r} (attendu : {', '.join(SORTS)})")
    with _connect(store) as conn:
        rows = conn.execute(
            SQL(
                "SELECT {} FROM {} WHERE {} TRUE ORDER BY {} LIMIT %s OFFSET %s"
            ).format(_fields(), _table(store.settings.schema, CASE_LIST.table()), where, SQL(SORTS[sort])),
            [*params, max(0, min(limit, 1000)), max(0, offset)],
        ).fetchall()
    return [case_json(r, geography) for r in rows]


def cases_by_id(store: ViewSource, case_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The case list's rows of these cases (as read, not JSON-ready), those the views hold: a crisis's."""
    if not case_ids:
        return []
    with _connect(store) as conn:
        return list(conn.execute(
            SQL("SELECT {} FROM {} WHERE case_id = ANY(%s) ORDER BY opened_at DESC NULLS LAST, case_id").format(
                _fields(), _table(store.settings.schema, CASE_LIST.table())),
            (list(case_ids),),
        ).fetchall())


def count_cases(
    store: ViewSource, level: Level, code: str, *, status: str | None = None, family: str | None = None,
    since: datetime | None = None,
) -> int:
    """How many cases `case_list` pages through (the same filters)."""
    where, params = _case_filter(level, code, status, family, since)
    with _connect(store) as conn:
        row = conn.execute(
            SQL("SELECT count(*) AS n FROM {} WHERE {} TRUE").format(
                _table(store.settings.schema, CASE_LIST.table()), where),
            params,
        ).fetchone()
    return int(row["n"])


def children_counts(store: ViewSource, geography: Geography, level: Level, code: str) -> list[dict[str, Any]]:
    """Active cases in each direct subdivision of a territory (one query per child level's view)."""
    children = geography.children(level, code)
    counts: dict[str, int] = {}
    by_level: dict[Level, list[str]] = {}
    for lvl, c in children:
        by_level.setdefault(lvl, []).append(c)
    with _connect(store) as conn:
        for lvl, codes in by_level.items():
            query = SQL("SELECT code, cases_active FROM {} WHERE code = ANY(%s)").format(
                _table(store.settings.schema, BY_LEVEL[lvl].table()))
            counts.update({r["code"]: r["cases_active"] for r in conn.execute(query, (codes,))})
    return [{"level": lvl.value, "code": c, "name": geography.name(lvl, c), "cases_active": counts.get(c, 0)}
            for lvl, c in children]


def view_positions(store: ViewSource) -> dict[str, int]:
    """Each live view's position (the last event it folded)."""
    with _connect(store) as conn:
        return _positions(conn, store.settings.schema)


class ChangedCases(NamedTuple):
    """The case rows the views changed after a position, and where to read from next time."""

    rows: list[dict[str, Any]]  # JSON-ready (`case_json`), each case once, at its latest state
    upto: int  # every row changed up to here was read: the next call starts after it
    reached: int  # what every view has folded
    listed: int  # what the case list has folded (ahead of `reached` while another view lags)


def changed_cases(
    store: ViewSource, geography: Geography, after: int, *, ahead: bool = False, limit: int = CHANGED_PAGE,
) -> ChangedCases:
    """The case rows whose last event is after `after` and that every view has folded (with `ahead`,
    up to the case list's own position even if another view lags). A row's `last_event_id` is the last
    event folded into it, written in the batch that folded it: its cost is the rows changed, whatever
    the cases' histories."""
    schema = store.settings.schema
    with _connect(store) as conn:
        positions = _positions(conn, schema)
        reached = min(positions.values(), default=0)
        listed = positions.get(CASE_LIST.tracking(), 0)
        upto = max(after, listed if ahead else reached)
        if upto == after:
            return ChangedCases([], after, reached, listed)
        rows = conn.execute(
            SQL("SELECT {} FROM {} WHERE last_event_id > %s AND last_event_id <= %s ORDER BY last_event_id LIMIT %s")
            .format(_fields(), _table(schema, CASE_LIST.table())),
            (after, upto, limit),
        ).fetchall()
    if len(rows) == limit:
        upto = rows[-1]["last_event_id"]  # more to read: the next call goes on from here
    return ChangedCases([case_json(r, geography) for r in rows], upto, reached, listed)


def projection_status(store: ViewSource) -> list[dict[str, Any]]:
    """Each view: position, lag (events and seconds behind the store), events/s, rebuild under way."""
    schema = store.settings.schema
    now = datetime.now(UTC)
    with _connect(store) as conn:
        newest = head(conn, schema)
        tracking = {
            r["name"]: r
            for r in conn.execute(SQL("SELECT * FROM {}.{}").format(Identifier(schema), Identifier(TRACKING_TABLE)))
        }
        running = rebuild_running(conn, schema)
        out = []
        for view in VIEWS:
            t = tracking[view.tracking()]
            rebuilding = tracking.get(view.tracking(shadow=True))
            out.append(
                {
                    "name": view.name,
                    "position": t["position"],
                    "head": newest,
                    "lag_events": _behind(conn, schema, t["position"]),
                    "lag_seconds": _lag_seconds(store, conn, schema, t["position"], now),
                    "events_per_second": round(t["rate"], 1) if t["rate"] else None,
                    "events": t["events"],
                    "updated_at": t["updated_at"].isoformat(),
                    "last_event_at": t["last_event_at"].isoformat() if t["last_event_at"] else None,
                    "rebuilt_at": t["rebuilt_at"].isoformat() if t["rebuilt_at"] else None,
                    "rebuild": None if rebuilding is None else {
                        "position": rebuilding["position"],
                        "started_at": rebuilding["started_at"].isoformat() if rebuilding["started_at"] else None,
                        "running": running,
                    },
                }
            )
    return out


def _positions(conn: psycopg.Connection[DictRow], schema: str) -> dict[str, int]:
    rows = conn.execute(
        SQL("SELECT name, position FROM {}.{} WHERE name = ANY(%s)").format(
            Identifier(schema), Identifier(TRACKING_TABLE)),
        ([v.tracking() for v in VIEWS],),
    ).fetchall()
    return {r["name"]: int(r["position"]) for r in rows}


def _behind(conn: psycopg.Connection[DictRow], schema: str, position: int, cap: int = 10_000_000) -> int:
    """Events recorded after `position` (counted, not subtracted: rolled back inserts leave id gaps)."""
    row = conn.execute(
        SQL("SELECT count(*) AS n FROM (SELECT 1 FROM {}.tocsin_events WHERE notification_id > %s LIMIT %s) s").format(
            Identifier(schema)
        ),
        (position, cap),
    ).fetchone()
    return int(row["n"]) if row else 0


def _lag_seconds(
    store: ViewSource, conn: psycopg.Connection[DictRow], schema: str, position: int, now: datetime
) -> float:
    """How long the oldest event not yet folded has been waiting (0 when caught up)."""
    rows = read_page(conn, schema, position, 1)
    if not rows:
        return 0.0
    _, oid, version, topic, state = rows[0]
    stored = StoredEvent(oid, version, topic, bytes(state))
    recorded = cast(Case.MessageRecorded, store.mapper.to_domain_event(stored)).timestamp
    return round(max(0.0, (now - recorded).total_seconds()), 3)


_READY: set[tuple[str, str]] = set()


@contextmanager
def _connect(store: ViewSource) -> Iterator[Any]:
    """A pooled connection (rows as dicts), the views created (empty) if no worker ran yet."""
    with store.connect() as conn:
        key = (store.database_url, store.settings.schema)
        if key not in _READY:
            # A standby is read-only: there the primary's worker (or reader) has created them.
            if not conn.execute("SELECT pg_is_in_recovery() AS r").fetchone()["r"]:
                ensure_tables(conn, store.settings.schema)
            _READY.add(key)
        yield conn


def _table(schema: str, table: str) -> Composed:
    return SQL("{}.{}").format(Identifier(schema), Identifier(table))


def _fields() -> Composed:
    return SQL(", ").join(map(Identifier, CASE_COLUMNS))


def _territory_filter(level: Level, code: str) -> tuple[Composed, list[Any]]:
    """A WHERE prefix (ending with AND, or empty) selecting a territory's cases."""
    if level is Level.NATIONAL:
        return SQL("").format(), []
    return SQL("{} = %s AND ").format(Identifier(LEVEL_COLUMN[level])), [code]


def _case_filter(
    level: Level, code: str, status: str | None, family: str | None, since: datetime | None,
) -> tuple[Composed, list[Any]]:
    """A WHERE prefix (ending with AND, or empty) selecting a territory's cases, filtered."""
    where, params = _territory_filter(level, code)
    if status is not None:
        if status not in ("open", "closed"):
            raise ValueError(f"statut inconnu : {status!r} (attendu : open ou closed)")
        where += SQL("status = %s AND ")
        params.append(status)
    if family is not None:
        NatureFamily(family)  # ValueError for an unknown family
        where += SQL("family = %s AND ")
        params.append(family)
    if since is not None:
        where += SQL("opened_at >= %s AND ")
        params.append(since)
    return where, params
