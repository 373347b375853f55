"""Seeding the directory from the reference geography: every commune's mairie, every département's
préfecture and SDIS, every zone's COZ, the COGIC and the NexSIS exchange platform.

Done when services open (before a server opens its port), in one transaction: ONE event (the seed, a
single act of the platform) and the organisations' rows written by one statement. Idempotent: a store already
seeded with these organisations records nothing; one seeded from older reference data gets an event with
the organisations it lacks. The seed is no NexSIS message: it has no row in the message index, so the
message counts, the views and the reports, which read cases and messages only, do not see it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from psycopg.sql import SQL

from adapters.directory import tables
from adapters.directory.writer import new_event, record, versions
from adapters.geography import Geography
from adapters.store.event_store import TocsinStore
from domain.directory import Organisation, seeded_organisations
from domain.directory_events import SEED_ID, DirectorySeed

log = logging.getLogger(__name__)

_done: set[tuple[str, str]] = set()
_lock = threading.Lock()
_reference: tuple[int, list[Organisation], str, str] | None = None


def reference_organisations(geography: Geography) -> tuple[list[Organisation], str]:
    """The seeded organisations of this geography and a digest of them (computed once per process)."""
    global _reference
    if _reference is None or _reference[0] != id(geography):
        orgs = seeded_organisations(
            [(c.insee, c.name) for c in geography.communes.values()],
            [(d.code, d.name) for d in geography.departements.values()],
            [(z.code, z.name) for z in geography.zones.values()],
        )
        lines = "\n".join(_line(o) for o in orgs)
        _reference = (id(geography), orgs, hashlib.sha256(lines.encode()).hexdigest(), lines)
    return _reference[1], _reference[2]


def _rows_text(geography: Geography, missing: list[Organisation]) -> str:
    """The rows to insert as one text, tab-separated: computed once per process for a whole seed."""
    orgs, _ = reference_organisations(geography)
    assert _reference is not None
    return _reference[3] if len(missing) == len(orgs) else "\n".join(_line(o) for o in missing)


def seed(store: TocsinStore, geography: Geography) -> int:
    """Seed the store's directory if need be; returns how many organisations were added."""
    key = (store.database_url, store.settings.schema)
    if key in _done:
        return 0
    with _lock:
        if key in _done:
            return 0
        tables.ensure_tables(store)
        started = time.perf_counter()
        added = _seed(store, geography)
        if added:
            log.info("directory seeded: %d organisations in %.2f s", added, time.perf_counter() - started)
        _done.add(key)
        return added


def _seed(store: TocsinStore, geography: Geography) -> int:
    orgs, digest = reference_organisations(geography)
    table = store.table(tables.ORGANISATIONS)
    with store.connect() as conn:
        present = conn.execute(SQL("SELECT count(*) AS n FROM {} WHERE seeded").format(table)).fetchone()["n"]
        if present == len(orgs):
            return 0  # the common case: seeded already, nothing to read
        have = set()
        if present:
            have = {r["id"] for r in conn.execute(SQL("SELECT id FROM {} WHERE seeded").format(table))}
    missing = [o for o in orgs if o.id not in have]
    if not missing:
        return 0
    version = versions(store, [SEED_ID]).get(SEED_ID, 0) + 1
    event = new_event(
        DirectorySeed.Seeded, SEED_ID, version, reference=digest,
        organisations=[[o.id, o.kind.value, o.name, o.level.value, o.code, o.siret, o.nexsis_id] for o in missing],
    )

    rows = _rows_text(geography, missing)

    def insert(curs: Any) -> None:
        # One statement, the rows sent as one text and split by the server (the recorder's transaction is
        # in pipeline mode, where COPY is not available): cheaper than 35,000 rows of arrays to encode.
        curs.execute(
            SQL("INSERT INTO {} (id, kind, name, level, code, siret, nexsis_id, seeded)"
                " SELECT f[1], f[2], f[3], f[4], f[5], nullif(f[6], ''), nullif(f[7], ''), true"
                " FROM (SELECT string_to_array(line, E'\\t') AS f FROM string_to_table(%s, E'\\n') AS line) s"
                " ON CONFLICT (id) DO NOTHING").format(table),
            (rows,),
        )

    try:
        record(store, [event], [insert])
    except Exception as e:  # another process seeded it at the same moment: its seed stands
        if versions(store, [SEED_ID]).get(SEED_ID, 0) >= version:
            log.info("directory seeded by another process meanwhile (%s)", type(e).__name__)
            return 0
        raise
    return len(missing)


def _line(o: Organisation) -> str:
    fields = (o.id, o.kind.value, o.name, o.level.value, o.code, o.siret or "", o.nexsis_id or "")
    if any("\t" in f or "\n" in f for f in fields):
        raise ValueError(f"reference data with a tab or a line break: {o.id!r}")
    return "\t".join(fields)
