"""Messages a stream lost before Tocsin read them: found, logged, recorded, never silent.

    missing(position, seqs) -> [(first, last), ...]    # the sequences skipped, as ranges
    covers(filter, stream_subjects) -> bool             # does Tocsin read every subject of the stream?
    record(store, source, stream_created, gaps); recorded(store, source) -> {"messages": n, "gaps": [...]}
    detected_since(store, since) -> [{source, stream_created, first_seq, last_seq, messages, detected_at}, ...]

A JetStream stream can drop messages before they are ingested: its limits (age, size, count), a purge,
an operator deleting them. Tocsin cannot get them back, but a view that silently misses incidents is
worse than one that says so. The consumer skips what the stream no longer holds, so the ingester sees
a jump in the sequences it is delivered; when the stream carries only subjects Tocsin reads, every
sequence skipped was one of its messages. (On a stream shared with other subjects, or one with no
subjects of its own such as a mirror, a jump may be another subject's messages: it is only logged.)

A gap is a fact about the stream, not about a batch: it is recorded on its own, keyed by the stream
(its creation time: a stream recreated under the same name numbers from 1 again) and its first
sequence, so finding it again after a restart records (and reports) nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from psycopg.sql import SQL

from adapters.store.event_store import TocsinStore
from domain.local_time import PARIS, format_local

Gap = tuple[int, int]  # first and last sequence missing, inclusive
SHOWN_GAPS = 10  # the latest ones, in `tocsin status`


def missing(position: int, seqs: Iterable[int]) -> list[Gap]:
    """The sequences after `position` that a delivery of `seqs` (in any order, repeats allowed) skipped,
    up to the last of them."""
    gaps, expected = [], position + 1
    for seq in sorted(set(seqs)):
        if seq < expected:
            continue
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1
    return gaps


def covers(filter_subject: str, stream_subjects: Iterable[str]) -> bool:
    """Whether every message of a stream with these subjects matches the consumer's filter."""
    subjects = list(stream_subjects)
    return bool(subjects) and all(_covers(filter_subject.split("."), s.split(".")) for s in subjects)


def _covers(pattern: list[str], subject: list[str]) -> bool:
    """NATS subject matching, where `subject` may itself hold wildcards: does `pattern` match all it does?"""
    for index, token in enumerate(pattern):
        if token == ">":
            return index < len(subject)  # '>' needs at least one token
        if index >= len(subject) or subject[index] == ">":
            return False
        if token != "*" and token != subject[index]:
            return False
    return len(pattern) == len(subject)


def record(store: TocsinStore, source: str, stream_created: datetime, gaps: list[Gap]) -> list[Gap]:
    """Record the gaps; those not known yet (found for the first time) are returned."""
    with store.connect() as conn:
        rows = conn.execute(
            SQL(
                "INSERT INTO {} (source, stream_created, first_seq, last_seq, detected_at) SELECT %s, %s, g.first_seq,"
                " g.last_seq, now() FROM unnest(%s::int8[], %s::int8[]) AS g(first_seq, last_seq)"
                " ON CONFLICT (source, stream_created, first_seq) DO NOTHING RETURNING first_seq, last_seq"
            ).format(store.table("tocsin_stream_gaps")),
            (source, stream_created, [first for first, _ in gaps], [last for _, last in gaps]),
        ).fetchall()
    return sorted((row["first_seq"], row["last_seq"]) for row in rows)


def recorded(store: TocsinStore, source: str) -> dict:
    """How many messages the stream lost before their ingestion, and the latest gaps."""
    table = store.table("tocsin_stream_gaps")
    with store.connect() as conn:
        total = conn.execute(
            SQL("SELECT coalesce(sum(last_seq - first_seq + 1), 0) AS n FROM {} WHERE source = %s").format(table),
            (source,),
        ).fetchone()["n"]
        latest = conn.execute(
            SQL(
                "SELECT first_seq, last_seq, detected_at FROM {} WHERE source = %s"
                " ORDER BY detected_at DESC, first_seq DESC LIMIT %s"
            ).format(table),
            (source, SHOWN_GAPS),
        ).fetchall()
    return {"messages": int(total), "gaps": [dict(row) for row in latest]}


def describe(gap: Gap, detected_at: datetime | None = None) -> str:
    first, last = gap
    span = f"n° {first}" if first == last else f"n° {first} à {last}"
    count = last - first + 1
    when = f", constaté le {format_local(detected_at, PARIS, seconds=True)}" if detected_at else ""
    return f"{span} ({count} message{'s' if count > 1 else ''}{when})"


def detected_since(store: TocsinStore, since: datetime | None = None) -> list[dict]:
    """Every gap of every source found at or after `since` (all when None), oldest first: for an audit
    bundle. A message is lost before it is found missing, so a gap found before `since` cannot hold a
    message sent after it; one found later may hold messages of any earlier time."""
    with store.connect() as conn:
        rows = conn.execute(
            SQL("SELECT source, stream_created, first_seq, last_seq, last_seq - first_seq + 1 AS messages, detected_at"
                " FROM {} WHERE %(since)s::timestamptz IS NULL OR detected_at >= %(since)s"
                " ORDER BY detected_at, source, first_seq").format(store.table("tocsin_stream_gaps")),
            {"since": since},
        ).fetchall()
    return [dict(row) for row in rows]
