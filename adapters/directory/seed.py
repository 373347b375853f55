"""Seeding the directory from the reference geography: every commune's mairie, every département's
préfecture and SDIS, every zone's COZ, the COGIC and the NexSIS exchange platform.

The seed is ONE event (a single act of the platform, listing every organisation it creates), recorded
with a row of `tocsin_directory_seeds` naming the reference it came from, before a server serves its first
request and by any directory act on a store not seeded yet. Idempotent: a store seeded from this
reference records nothing; one seeded from older reference data gets a new seed event.

The seeded organisations are not copied into the organisations table: they are a pure function of the
reference geography (domain.directory.seeded_organisations, with deterministic ids), which every process
holds in memory already, so the lookups read them from `Reference` and the table holds only the
organisations people registered. Writing 35,000 rows into every new store cost more than all the rest
of opening it (tests open hundreds). The seed is no NexSIS message: it has no row in the message index,
so the message counts, the views and the reports, which read cases and messages only, do not see it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg.sql import SQL

from adapters.directory import tables
from adapters.directory.writer import new_event, record, versions
from adapters.geography import Geography
from adapters.store.event_store import TocsinStore
from domain.directory import Organisation, seeded_organisations
from domain.directory_events import SEED_ID, DirectorySeed
from domain.geography import Level

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reference:
    """The organisations seeded from one reference geography, indexed for the lookups."""

    organisations: tuple[Organisation, ...]
    by_id: dict[str, Organisation]
    by_territory: dict[tuple[Level, str], tuple[Organisation, ...]]
    digest: str  # SHA-256 of the organisations as the seed event lists them
    rows: list  # the seed event's `organisations`: [id, kind, name, level, code, siret, nexsis_id]


_references: dict[int, Reference] = {}
_reference_lock = threading.Lock()
_done: set[tuple[str, str]] = set()
_lock = threading.Lock()


def reference(geography: Geography) -> Reference:
    """The seeded organisations of this geography (built once per process)."""
    found = _references.get(id(geography))
    if found is not None:
        return found
    with _reference_lock:
        found = _references.get(id(geography))
        if found is None:
            orgs = tuple(seeded_organisations(
                [(c.insee, c.name) for c in geography.communes.values()],
                [(d.code, d.name) for d in geography.departements.values()],
                [(z.code, z.name) for z in geography.zones.values()],
            ))
            rows = [[o.id, o.kind.value, o.name, o.level.value, o.code, o.siret, o.nexsis_id] for o in orgs]
            territory: dict[tuple[Level, str], list[Organisation]] = {}
            for o in orgs:
                territory.setdefault((o.level, o.code), []).append(o)
            found = Reference(orgs, {o.id: o for o in orgs}, {k: tuple(v) for k, v in territory.items()},
                              hashlib.sha256(orjson.dumps(rows)).hexdigest(), rows)
            _references[id(geography)] = found
    return found


def reference_organisations(geography: Geography) -> tuple[list[Organisation], str]:
    ref = reference(geography)
    return list(ref.organisations), ref.digest


def seed(store: TocsinStore, geography: Geography) -> int:
    """Seed the store's directory if need be; returns how many organisations the seed named (0: none)."""
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
    ref = reference(geography)
    table = store.table(tables.SEEDS)
    with store.connect() as conn:
        if conn.execute(SQL("SELECT 1 FROM {} WHERE reference = %s").format(table), (ref.digest,)).fetchone():
            return 0  # the common case: seeded already
    version = versions(store, [SEED_ID]).get(SEED_ID, 0) + 1
    event = new_event(DirectorySeed.Seeded, SEED_ID, version, reference=ref.digest, organisations=ref.rows)

    def note(curs: Any) -> None:
        curs.execute(SQL("INSERT INTO {} (reference, organisations, seeded_at) VALUES (%s, %s, now())").format(table),
                     (ref.digest, len(ref.rows)))

    try:
        record(store, [event], [note])
    except Exception as e:  # another process seeded it at the same moment: its seed stands
        with store.connect() as conn:
            if conn.execute(SQL("SELECT 1 FROM {} WHERE reference = %s").format(table), (ref.digest,)).fetchone():
                log.info("directory seeded by another process meanwhile (%s)", type(e).__name__)
                return 0
        raise
    return len(ref.rows)
