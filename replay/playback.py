"""Play a past window back into a sandbox, at a chosen speed, for an exercise on the dashboard.

The sandbox is another PostgreSQL schema (`sandbox_<name>`) with the same database, cipher key and
code: `TOCSIN_DB_SCHEMA=sandbox_<name> tocsin serve` shows the dashboard on it while the live schema is
only read. The window's messages are re-ingested from their stored raw bytes, through the same
ingestion as live traffic (parsed, validated, placed, recorded, chained), in the order of their own
sent times and spaced by those times divided by the speed: ×60 plays an hour in a minute. The
messages' own times are kept, so the sandbox's "happened" times are the originals; its recording
times are those of the exercise.

Messages sent before the window are ingested at once first (unless `prelude=False`): the sandbox
then starts from the situation at the window's start. Replaying into the same sandbox again is
harmless: ingestion deduplicates on distributionID. Events recorded by platform users (with no
NexSIS message) are not played back.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg.sql import SQL

from adapters.ingest.ingestion import Incoming
from replay.event_log import happened_at_sql

MIN_SPEED, MAX_SPEED = 1, 1000
BATCH = 500
LOG_EVERY = 10.0  # seconds between progress lines
_NAME = re.compile(r"[a-z0-9_]{1,40}")

# Keyset pages (no cursor held open on the live database for the length of an exercise).
_MESSAGES = """
SELECT {happened} AS happened, m.distribution_id, r.body
FROM {messages} m JOIN {raws} r ON r.sha256 = m.sha256
WHERE {happened} <= %(end)s
  AND (%(start)s::timestamptz IS NULL OR {happened} >= %(start)s)
  AND ({happened}, m.distribution_id) > (%(after)s, %(after_id)s)
ORDER BY 1, 2
LIMIT %(limit)s
"""
_LONG_AGO = datetime(1, 1, 2, tzinfo=UTC)


@dataclass
class PlaybackReport:
    sandbox: str
    prelude: int = 0  # messages before the window, ingested at once
    played: int = 0  # messages of the window
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def sandbox_schema(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"nom de bac à sable invalide : {name!r} (lettres minuscules, chiffres, _ ; 40 au plus)")
    return f"sandbox_{name}"


def sandbox_settings(settings: Any, name: str) -> Any:
    schema = sandbox_schema(name)
    if schema == settings.schema:
        raise ValueError("le bac à sable ne peut pas être le schéma en service")
    return dataclasses.replace(settings, schema=schema)  # same database, data folder and cipher key


def playback(source: Any, target: Any, start: datetime, end: datetime, speed: float, *, sandbox: str = "",
             prelude: bool = True, log: Callable[[str], None] | None = None,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> PlaybackReport:
    """Re-ingest into `target` (a sandbox's ingestor) the messages of `source` (the live store) sent up
    to `end`, those from `start` on at `speed` times their original pace."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"vitesse hors limites : {speed} (de ×{MIN_SPEED} à ×{MAX_SPEED})")
    if end <= start:
        raise ValueError("la fin de la fenêtre doit suivre son début")
    report = PlaybackReport(sandbox)
    began = clock()
    if prelude:
        before = (raw for _, raw in itertools.takewhile(lambda m: m[0] < start, _messages(source, None, end)))
        while batch := list(itertools.islice(before, BATCH)):
            report.prelude += _ingest(target, batch, report)
        if log:
            log(f"situation initiale : {report.prelude} messages antérieurs au {start:%d/%m/%Y %H:%M}")
    t0 = logged = clock()
    due: list[bytes] = []
    for happened, raw in _messages(source, start, end):
        wait = t0 + (happened - start).total_seconds() / speed - clock()
        if wait > 0 and due:
            report.played += _ingest(target, due, report)  # what is due now goes in before waiting for the next
            due = []
            wait = t0 + (happened - start).total_seconds() / speed - clock()
        if wait > 0:
            sleep(wait)
            if log and clock() - logged >= LOG_EVERY:
                log(f"{happened:%d/%m/%Y %H:%M:%S} : {report.played} messages rejoués")
                logged = clock()
        due.append(raw)
        if len(due) == BATCH:
            report.played += _ingest(target, due, report)
            due = []
    report.played += _ingest(target, due, report)
    # The window plays to its end even when its last message comes earlier.
    remaining = t0 + (end - start).total_seconds() / speed - clock()
    if remaining > 0:
        sleep(remaining)
    report.seconds = round(clock() - began, 3)
    return report


def _messages(store: Any, start: datetime | None, end: datetime) -> Iterator[tuple[datetime, bytes]]:
    query = SQL(_MESSAGES).format(messages=store.table("tocsin_messages"), raws=store.table("tocsin_raw_messages"),
                                  happened=happened_at_sql("m", chain=None))  # messages only: no chain
    params = {"start": start, "end": end, "after": _LONG_AGO, "after_id": "", "limit": BATCH}
    while True:
        with store.connect() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:
            return
        for row in rows:
            yield row["happened"], store.unseal(bytes(row["body"]))
        params.update(after=rows[-1]["happened"], after_id=rows[-1]["distribution_id"])


def _ingest(target: Any, raws: list[bytes], report: PlaybackReport) -> int:
    """Ingest `raws` into the sandbox, counting outcomes in `report`; how many were sent."""
    if not raws:
        return 0
    for outcome in target.ingest_batch([Incoming(raw, source="replay") for raw in raws]):
        if outcome.status == "accepted":
            report.accepted += 1
        elif outcome.status == "duplicate":
            report.duplicates += 1
        else:
            report.refused += 1
    return len(raws)
