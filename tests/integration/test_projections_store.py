"""The views in the real PostgreSQL: live = rebuild from zero = the in-memory fold, and readers never
see a half-built view."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.sql import SQL, Identifier

from adapters.geography import get_geography
from adapters.ingest.ingestion import Incoming
from adapters.settings import Settings
from adapters.store.codec import CaseEvent, EventDecoder
from adapters.store.event_store import TocsinStore
from domain.case import EVENT_CLASS_BY_KIND, Case
from domain.geography import NATIONAL, Level, UnknownTerritory
from projections.memory import MemoryViews
from projections.read import queries
from projections.read.queries import case_list, projection_status
from projections.read.territories import known_territory
from projections.registry import BY_LEVEL, CASE_LIST, VIEWS, ZONES
from projections.store.rebuild import RebuildBusy, rebuild
from projections.store.view_store import read_page, rebuild_lock_key
from projections.store.worker import ProjectionWorker, connect, run_in_thread
from projections.territory import LEVELS, total
from tests.benchmarks.projection_events import CrisisEvents, stored_state, topic_of
from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire
from tests.unit.test_projections_fold import BASE, event_streams, snapshot


@contextlib.contextmanager
def fresh_store(database_url: str, data_dir: Path) -> Iterator[TocsinStore]:
    """A store in its own schema (hypothesis examples cannot use function-scoped fixtures)."""
    schema = "t_" + uuid.uuid4().hex[:12]
    store = TocsinStore(Settings(database_url=database_url, data_dir=data_dir, schema=schema), database_url)
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


def record(store: TocsinStore, events: list[CaseEvent]) -> None:
    """Record events through the library's own path (mapper + recorder), in their order."""
    versions = _versions(store)
    stored = []
    for e in events:
        versions[e.originator_id] = versions.get(e.originator_id, 0) + 1
        domain_event = EVENT_CLASS_BY_KIND[e.kind](
            originator_id=e.originator_id, originator_version=versions[e.originator_id], timestamp=e.recorded_at,
            case_id=e.case_id, facts=e.facts, provenance=e.provenance,
        )
        stored.append(store.mapper.to_stored_event(domain_event))
    if stored:
        store.recorder.insert_events(stored)


def _versions(store: TocsinStore) -> dict:
    with store.connect() as conn:
        return {
            r["originator_id"]: r["v"]
            for r in conn.execute(SQL("SELECT originator_id, max(originator_version) AS v FROM {} GROUP BY 1").format(
                store.table("tocsin_events")))
        }


def territory_view(store: TocsinStore, level: str, code: str, **options) -> dict:
    """The view of a territory as a person names it (`tocsin view`)."""
    geography = options.get("geography") or get_geography()
    return queries.territory_view(store, *known_territory(level, code, geography), **options)


def tables(store: TocsinStore) -> tuple:
    """The live views as the in-memory snapshot shapes them."""
    schema = Identifier(store.settings.schema)
    with connect(store) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cases = {r["originator_id"]: r for r in cur.execute(
            SQL("SELECT * FROM {}.{}").format(schema, Identifier(CASE_LIST.table())))}
        levels = {}
        for level, view in BY_LEVEL.items():
            levels[level] = {r["code"]: (r["figures"], r["updated_at"]) for r in cur.execute(
                SQL("SELECT code, figures, updated_at FROM {}.{}").format(schema, Identifier(view.table())))}
    return cases, levels


def positions(store: TocsinStore) -> dict[str, int]:
    return {r["name"]: r["position"] for r in projection_status(store)}


def memory(events: list[CaseEvent]) -> tuple:
    views = MemoryViews()
    views.process(events)
    return snapshot(views)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    events=event_streams(max_cases=6, max_events=40),
    chunks=st.lists(st.integers(1, 15), min_size=1, max_size=6),
    batch_size=st.integers(1, 12),
    restarts=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_live_equals_a_rebuild_from_zero_equals_the_in_memory_fold(database_url, tmp_path, events, chunks, batch_size,
                                                                   restarts):
    with fresh_store(database_url, tmp_path) as store:
        # Live: events arrive in chunks; the worker follows in small batches, sometimes restarted cold.
        worker = ProjectionWorker(store, batch_size=batch_size)
        start, i = 0, 0
        while start < len(events):
            size = chunks[i % len(chunks)]
            record(store, events[start : start + size])
            start += size
            if restarts[i % len(restarts)]:
                worker.close()
                worker = ProjectionWorker(store, batch_size=batch_size)
            worker.step()
            i += 1
        worker.catch_up()
        live = tables(store)
        assert live == memory(events)
        assert set(positions(store).values()) == {len(events)}

        # Replaying what is already folded changes nothing: nothing to consume, same tables.
        assert worker.catch_up() == 0
        worker.close()
        with ProjectionWorker(store) as cold:
            assert cold.catch_up() == 0
        assert tables(store) == live

        # Rebuilding from zero (twice) gives the same tables, at the same position.
        for _ in range(2):
            report = rebuild(store, VIEWS, partitions=1)
            assert report.events == len(events) and report.position == len(events)
            assert tables(store) == live
        assert set(positions(store).values()) == {len(events)}


def test_parallel_rebuild_of_a_realistic_crisis_equals_live_and_the_sums_hold(database_url, tmp_path):
    generated = list(CrisisEvents(4000, seed=5))
    with fresh_store(database_url, tmp_path) as store:
        schema = Identifier(store.settings.schema)
        with psycopg.connect(store.database_url) as conn, conn.cursor() as cur:
            copy_in = SQL("COPY {}.tocsin_events (originator_id, originator_version, topic, state) FROM STDIN")
            with cur.copy(copy_in.format(schema)) as copy:
                for e in generated:
                    copy.write_row((e.originator_id, e.version, topic_of(e), stored_state(store.mapper, e)))
        with ProjectionWorker(store, batch_size=700) as worker:
            assert worker.catch_up() == len(generated)
        live = tables(store)
        report = rebuild(store, VIEWS, partitions=2)
        assert report.partitions == 2 and report.events == len(generated)
        assert tables(store) == live
        cases, levels = live
        national = levels[Level.NATIONAL][NATIONAL][0]
        for level in LEVELS:
            assert total(figures for figures, _ in levels[level].values()) == national
        assert national["cases:total"] == len(cases) == len({e.originator_id for e in generated})
        # What the mapper would decode, the fast decoder decodes identically.
        with psycopg.connect(store.database_url) as conn:
            rows = read_page(conn, store.settings.schema, 0, 300)
        fast = EventDecoder(store.mapper).decode(rows)
        slow = [EventDecoder(store.mapper)._slow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
        assert fast == slow


def test_views_follow_real_ingestion_and_answer_by_territory(services):
    thread, stop = run_in_thread(services.store, batch_size=50)
    try:
        report = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sent_at="2024-08-13T10:21:00+02:00")
        resources = wire(*example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03"), sent_at="2024-08-13T10:30:00+02:00")
        for w in (report, resources):
            assert services.ingestor.ingest(Incoming(as_xml(w), "application/xml")).status == "accepted"
        ack = wire("reference", {"distributionID": report["distributionID"], "step": "RECU"})
        services.ingestor.ingest(Incoming(as_json(ack)))
        deadline = time.monotonic() + 20
        while min(positions(services.store).values()) < 3:
            assert time.monotonic() < deadline, "the live worker did not fold the new events"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
    commune = territory_view(services.store, "commune", "35126", geography=services.geography)
    assert (commune["name"], commune["cases_active"], commune["cases_total"]) == ("Guichen", 1, 1)
    assert commune["families"][0]["label"] == "Incendie"
    assert commune["resources"]["by_kind"][0]["kind"] == "VSR"
    national = territory_view(services.store, "national", "fr", geography=services.geography)
    assert national["code"] == NATIONAL and national["cases_total"] == 1
    [serious] = national["most_serious"]
    assert serious["case_id"] == FIRE_CASE and serious["commune_name"] == "Guichen" and serious["messages"] == 3
    opened = serious["opened_at"]
    around = territory_view(services.store, "zone", "ouest", now=BASE.replace(year=2024, month=8, day=13, hour=9))
    assert (around["opened_last_hour"], around["opened_last_24h"]) == (1, 1), opened
    later = territory_view(services.store, "zone", "ouest", now=BASE.replace(year=2024, month=8, day=14, hour=9))
    assert (later["opened_last_hour"], later["opened_last_24h"]) == (0, 0)
    assert territory_view(services.store, "departement", "13")["cases_total"] == 0
    assert [c["case_id"] for c in case_list(services.store, Level.DEPARTEMENT, "35", status="open")] == [FIRE_CASE]
    assert case_list(services.store, Level.DEPARTEMENT, "35", family="aleas-naturels") == []
    with pytest.raises(UnknownTerritory):
        territory_view(services.store, "commune", "99999")
    with pytest.raises(UnknownTerritory):
        territory_view(services.store, "region", "53")


def test_readers_keep_a_consistent_view_while_a_rebuild_swaps_tables_under_live_traffic(database_url, tmp_path):
    generated = list(CrisisEvents(3000, seed=9))
    first, rest = generated[:1500], generated[1500:]
    with fresh_store(database_url, tmp_path) as store:
        _copy(store, first)
        with ProjectionWorker(store) as worker:
            worker.catch_up()
        before = territory_view(store, "national", "FR")["cases_total"]
        seen: list[int] = []
        errors: list[BaseException] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                try:
                    seen.append(territory_view(store, "national", "FR")["cases_total"])
                except BaseException as error:  # noqa: BLE001 - any failure is the test's failure
                    errors.append(error)
                    return

        def feed() -> None:
            for i in range(0, len(rest), 100):
                _copy(store, rest[i : i + 100])
                time.sleep(0.02)

        thread, stop = run_in_thread(store, batch_size=200)
        reader, feeder = threading.Thread(target=read), threading.Thread(target=feed)
        reader.start()
        feeder.start()
        try:
            rebuild(store, list(BY_LEVEL.values()), partitions=1)
            feeder.join()
            deadline = time.monotonic() + 30
            while min(positions(store).values()) < len(generated):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            done.set()
            reader.join()
            stop.set()
            thread.join(10)
        assert not errors
        assert seen and min(seen) >= before  # never an empty or half-built view
        assert seen == sorted(seen)  # only new cases arrive here: the count never goes back
        assert tables(store) == memory(_decoded(store))


def test_a_second_rebuild_is_refused_while_one_runs_and_status_reports_lag(services):
    record(services.store, [CaseEvent(1, uuid.uuid4(), "createCase", "fr.a.b.1", {"case_id": "fr.a.b.1"},
                                      {"distribution_id": "1", "sent_at": "2024-08-13T10:21:00+02:00"}, BASE)])
    [cases, *_] = projection_status(services.store)
    assert (cases["position"], cases["lag_events"]) == (0, 1) and cases["lag_seconds"] > 0
    with psycopg.connect(services.store.database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (rebuild_lock_key(services.settings.schema),))
        with pytest.raises(RebuildBusy):
            rebuild(services.store, [ZONES])
    rebuild(services.store, [ZONES])
    status = {r["name"]: r for r in projection_status(services.store)}
    assert status["zone"]["position"] == 1 and status["zone"]["lag_events"] == 0 and status["zone"]["rebuilt_at"]
    assert status["cases"]["position"] == 0  # each view has its own position
    with ProjectionWorker(services.store) as worker:
        assert worker.catch_up() == 1  # the others catch up; zone, already there, waits for them
    assert {r["lag_events"] for r in projection_status(services.store)} == {0}


def test_the_decoder_falls_back_to_the_mapper_for_anything_unusual(services):
    from datetime import datetime

    event = Case.Reported(originator_id=uuid.uuid4(), originator_version=1, timestamp=datetime.now().astimezone(),
                          case_id="fr.a.b.1", facts={"case_id": "fr.a.b.1", "when": datetime(2024, 1, 1)},
                          provenance={"distribution_id": "1"})
    stored = services.store.mapper.to_stored_event(event)
    [decoded] = EventDecoder(services.store.mapper).decode([(7, stored.originator_id, 1, stored.topic, stored.state)])
    assert decoded.facts["when"] == datetime(2024, 1, 1) and decoded.notification_id == 7
    ignored = [(8, uuid.uuid4(), 1, "domain.case:Exchange.AcknowledgementRecorded", b"")]
    assert EventDecoder(services.store.mapper).decode(ignored) == []
    plain = StoredEvent(stored.originator_id, 1, stored.topic,
                        stored_state(services.store.mapper, next(iter(CrisisEvents(5, seed=1)))))
    assert services.store.mapper.to_domain_event(plain).facts  # the bench's encoding is the library's


def _copy(store: TocsinStore, events: list) -> None:
    schema = Identifier(store.settings.schema)
    with psycopg.connect(store.database_url) as conn:
        conn.execute(SQL("LOCK TABLE {}.tocsin_events IN EXCLUSIVE MODE").format(schema))
        with conn.cursor() as cur:
            copy_in = SQL("COPY {}.tocsin_events (originator_id, originator_version, topic, state) FROM STDIN")
            with cur.copy(copy_in.format(schema)) as copy:
                for e in events:
                    copy.write_row((e.originator_id, e.version, topic_of(e), stored_state(store.mapper, e)))
        conn.execute('NOTIFY "tocsin_events"')


def _decoded(store: TocsinStore) -> list[CaseEvent]:
    with psycopg.connect(store.database_url) as conn:
        return EventDecoder(store.mapper).decode(read_page(conn, store.settings.schema, 0, 10**9))


def test_time_windows_are_relative_to_the_reading_time(services):
    opened = BASE
    case_id = "fr.fire.sis35.cgo-35.SC-w"
    record(services.store, [CaseEvent(1, uuid.uuid4(), "createCase", case_id,
                                      {"case_id": case_id, "creation": opened.isoformat(),
                                       "placement": {"insee": "35238", "departement": "35", "zone": "ouest"}},
                                      {"distribution_id": "1", "sent_at": opened.isoformat()}, opened)])
    with ProjectionWorker(services.store) as worker:
        worker.catch_up()
    windows = lambda now: (lambda v: (v["opened_last_hour"], v["opened_last_24h"]))(  # noqa: E731
        territory_view(services.store, "commune", "35238", now=now))
    assert windows(opened + timedelta(minutes=30)) == (1, 1)
    assert windows(opened + timedelta(hours=5)) == (0, 1)
    assert windows(opened + timedelta(days=2)) == (0, 0)
    assert windows(opened - timedelta(minutes=1)) == (0, 0)  # a replay before the case opened


def test_a_view_whose_shape_changed_is_folded_again_instead_of_showing_its_stale_figures(database_url, tmp_path):
    """Issue #22: the level views gained the open cases' victims; a store folded by the previous code
    must not keep figures without them (nor claim to be up to date): its views start again from zero."""
    with fresh_store(database_url, tmp_path) as store:
        record(store, _simple_events())
        with ProjectionWorker(store) as worker:
            worker.catch_up()
        expected = tables(store)
        # What the previous code left: figures without `open:` counters, tracking rows without a shape.
        schema = Identifier(store.settings.schema)
        with connect(store) as conn:
            for view in BY_LEVEL.values():
                conn.execute(SQL("UPDATE {}.{} SET figures = figures - 'open:victims_count:1'").format(
                    schema, Identifier(view.table())))
            conn.execute(SQL("UPDATE {}.tocsin_view_tracking SET shape = NULL").format(schema))
        assert tables(store) != expected
        with ProjectionWorker(store) as worker:  # the next start notices the old shape
            worker.catch_up()
        assert tables(store) == expected
        assert set(positions(store).values()) == {len(_simple_events())}
        with ProjectionWorker(store) as worker:  # and folds it once only: the shape is recorded
            assert worker.catch_up() == 0
        rebuild(store, VIEWS, partitions=1)  # a rebuild records the shape it folded with too
        with ProjectionWorker(store) as worker:
            assert worker.catch_up() == 0
        assert tables(store) == expected


def _simple_events() -> list[CaseEvent]:
    from domain.case_state import REPORTED
    from domain.identity import case_uuid
    from tests.unit.test_projections_fold import at, placement

    out = []
    for n in range(1, 6):
        case_id = f"fr.fire.sis35.cgo-35.SC-{n}"
        facts = {"case_id": case_id, "nature": {"code": "C01.01.01"}, "victims_count": "1",
                 "placement": placement("35238")}
        out.append(CaseEvent(n, case_uuid(case_id), REPORTED, case_id, facts,
                             {"distribution_id": str(n), "sent_at": at(n)}, BASE + timedelta(minutes=n)))
    return out
