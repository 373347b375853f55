"""The requests emergency services exchanged through NexSIS in a territory, case by case (read-only).

Which cases have any is read off the messages' index (their kinds, domain.nexsis_requests.KINDS), and
where each case is off the case list: only the cases of the territory asked are read. Each case's
requests are then folded from its events by the same rules as the case detail (domain.case_state), so
the list never disagrees with the case's drawer. The entries hold no free text (the normaliser keeps
it with the message's personal data), so what is listed is the same for every role that sees the case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from psycopg.sql import SQL

from adapters.store.event_store import TocsinStore
from domain.case import Case
from domain.case_state import best_placement
from domain.geography import Level
from domain.identity import case_uuid
from domain.local_time import zone_of_departement
from domain.nexsis_requests import KINDS
from projections.read.queries import _connect, _table, _territory_filter
from projections.read.readable import nexsis_requests
from projections.registry import CASE_LIST


def territory_requests(
    store: TocsinStore, level: Level, code: str, *, may_see: Callable[[Mapping[str, Any]], bool],
    limit: int = 50, offset: int = 0,
) -> dict[str, Any]:
    """The cases of a territory that have requests between services, the latest exchange first, each
    with its requests in words. `may_see(placement)`: whether the reader may see a case placed so (a case
    outside it is left out, whatever the view said)."""
    where, params = _territory_filter(level, code)
    schema = store.settings.schema
    kinds = sorted(KINDS)
    with _connect(store) as conn:
        base = SQL(
            "FROM {messages} m JOIN {cases} v ON v.originator_id = m.originator_id"
            " WHERE {where} m.kind = ANY(%s)"
        ).format(messages=store.table("tocsin_messages"), cases=_table(schema, CASE_LIST.table()), where=where)
        total = conn.execute(SQL("SELECT count(DISTINCT m.originator_id) AS n ") + base, [*params, kinds]).fetchone()
        rows = conn.execute(
            SQL("SELECT m.case_id, max(m.sent_at) AS latest ") + base
            + SQL(" GROUP BY m.case_id ORDER BY latest DESC NULLS LAST, m.case_id LIMIT %s OFFSET %s"),
            [*params, kinds, max(1, min(limit, 200)), max(0, offset)],
        ).fetchall()
    items = []
    for row in rows:
        try:
            case: Case = store.repository.get(case_uuid(row["case_id"]))
        except AggregateNotFoundError:
            continue
        placement = best_placement(case.state) or {}
        if not may_see(placement):
            continue  # the view placed it here, the case has moved since: the case decides
        zone = zone_of_departement(placement.get("departement"))
        items.append({
            "case_id": row["case_id"],
            "commune": placement.get("insee"),
            "departement": placement.get("departement"),
            "requests": nexsis_requests(case.state, zone),
        })
    return {"level": level.value, "code": code, "total": int(total["n"]) if total else 0,
            "limit": limit, "offset": offset, "items": items}
