"""Recording directory events: through the store's mapper (the one codec: JSON, LZ4, AES-GCM) and its
recorder, with the read tables' rows in the same transaction and a notification to the lookup caches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from psycopg.sql import SQL

from adapters.directory.tables import channel
from adapters.store.event_store import TocsinStore

Write = Callable[[Any], None]  # run with the transaction's cursor


@dataclass(frozen=True)
class Actor:
    """Who acted, as every directory event records it: the person (or `cli` for the operator at the
    server's console), the role and organisation they acted for, the habilitation they acted under."""

    subject: str
    role: str
    organisation_id: str | None = None
    grant_id: str | None = None

    def as_dict(self) -> dict:
        return {"subject": self.subject, "role": self.role, "organisation_id": self.organisation_id,
                "grant_id": self.grant_id}


OPERATOR = Actor("cli", "operator")


def new_event(cls: type[Aggregate.Event], originator_id: UUID, version: int, **fields: Any) -> Any:
    """An event of `cls` at `version` of its aggregate (1 for the first)."""
    return cls(originator_id=originator_id, originator_version=version, timestamp=cls.create_timestamp(), **fields)


def versions(store: TocsinStore, ids: Iterable[UUID]) -> dict[UUID, int]:
    """The last version of each of these aggregates that has events (absent: none yet)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    with store.connect() as conn:
        rows = conn.execute(
            SQL("SELECT o.id, e.v FROM unnest(%b::uuid[]) AS o(id) CROSS JOIN LATERAL (SELECT originator_version AS v"
                " FROM {} WHERE originator_id = o.id ORDER BY originator_version DESC LIMIT 1) e").format(
                store.table("tocsin_events")),
            (wanted,),
        )
        return {row["id"]: row["v"] for row in rows}


def record(store: TocsinStore, events: Sequence[Any], writes: Sequence[Write] = ()) -> None:
    """Append the events and run the read tables' writes in one transaction, then wake the caches.

    A concurrent writer of the same aggregate makes the insert fail on its (id, version) key: nothing is
    written, and the caller's act is refused rather than applied over a state it did not read."""
    stored = [store.mapper.to_stored_event(e) for e in events]
    notify_on = channel(store)

    def notify(curs: Any) -> None:
        curs.execute("SELECT pg_notify(%s, '')", (notify_on,))

    store.recorder.insert_events(stored, also=[*writes, notify])
