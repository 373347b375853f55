"""Who read which case, when: an append-only log for the auditors.

Every read of a case's detail (through the API or the dashboard) adds one row; the table refuses
UPDATE, DELETE and TRUNCATE with the same trigger function as the event store
(`tocsin_refuse_change`, created by adapters.store.event_store). The case's territory is copied in the
row so that an auditor of a département can be shown the reads of that département's cases only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.sql import SQL, Composable, Identifier
from psycopg.types.json import Jsonb

from adapters.store.event_store import TocsinStore, create_table_once

TABLE = "tocsin_access_log"

_CREATE = [
    """CREATE TABLE IF NOT EXISTS {schema}.tocsin_access_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        subject text NOT NULL,
        role text NOT NULL,
        territory text NOT NULL,
        case_id text NOT NULL,
        personal boolean NOT NULL,
        commune text,
        departement text,
        zone text,
        via text NOT NULL,
        details jsonb NOT NULL DEFAULT '{{}}'::jsonb)""",
    # The organisation acted for and the habilitation acted under (domain.directory); logs made before: NULL.
    "ALTER TABLE {schema}.tocsin_access_log ADD COLUMN IF NOT EXISTS organisation_id text",
    "ALTER TABLE {schema}.tocsin_access_log ADD COLUMN IF NOT EXISTS grant_id text",
    "CREATE INDEX IF NOT EXISTS tocsin_access_log_case_idx ON {schema}.tocsin_access_log (case_id)",
    "CREATE INDEX IF NOT EXISTS tocsin_access_log_at_idx ON {schema}.tocsin_access_log (at)",
    """CREATE OR REPLACE TRIGGER tocsin_access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
        ON {schema}.tocsin_access_log FOR EACH STATEMENT EXECUTE FUNCTION {schema}.tocsin_refuse_change()""",
]

MAX_CLIENT_LABEL = 200  # `via`: the client's own label (X-Tocsin-Client), kept forever in an append-only table
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")



@dataclass(frozen=True)
class AccessRecord:
    subject: str
    role: str
    territory: str
    case_id: str
    personal: bool
    commune: str | None = None
    departement: str | None = None
    zone: str | None = None
    via: str = "api"
    details: dict | None = None
    organisation_id: str | None = None
    grant_id: str | None = None


def client_label(raw: str | None, default: str = "api") -> str:
    """The client's label as stored: control characters removed, at most MAX_CLIENT_LABEL characters.

    It comes from a request header anyone can set; the row it lands in can never be deleted."""
    label = _CONTROL.sub("", raw or "").strip()[:MAX_CLIENT_LABEL]
    return label or default


def ensure_table(store: TocsinStore) -> None:
    create_table_once(store, "tocsin_access_log", _CREATE)


def record(store: TocsinStore, entry: AccessRecord) -> None:
    ensure_table(store)
    query = SQL(
        "INSERT INTO {} (subject, role, territory, case_id, personal, commune, departement, zone, via, details,"
        " organisation_id, grant_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    ).format(store.table(TABLE))
    with store.connect() as conn, conn.transaction():
        conn.execute(
            query,
            (entry.subject, entry.role, entry.territory, entry.case_id, entry.personal, entry.commune,
             entry.departement, entry.zone, client_label(entry.via), Jsonb(entry.details or {}),
             entry.organisation_id, entry.grant_id),
        )


def entries(
    store: TocsinStore,
    *,
    case_id: str | None = None,
    commune: str | None = None,
    departement: str | None = None,
    zone: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Reads, most recent first, optionally limited to one case or one territory."""
    ensure_table(store)
    where: list[Composable] = []
    args: list[Any] = []
    for column, value in (("case_id", case_id), ("commune", commune), ("departement", departement), ("zone", zone)):
        if value is not None:
            where.append(SQL("{} = %s").format(Identifier(column)))
            args.append(value)
    if since is not None:
        where.append(SQL("at >= %s"))
        args.append(since)
    clause = SQL(" WHERE ") + SQL(" AND ").join(where) if where else SQL("")
    query = SQL(
        "SELECT id, at, subject, role, territory, case_id, personal, commune, departement, zone, via, details,"
        " organisation_id, grant_id FROM {}{} ORDER BY id DESC LIMIT %s OFFSET %s"
    ).format(store.table(TABLE), clause)
    with store.connect() as conn:
        return [dict(r) for r in conn.execute(query, (*args, limit, offset))]
