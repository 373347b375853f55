"""The directory: seeding a new store, and the access decision every request under a habilitation pays.

Seeding: a fresh store's directory seeded from the reference geography (every mairie, préfecture, SDIS,
COZ, the COGIC, the NexSIS platform: one event), wall time, median of 3 fresh stores; and, as its
baseline, the same stores opened (open_services).

Access decision: `active(grant_id)` (domain.directory.Habilitations) then the Principal built from the
grant (`principal_for`), with 35,000 mairies and 100,000 people habilitated in them. The people and their
habilitations are written straight into the read tables (stand-ins for a history of grants, as
bench_case_history pads cases: their events would not change the lookup). Measured per decision, median
of 3 runs, in three states: the in-process cache warm (the common case: the listener is up), the cache
off (one indexed query per decision: what each call costs while the listener reconnects), and, as the
baseline of the same run, building the Principal alone. Then how long a revocation takes to reach another
reader whose cache holds the grant (LISTEN/NOTIFY), median of 3.

Run: `python -m tests.benchmarks` (all benches) or `python -m tests.benchmarks.bench_directory`.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.sql import SQL, Identifier

PEOPLE = 100_000
RUNS = 3
WARM_DECISIONS = 50_000
COLD_DECISIONS = 2_000


def _fill(services, people: int) -> list[str]:
    """`people` people, each habilitated in a mairie (round robin over the seeded ones): grant ids."""
    from adapters.directory import tables
    from adapters.directory.lookups import seal_contact

    store = services.store
    mairies = sorted(c for c in services.geography.communes)
    ids, keys, contacts, grants, orgs = [], [], [], [], []
    for i in range(people):
        email = f"personne{i}@mairie.example"
        pid = f"bench-person-{i}"
        ids.append(pid)
        keys.append(tables.email_key(store, email))
        contacts.append(seal_contact(store, f"Personne {i}", email, ["02 99 00 00 00"]))
        grants.append(f"bench-grant-{i}")
        orgs.append(f"mairie.{mairies[i % len(mairies)]}")
    with store.connect() as conn, conn.transaction():
        conn.execute(SQL("INSERT INTO {} (id, email_key, contact) SELECT * FROM unnest(%b::text[], %b::bytea[],"
                         " %b::bytea[])").format(store.table(tables.PEOPLE)), (ids, keys, contacts))
        conn.execute(SQL("INSERT INTO {} (id, person_id, organisation_id, role, position, granted_at)"
                         " SELECT g, p, o, 'mayor', 'Maire', now() FROM unnest(%b::text[], %b::text[], %b::text[])"
                         " AS u(g, p, o)").format(store.table(tables.HABILITATIONS)), (grants, ids, orgs))
        conn.execute(SQL("ANALYZE {}").format(store.table(tables.HABILITATIONS)))
        conn.execute(SQL("ANALYZE {}").format(store.table(tables.PEOPLE)))
    return grants


def _per_decision_us(decide, grant_ids: list[str], n: int) -> float:
    """Median over RUNS of the wall time per decision, in µs, over `n` random grants."""
    rng = random.Random(7)
    runs = []
    for _ in range(RUNS):
        sample = [rng.choice(grant_ids) for _ in range(n)]
        began = time.perf_counter()
        for grant_id in sample:
            decide(grant_id)
        runs.append((time.perf_counter() - began) / n * 1e6)
    return statistics.median(runs)


def main() -> dict:
    from adapters.directory import seed
    from adapters.directory.lookups import DirectoryReader
    from adapters.directory.use_cases import grant, revoke
    from adapters.services import open_services
    from adapters.settings import Settings
    from domain.directory import principal_for
    from tests.benchmarks import cpu_pace, database_url, fmt

    url = database_url()
    tag = uuid.uuid4().hex[:8]
    data_dir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    opened = []
    try:
        pace_before = cpu_pace()
        seedings, openings = [], []
        for i in range(RUNS):
            began = time.perf_counter()
            services = open_services(Settings(database_url=url, data_dir=data_dir, schema=f"bench_dir_{tag}_{i}"))
            openings.append(time.perf_counter() - began)
            opened.append(services)
            seed.reference(services.geography)  # the reference list, built once per process
            began = time.perf_counter()
            organisations = seed.seed(services.store, services.geography)
            seedings.append(time.perf_counter() - began)
        services = opened[0]
        grant_ids = _fill(services, PEOPLE)
        geography = services.geography
        reader = services.directory
        assert reader.wait_listening(), "the directory's listener did not connect"
        for grant_id in grant_ids[:WARM_DECISIONS]:  # warm the cache
            reader.active(grant_id)

        def decide(grant_id: str, reader=reader) -> object:
            found = reader.active(grant_id)
            assert found is not None
            return principal_for(found, geography)

        warm = _per_decision_us(decide, grant_ids[:WARM_DECISIONS], WARM_DECISIONS)
        # No listener: no cache, a query each time.
        cold_reader = DirectoryReader(services.store, services.geography, listen=False)
        cold = _per_decision_us(lambda g: decide(g, cold_reader), grant_ids, COLD_DECISIONS)
        one = reader.active(grant_ids[0])
        assert one is not None
        baseline = _per_decision_us(lambda g: principal_for(one, geography), grant_ids, WARM_DECISIONS)

        # Revocation reaching another reader (another process, as far as the cache goes) whose cache holds it.
        other = DirectoryReader(services.store, services.geography)
        assert other.wait_listening()
        latencies = []
        for i in range(RUNS):
            done = grant(services, None, organisation_id="mairie.35238", email=f"revoque{i}@rennes.example",
                         name="Révocable", position="Adjoint au maire")
            assert other.active(done.grant_id) is not None and other.active(done.grant_id) is not None
            began = time.perf_counter()
            revoke(services, None, done.grant_id)
            while other.active(done.grant_id) is not None:
                time.sleep(0.0002)
            latencies.append(time.perf_counter() - began)
        other.close()
        pace_after = cpu_pace()
        print(f"annuaire initialisé : {fmt(organisations)} organisations en {statistics.median(seedings):.2f} s "
              f"(médiane de {RUNS} bases neuves ; un événement) ; ouverture de ces bases : "
              f"{statistics.median(openings):.2f} s (référence)")
        print(f"décision d'accès ({fmt(PEOPLE)} personnes, {fmt(len(geography.communes))} mairies) : "
              f"{warm:.1f} µs avec le cache, {cold:.0f} µs sans cache (une requête), "
              f"{baseline:.1f} µs pour construire le Principal seul (référence)")
        print(f"révocation vue par un autre lecteur au cache chaud : {statistics.median(latencies) * 1e3:.1f} ms "
              "après l'appel (écriture comprise, médiane de 3)")
        print(f"étalon CPU : {pace_before:.2f} s avant, {pace_after:.2f} s après (voir tests.benchmarks.cpu_pace)")
        return {"seed_seconds": seedings, "open_seconds": openings, "organisations": organisations,
                "warm_us": warm, "cold_us": cold, "baseline_us": baseline,
                "revocation_ms": [x * 1e3 for x in latencies],
                "cpu_pace_seconds": [round(pace_before, 3), round(pace_after, 3)]}
    finally:
        for services in opened:
            services.close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(services.settings.schema)))


if __name__ == "__main__":
    main()
