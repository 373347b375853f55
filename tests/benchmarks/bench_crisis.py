"""The crisis workspace: the log book as it grows, the crisis attacher beside ingestion, situation reports.

Log book writes: `write_entry` (adapters.crisis.logbook) into a crisis's log book already holding 10, 1,000
and 5,000 entries (the entries are recorded as one batch of events beforehand, as if written over the
crisis), CPU (this thread's thread_time) and wall per write; the baseline of the same run is the first
write into an empty log book.

Log book reads: `crisis_log` (what GET /api/v1/crises/{id}/log returns before it is serialised) for the
operator, with N entries and M cases attached by hand, each with its NexSIS messages (simulated storm
traffic ingested beforehand), CPU and wall per item read; and the people's entries as they stood halfway
through (an as-of read, as replay asks). The baseline is the read of 10 entries and one case.

Crisis attacher: simulated storm traffic ingested in batches of 200 (Ingestor.ingest_batch, in this
thread) with the attacher catching up after each batch, as it follows the store live; with 0, 1 and 10 open
storm crises over the territories of the scenario. The attacher's CPU per case event is printed beside the
ingestion's CPU per message of the same run (the baseline).

Situation reports: `write_report` with the crisis territory's figures read from the views just before (as
the API does), after 1, 100 and 500 reports already written; the baseline is the first report.

Median of 3 runs for each figure. Run: `python -m tests.benchmarks.bench_crisis [messages]`.
Database: as the other benches (tests.benchmarks.database_url).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from tests.benchmarks import cpu_pace, database_url, fmt

RUNS = 3
BOOK_SIZES = (10, 1000, 5000)
WRITES = 20  # writes measured at each size, per run
READS = ((10, 1), (1000, 10), (5000, 50))  # (entries, attached cases)
REPORT_COUNTS = (1, 100, 500)
CRISIS_COUNTS = (0, 1, 10)
BATCH = 200
STORM_TERRITORIES = ("zone:ouest", "departement:29", "departement:22", "departement:56", "departement:35",
                     "departement:44", "departement:50", "departement:14", "departement:61", "departement:27")


@contextmanager
def _services(tag: str) -> Iterator[Any]:
    from adapters.services import open_services
    from adapters.settings import Settings

    url = database_url()
    schema = f"bench_crisis_{tag}_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as data_dir:
        services = open_services(Settings(database_url=url, data_dir=Path(data_dir), schema=schema))
        try:
            yield services
        finally:
            services.close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


def _national(services: Any) -> Any:
    from domain.access import ROLES, Principal
    from domain.geography import Level

    return Principal("bench.cogic", ROLES["national"], Level.NATIONAL, "FR", services.geography, name="Officier COGIC",
                     organisation_id="national.FR")


def _crisis(services: Any, territory: str = "zone:ouest", kind: str = "storm") -> Any:
    from adapters.crisis.crises import open_crisis

    return open_crisis(services.store, _national(services), title=f"Tempête {territory}", kind=kind,
                       territory=territory, start=datetime.now(UTC) - timedelta(hours=1))


def _fill_book(services: Any, crisis: Any, entries: int) -> None:
    """`entries` entries in the crisis's log book, recorded as one batch (the cost measured is the next write)."""
    from adapters.crisis.crises import organisation_of
    from domain.access import actor
    from domain.logbook import LogBook, crisis_scope

    principal = _national(services)
    book = LogBook(crisis_scope(crisis.id))
    at = datetime.now(UTC)
    for i in range(entries):
        book.write(kind="information", text=f"Point {i} : reconnaissance du secteur, arbres au sol, route coupée.",
                   visibility="crisis", case_ids=[], author=actor(principal),
                   organisation_id=organisation_of(principal), at=at)
    services.store.save(book)


def _timed(act: Callable[[], Any], n: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call of `act`, over n calls."""
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for _ in range(n):
        act()
    return (time.thread_time() - cpu0) / n, (time.perf_counter() - wall0) / n


def _ingest(services: Any, messages: list) -> float:
    """Ingest the messages in batches; CPU seconds of this thread."""
    from adapters.ingest.ingestion import Incoming

    cpu = 0.0
    for i in range(0, len(messages), BATCH):
        chunk = [Incoming(m.raw, m.content_type, "bench") for m in messages[i:i + BATCH]]
        t0 = time.thread_time()
        services.ingestor.ingest_batch(chunk)
        cpu += time.thread_time() - t0
    return cpu


# ---- log book writes ------------------------------------------------------------------------------

def log_writes(services: Any) -> dict[str, tuple[float, float]]:
    """Per size (0: the empty book, the baseline): (CPU µs, wall µs) per write."""
    from adapters.crisis.logbook import write_entry

    principal = _national(services)
    out: dict[str, tuple[float, float]] = {}
    for size in (0, *BOOK_SIZES):
        crisis = _crisis(services)
        if size:
            _fill_book(services, crisis, size)
        if size == 0:  # the first write creates the book: measured alone, one per fresh crisis
            samples = []
            for _ in range(WRITES):
                fresh = _crisis(services)
                samples.append(_timed(partial(write_entry, services.store, fresh.id, principal, kind="information",
                                              text="Premier point", visibility="crisis"), 1))
            cpu, wall = statistics.mean(s[0] for s in samples), statistics.mean(s[1] for s in samples)
        else:
            cpu, wall = _timed(partial(write_entry, services.store, crisis.id, principal, kind="decision",
                                       text="Ouverture d'un centre d'hébergement", visibility="crisis"), WRITES)
        out[str(size)] = (cpu * 1e6, wall * 1e6)
    return out


# ---- log book reads -------------------------------------------------------------------------------

def _busiest_cases(services: Any, n: int) -> list[str]:
    with services.store.connect() as conn:
        rows = conn.execute(SQL("SELECT case_id FROM {} WHERE case_id IS NOT NULL GROUP BY case_id"
                                " ORDER BY count(*) DESC, case_id LIMIT %s").format(
            services.store.table("tocsin_messages")), (n,)).fetchall()
    return [r["case_id"] for r in rows]


def log_reads(services: Any) -> dict[str, dict[str, float]]:
    """Per (entries, cases): items read, CPU and wall µs per item of the whole read, and of the as-of read
    of people's entries halfway (per entry read)."""
    from adapters.crisis.crises import attach_case
    from adapters.crisis.logbook import crisis_as_of, person_entries, write_entry
    from projections.read.crisis_log import crisis_log

    principal = _national(services)
    out: dict[str, dict[str, float]] = {}
    for entries, cases in READS:
        crisis = _crisis(services)
        _fill_book(services, crisis, entries // 2)
        write_entry(services.store, crisis.id, principal, kind="information", text="Mi-parcours", visibility="crisis")
        time.sleep(0.01)
        halfway = datetime.now(UTC)
        time.sleep(0.01)
        _fill_book_more(services, crisis, entries - entries // 2 - 1)
        for case_id in _busiest_cases(services, cases):
            attach_case(services.store, crisis.id, principal, case_id)
        now = crisis_as_of(services.store, crisis.id, None)
        items = crisis_log(services.store, services.geography, now, None)
        cpu, wall = _timed(partial(crisis_log, services.store, services.geography, now, None), 3)
        then = person_entries(services.store, now, None, halfway)
        assert len(then) == entries // 2 + 1, (len(then), entries)
        as_of_cpu, as_of_wall = _timed(partial(person_entries, services.store, now, None, halfway), 3)
        out[f"{entries}/{cases}"] = {
            "items": len(items), "cpu_us_per_item": cpu / len(items) * 1e6, "wall_us_per_item": wall / len(items) * 1e6,
            "as_of_entries": len(then), "as_of_cpu_us_per_entry": as_of_cpu / len(then) * 1e6,
            "as_of_wall_us_per_entry": as_of_wall / len(then) * 1e6}
    return out


def _fill_book_more(services: Any, crisis: Any, entries: int) -> None:
    """More entries in an existing log book, as one batch."""
    from adapters.crisis.crises import organisation_of
    from adapters.crisis.logbook import aggregate_as_of
    from domain.access import actor
    from domain.logbook import LogBook, crisis_scope, log_book_id

    if entries <= 0:
        return
    principal = _national(services)
    book = aggregate_as_of(services.store, log_book_id(crisis_scope(crisis.id)), LogBook)
    assert book is not None
    at = datetime.now(UTC)
    for i in range(entries):
        book.write(kind="action", text=f"Action {i} : équipe engagée sur la commune, fin d'intervention prévue.",
                   visibility="crisis", case_ids=[], author=actor(principal),
                   organisation_id=organisation_of(principal), at=at)
    services.store.save(book)


# ---- situation reports ----------------------------------------------------------------------------

def report_writes(services: Any) -> dict[str, tuple[float, float]]:
    """Per number of reports already written (0: the first, the baseline): (CPU µs, wall µs) per report,
    the figures read from the views included; and 'figures': the figures read alone."""
    from adapters.crisis.crises import organisation_of
    from adapters.crisis.logbook import write_report
    from domain.access import actor
    from domain.logbook import SituationReports
    from projections.read.crisis_log import crisis_view_figures

    principal = _national(services)
    out: dict[str, tuple[float, float]] = {}
    crisis = _crisis(services)
    cpu, wall = _timed(lambda: crisis_view_figures(services.store, services.geography, crisis), WRITES)
    out["figures"] = (cpu * 1e6, wall * 1e6)
    figures = crisis_view_figures(services.store, services.geography, crisis)
    for count in (0, *REPORT_COUNTS):
        crisis = _crisis(services)
        if count:
            reports = SituationReports(str(crisis.id))
            for i in range(count):
                reports.write(organisation_id=organisation_of(principal), text=f"Point de situation n° {i + 1}",
                              figures=figures, request_id=None, author=actor(principal), at=datetime.now(UTC))
            services.store.save(reports)

        def write(c: Any = crisis) -> None:
            write_report(services.store, c.id, principal, text="Vent en baisse, 1 200 foyers privés d'électricité",
                         figures=crisis_view_figures(services.store, services.geography, c))

        cpu, wall = _timed(write, 1 if count == 0 else WRITES)
        out[str(count)] = (cpu * 1e6, wall * 1e6)
    return out


# ---- the crisis attacher --------------------------------------------------------------------------

def attacher_run(messages: list, crises: int) -> dict[str, float]:
    from adapters.crisis.attacher import CrisisAttacher

    with _services(f"att{crises}") as services:
        opened = [_crisis(services, territory) for territory in STORM_TERRITORIES[:crises]]
        ingest_cpu = attach_cpu = 0.0
        read = 0
        with CrisisAttacher(services.store) as attacher:
            attacher.catch_up()
            for i in range(0, len(messages), BATCH):
                ingest_cpu += _ingest(services, messages[i:i + BATCH])
                t0 = time.thread_time()
                read += attacher.catch_up()
                attach_cpu += time.thread_time() - t0
            attached = attacher.attached
        del opened
    return {"ingest_cpu_us_per_message": ingest_cpu / len(messages) * 1e6,
            "attacher_cpu_us_per_event": attach_cpu / max(read, 1) * 1e6, "attached": attached}


# ---- main -----------------------------------------------------------------------------------------

def _median_pairs(runs: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    return {k: (statistics.median(r[k][0] for r in runs), statistics.median(r[k][1] for r in runs)) for k in runs[0]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_crisis")
    parser.add_argument("messages", nargs="?", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args([] if argv is None else argv)
    from adapters.simulator.timeline import simulate
    from projections.store.worker import ProjectionWorker

    pace_before = cpu_pace()
    messages = list(simulate("storm", size=args.messages, seed=1))
    writes, reads, reports = [], [], []
    for _ in range(args.runs):
        with _services("log") as services:
            writes.append(log_writes(services))
            _ingest(services, messages)
            reads.append(log_reads(services))
            with ProjectionWorker(services.store) as worker:
                worker.catch_up()
            reports.append(report_writes(services))
    attach: dict[int, list[dict[str, float]]] = {n: [] for n in CRISIS_COUNTS}
    for seed in range(1, args.runs + 1):
        run_messages = list(simulate("storm", size=args.messages, seed=seed))
        for n in CRISIS_COUNTS:
            attach[n].append(attacher_run(run_messages, n))
    pace_after = cpu_pace()

    w = _median_pairs(writes)
    base_cpu, base_wall = w["0"]
    print(f"   main courante, écriture d'une entrée (médianes de {args.runs} passes, {WRITES} écritures) :"
          f" livre vide {base_cpu:.0f} µs CPU, {base_wall:.0f} µs (référence)", flush=True)
    for size in BOOK_SIZES:
        cpu, wall = w[str(size)]
        print(f"     après {fmt(size)} entrées : {cpu:.0f} µs CPU, {wall:.0f} µs par écriture"
              f" (× {cpu / base_cpu:.1f} CPU, × {wall / base_wall:.1f} temps écoulé)", flush=True)
    r = {k: {f: statistics.median(run[k][f] for run in reads) for f in reads[0][k]} for k in reads[0]}
    base = r[f"{READS[0][0]}/{READS[0][1]}"]
    print("   main courante, lecture (crisis_log, l'opérateur) :", flush=True)
    for (entries, cases) in READS:
        x = r[f"{entries}/{cases}"]
        print(f"     {fmt(entries)} entrées, {cases} affaires : {fmt(x['items'])} éléments,"
              f" {x['cpu_us_per_item']:.0f} µs CPU, {x['wall_us_per_item']:.0f} µs par élément"
              f" (× {x['cpu_us_per_item'] / base['cpu_us_per_item']:.1f} CPU par élément) ; entrées à mi-parcours"
              f" ({fmt(x['as_of_entries'])}) : {x['as_of_cpu_us_per_entry']:.0f} µs CPU,"
              f" {x['as_of_wall_us_per_entry']:.0f} µs par entrée"
              f" (× {x['as_of_cpu_us_per_entry'] / base['as_of_cpu_us_per_entry']:.1f})", flush=True)
    p = _median_pairs(reports)
    base_cpu, base_wall = p["0"]
    print(f"   point de situation (chiffres lus dans les vues compris) : premier {base_cpu / 1e3:.1f} ms CPU,"
          f" {base_wall / 1e3:.1f} ms (référence) ; chiffres seuls {p['figures'][0] / 1e3:.1f} ms CPU,"
          f" {p['figures'][1] / 1e3:.1f} ms", flush=True)
    for count in REPORT_COUNTS:
        cpu, wall = p[str(count)]
        print(f"     après {fmt(count)} points : {cpu / 1e3:.1f} ms CPU, {wall / 1e3:.1f} ms par point"
              f" (× {cpu / base_cpu:.1f} CPU, × {wall / base_wall:.1f} temps écoulé)", flush=True)
    a = {n: {f: statistics.median(run[f] for run in attach[n]) for f in attach[n][0]} for n in CRISIS_COUNTS}
    print(f"   rattachement des affaires aux crises ({fmt(args.messages)} messages simulés, lots de {BATCH}) :",
          flush=True)
    for n in CRISIS_COUNTS:
        x = a[n]
        print(f"     {n} crise(s) ouverte(s) : {x['attacher_cpu_us_per_event']:.0f} µs CPU par événement d'affaire,"
              f" ingestion {x['ingest_cpu_us_per_message']:.0f} µs CPU par message (référence, même passe :"
              f" × {x['attacher_cpu_us_per_event'] / x['ingest_cpu_us_per_message']:.2f}) ;"
              f" {fmt(x['attached'])} rattachements", flush=True)
    print(f"   (charge de la machine : {os.getloadavg()[0]:.1f} ; étalon CPU : {pace_before:.2f} s avant,"
          f" {pace_after:.2f} s après ; voir tests.benchmarks.cpu_pace)", flush=True)
    return {"writes": writes, "reads": reads, "reports": reports, "attacher": attach,
            "cpu_pace_seconds": [round(pace_before, 3), round(pace_after, 3)]}


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
