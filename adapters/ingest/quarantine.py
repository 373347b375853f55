"""The quarantine: input Tocsin could not accept, kept with its raw bytes and precise reasons.

Nothing is dropped. An operator lists what is waiting, reads why, and retries once the cause is
fixed (a corrected message, a newer schema or reference list, a bug fixed in Tocsin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.sql import SQL

from adapters.store.event_store import TocsinStore


@dataclass(frozen=True)
class QuarantineEntry:
    id: int
    received_at: datetime
    source: str
    content_type: str | None
    size: int
    sha256: str
    reasons: list[dict]
    distribution_id: str | None
    sender_id: str | None
    status: str
    attempts: int
    resolved_at: datetime | None
    resolution: str | None

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["received_at"] = self.received_at.isoformat()
        d["resolved_at"] = self.resolved_at.isoformat() if self.resolved_at else None
        return d


_COLUMNS = (
    "id, received_at, source, content_type, size, encode(sha256, 'hex') AS sha256, reasons, distribution_id,"
    " sender_id, status, attempts, resolved_at, resolution"
)


def list_entries(store: TocsinStore, *, include_resolved: bool = False, limit: int = 1000) -> list[QuarantineEntry]:
    where = SQL("") if include_resolved else SQL("WHERE status = 'open'")
    query = SQL("SELECT " + _COLUMNS + " FROM {} {} ORDER BY id LIMIT %s").format(
        store.table("tocsin_quarantine"), where
    )
    with store.connect() as conn:
        return [QuarantineEntry(**row) for row in conn.execute(query, (limit,))]


def count_open(store: TocsinStore) -> int:
    with store.connect() as conn:
        row = conn.execute(
            SQL("SELECT count(*) AS n FROM {} WHERE status = 'open'").format(store.table("tocsin_quarantine"))
        ).fetchone()
    return row["n"]


def get_entry(store: TocsinStore, entry_id: int) -> tuple[QuarantineEntry, bytes] | None:
    """The entry and its raw bytes, decrypted."""
    query = SQL("SELECT " + _COLUMNS + ", body FROM {} WHERE id = %s").format(store.table("tocsin_quarantine"))
    with store.connect() as conn:
        row = conn.execute(query, (entry_id,)).fetchone()
    if row is None:
        return None
    body = row.pop("body")
    return QuarantineEntry(**row), store.unseal(bytes(body))


def record_retry(store: TocsinStore, entry_id: int, resolution: str | None) -> None:
    """Count a retry of the entry; `resolution` (the distributionID it was ingested as) closes it."""
    table = store.table("tocsin_quarantine")
    with store.connect() as conn:
        if resolution is not None:
            conn.execute(
                SQL(
                    "UPDATE {} SET status = 'reingested', resolved_at = now(), resolution = %s,"
                    " attempts = attempts + 1 WHERE id = %s"
                ).format(table),
                (resolution, entry_id),
            )
        else:
            conn.execute(SQL("UPDATE {} SET attempts = attempts + 1 WHERE id = %s").format(table), (entry_id,))
