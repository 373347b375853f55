"""When an event happened: the one definition, for SQL and for Python.

DESIGN.md's "two times": every event has
- the time its message gives (the message's own `sent_at`, as its sender stamped it; when the sender
  gave none, `received_at`, when Tocsin received it), which says when the thing happened;
- the time the platform learned it: its recording, `tocsin_chain.chained_at` (clock time of the
  insert, monotonic with the notification id).

"Happened at" is the first of those that exists: sent, else received, else (an event with no message
behind it, such as an act of a platform user) recorded. The message index's `received_at` is NOT NULL
and ingestion writes `sent_at` and `received_at` of an event's provenance into it, so for every event
recorded from a message the two sources give the same time, and the recording time is only a fallback.

The two senses of a replay (replay/as_of.py) follow from these two times: "known at T" folds the events
recorded by T, "happened by T" those that happened by T.

SQL reads the times from the message index and the chain (`happened_at_sql`); Python reads them from a
decoded event (`happened_at`), without a query: a replay from a checkpoint filters the events it decodes.
The recording time of an event with no message is the chain's `chained_at` in SQL and the event's own
timestamp in Python; both are stamped at its commit (the timestamp just before the insert, `chained_at`
by the insert).
"""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from adapters.store.codec import CaseEvent
from domain.case_state import parse_time

KNOWN_AT, HAPPENED_BY = "known-at", "happened-by"
SENSES = (KNOWN_AT, HAPPENED_BY)


def check_sense(sense: str) -> None:
    if sense not in SENSES:
        raise ValueError(f"sens inconnu : {sense} ({KNOWN_AT} ou {HAPPENED_BY})")


def happened_at_sql(message: str = "m", chain: str | None = "c") -> sql.Composed:
    """The "happened at" time of a row joining the message index (alias `message`, its row NULL for an
    event with no message) and the chain (alias `chain`).

    `chain` None: a query over the message index alone (playback, which re-sends messages; the audit
    bundle's choice of cases). There `received_at` is never NULL, so the recording time could never be
    reached and the expression is the same definition."""
    times = [sql.Identifier(message, "sent_at"), sql.Identifier(message, "received_at")]
    if chain is not None:
        times.append(sql.Identifier(chain, "chained_at"))
    return sql.SQL("coalesce({})").format(sql.SQL(", ").join(times))


def happened_at(event: CaseEvent) -> datetime:
    """An event's "happened at" time, from its provenance (where ingestion took the index's times from)."""
    provenance = event.provenance or {}
    return parse_time(provenance.get("sent_at")) or parse_time(provenance.get("received_at")) or event.recorded_at
