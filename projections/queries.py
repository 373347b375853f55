"""The read API of the views, for the CLI and the HTTP layer. Every result is JSON-ready.

    territory_view(store, level, code, now=None, top=5) -> dict
    case_list(store, level=…, code=…, status=None, family=None, since=None, limit=50, offset=0) -> list[dict]
    projection_status(store) -> list[dict]

"Opened in the last hour / 24 h" are computed here, at read time, over the case list's `opened_at`
(the time the case was created by its sender, else its first message), relative to `now`: the wall
clock by default; a replay passes the moment it shows. The counters come from the level's own view;
the windows and the most serious cases from the case list (each view has its own position).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier

from adapters.geography import Geography, get_geography
from adapters.store.event_store import TocsinStore
from domain.geography import NATIONAL, Level, UnknownTerritory, territory
from domain.nature import NatureFamily
from projections.case_list import NO_ZONE, UNPLACED
from projections.presentation import PSEUDO_TERRITORY_LABELS, describe, family_label
from projections.store.view_store import (
    CASES,
    PROJECTIONS,
    REBUILD_SUFFIX,
    TRACKING_TABLE,
    ensure_tables,
    head,
    read_page,
    rebuild_running,
    table_name,
)

LEVEL_COLUMN = {Level.COMMUNE: "commune", Level.DEPARTEMENT: "departement", Level.ZONE: "zone"}
CASE_FIELDS = (
    "case_id", "commune", "departement", "zone", "placement_method", "family", "subfamily", "nature_code",
    "nature_label", "status", "emsi_status", "opened_at", "closed_at", "last_message_at", "victims_count",
    "red", "yellow", "green", "black", "missing", "displaced", "evacuated", "resources_total",
    "resources_engaged", "resources", "severity", "location_label", "city", "messages", "corrections", "updated_at",
)


def known_territory(level: Level | str, code: str, geography: Geography) -> tuple[Level, str]:
    """The territory parsed (domain.geography.territory) and known to the geography or one of the case
    list's pseudo-territories (cases not placed, départements in no zone). Raises UnknownTerritory."""
    lv, code = territory(level, code)
    pseudo = (UNPLACED, NO_ZONE) if lv is Level.ZONE else (UNPLACED,)
    if code in pseudo or geography.exists(lv, code):
        return lv, code
    raise UnknownTerritory(f"territoire inconnu : {lv.value}:{code}")


def territory_name(geography: Geography, level: Level, code: str) -> tuple[str, str]:
    if code in PSEUDO_TERRITORY_LABELS:
        return PSEUDO_TERRITORY_LABELS[code], PSEUDO_TERRITORY_LABELS[code]
    return geography.name(level, code), geography.label(level, code)


def territory_view(
    store: TocsinStore, level: Level | str, code: str, *, now: datetime | None = None, top: int = 5,
    geography: Geography | None = None,
) -> dict[str, Any]:
    """A territory's figures; zeros when no case ever touched it. Raises UnknownTerritory."""
    geography = geography or get_geography()
    lv, code = known_territory(level, code, geography)
    now = now or datetime.now(UTC)
    schema = store.settings.schema
    with _connect(store) as conn:
        row = conn.execute(
            SQL("SELECT figures, updated_at FROM {} WHERE code = %s").format(_table(schema, lv.value)), (code,)
        ).fetchone()
        tracking = conn.execute(
            SQL("SELECT name, position, updated_at, rebuilt_at FROM {}.{} WHERE name = ANY(%s)").format(
                Identifier(schema), Identifier(TRACKING_TABLE)
            ),
            ([lv.value, CASES],),
        ).fetchall()
        where, params = _territory_filter(lv, code)
        windows = conn.execute(
            SQL(
                "SELECT count(*) FILTER (WHERE opened_at > %s) AS hour, count(*) AS day FROM {}"
                " WHERE {} opened_at > %s AND opened_at <= %s"
            ).format(_table(schema, CASES), where),
            [now - timedelta(hours=1), *params, now - timedelta(hours=24), now],
        ).fetchone()
        serious = conn.execute(
            SQL(
                "SELECT {} FROM {} WHERE {} status = 'open' ORDER BY severity DESC, opened_at DESC NULLS LAST,"
                " case_id LIMIT %s"
            ).format(_fields(), _table(schema, CASES), where),
            [*params, top],
        ).fetchall()
    name, label = territory_name(geography, lv, code)
    positions = {t["name"]: t for t in tracking}
    return {
        "level": lv.value,
        "code": code,
        "name": name,
        "label": label,
        **describe(row["figures"] if row else {}),
        "opened_last_hour": windows["hour"],
        "opened_last_24h": windows["day"],
        "windows_until": now.isoformat(),
        "most_serious": [_case_json(c, geography) for c in serious],
        "updated_at": row["updated_at"].isoformat() if row else None,
        "position": positions[lv.value]["position"] if lv.value in positions else 0,
        "case_list_position": positions[CASES]["position"] if CASES in positions else 0,
    }


def case_list(
    store: TocsinStore, *, level: Level | str = Level.NATIONAL, code: str = NATIONAL, status: str | None = None,
    family: str | None = None, since: datetime | None = None, limit: int = 50, offset: int = 0,
    geography: Geography | None = None,
) -> list[dict[str, Any]]:
    """Cases of a territory, newest first. `status`: open|closed; `family`: domain.nature family;
    `since`: opened at or after. Raises UnknownTerritory, ValueError for a bad filter."""
    geography = geography or get_geography()
    lv, code = known_territory(level, code, geography)
    where, params = _territory_filter(lv, code)
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
    with _connect(store) as conn:
        rows = conn.execute(
            SQL("SELECT {} FROM {} WHERE {} TRUE ORDER BY opened_at DESC NULLS LAST, case_id LIMIT %s OFFSET %s").format(
                _fields(), _table(store.settings.schema, CASES), where
            ),
            [*params, max(0, min(limit, 1000)), max(0, offset)],
        ).fetchall()
    return [_case_json(r, geography) for r in rows]


def projection_status(store: TocsinStore) -> list[dict[str, Any]]:
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
        for name in PROJECTIONS:
            t = tracking[name]
            rebuilding = tracking.get(name + REBUILD_SUFFIX)
            out.append(
                {
                    "name": name,
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


def _behind(conn: psycopg.Connection, schema: str, position: int, cap: int = 10_000_000) -> int:
    """Events recorded after `position` (counted, not subtracted: rolled back inserts leave id gaps)."""
    return conn.execute(
        SQL("SELECT count(*) AS n FROM (SELECT 1 FROM {}.tocsin_events WHERE notification_id > %s LIMIT %s) s").format(
            Identifier(schema)
        ),
        (position, cap),
    ).fetchone()["n"]


def _lag_seconds(store: TocsinStore, conn: psycopg.Connection, schema: str, position: int, now: datetime) -> float:
    """How long the oldest event not yet folded has been waiting (0 when caught up)."""
    rows = read_page(conn, schema, position, 1)
    if not rows:
        return 0.0
    _, oid, version, topic, state = rows[0]
    recorded = store.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state))).timestamp
    return round(max(0.0, (now - recorded).total_seconds()), 3)


_READY: set[tuple[str, str]] = set()


def _connect(store: TocsinStore) -> psycopg.Connection:
    conn = psycopg.connect(store.database_url, autocommit=True, row_factory=dict_row)
    key = (store.database_url, store.settings.schema)
    if key not in _READY:  # the views exist (empty) even before a worker first ran
        ensure_tables(conn, store.settings.schema)
        _READY.add(key)
    return conn


def _table(schema: str, name: str) -> Composed:
    return SQL("{}.{}").format(Identifier(schema), Identifier(table_name(name)))


def _fields() -> Composed:
    return SQL(", ").join(map(Identifier, CASE_FIELDS))


def _territory_filter(level: Level, code: str) -> tuple[Composed, list[Any]]:
    """A WHERE prefix (ending with AND, or empty) selecting a territory's cases."""
    if level is Level.NATIONAL:
        return SQL("").format(), []
    return SQL("{} = %s AND ").format(Identifier(LEVEL_COLUMN[level])), [code]


def _case_json(row: dict[str, Any], geography: Geography) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, UUID) else v) for k, v in row.items()}
    out["family_label"] = family_label(row["family"])
    commune = row["commune"]
    out["commune_name"] = (
        PSEUDO_TERRITORY_LABELS[commune] if commune in PSEUDO_TERRITORY_LABELS
        else geography.name(Level.COMMUNE, commune) if geography.exists(Level.COMMUNE, commune) else commune
    )
    return out
