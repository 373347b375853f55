"""Snapshots of the log book, situation reports and crises (TocsinStore.snapshotting_intervals) never change
what is read: now, or as the aggregate stood at a past moment, even when a snapshot was taken after that
moment (at a later version or at an earlier one); they are taken at the interval by the writes themselves,
and a snapshot already taken at a version is no error."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from eventsourcing.application import project_aggregate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.crisis.crises import attach_case, get_crisis, open_crisis
from adapters.crisis.logbook import (
    aggregate_as_of,
    crisis_reports,
    own_entries,
    person_entries,
    version_at,
    write_entry,
    write_report,
)
from adapters.store.event_store import TocsinStore
from domain.access import ROLES, Principal
from domain.crisis import Crisis
from domain.geography import Level
from domain.logbook import LogBook, LogItem, SituationReports, crisis_scope, log_book_id, reports_id


def prefect(services) -> Principal:
    return Principal("p.prefet", ROLES["prefecture"], Level.DEPARTEMENT, "35", services.geography, name="Préfet",
                     organisation_id="prefecture.35")


def latest_snapshot(store: TocsinStore, aggregate_id: uuid.UUID) -> int | None:
    assert store.snapshots is not None
    found = list(store.snapshots.get(aggregate_id, desc=True, limit=1))
    return found[0].originator_version if found else None


def from_events_alone(store: TocsinStore, aggregate_id: uuid.UUID, version: int | None = None):
    """The aggregate folded from its events only, no snapshot read."""
    return project_aggregate(None, store.events.get(aggregate_id, lte=version))


def as_rows(items) -> list[dict]:
    return [i.as_dict() for i in items]


def test_snapshots_taken_at_the_interval_leave_every_read_and_as_of_read_unchanged(services, monkeypatch):
    monkeypatch.setitem(TocsinStore.snapshotting_intervals, LogBook, 3)
    monkeypatch.setitem(TocsinStore.snapshotting_intervals, SituationReports, 2)
    monkeypatch.setitem(TocsinStore.snapshotting_intervals, Crisis, 2)
    store, who = services.store, prefect(services)
    crisis = open_crisis(store, who, title="Crue", kind="flood", territory="departement:35")
    book_id = log_book_id(crisis_scope(crisis.id))
    moments: list[datetime] = [datetime.now(UTC)]
    written: list[LogItem] = []
    for n in range(8):
        amends = written[0].id if n == 5 else None
        written.append(write_entry(store, crisis.id, who, kind="information", text=f"Point {n}",
                                   visibility="crisis", amends=amends))
        time.sleep(0.002)
        moments.append(datetime.now(UTC))
        write_report(store, crisis.id, who, text=f"Situation {n}", figures={"cases_total": n})
        attach_case(store, crisis.id, who, f"fr.fire.sis35.cgo-35.{n}")
    # The log book (version 1 + 8 entries), the reports and the crisis were snapshotted by their writes.
    assert latest_snapshot(store, book_id) == 9
    assert latest_snapshot(store, reports_id(crisis.id)) == 8
    assert latest_snapshot(store, crisis.id) == 8

    now = get_crisis(store, crisis.id)
    assert now is not None and len(now.cases) == 8
    assert now.__dict__ == from_events_alone(store, crisis.id).__dict__
    entries = person_entries(store, now, None)
    assert [i.text for i in entries] == [f"Point {n}" for n in range(8)]
    assert entries[0].amended_by == ("6",) and entries == from_events_alone(store, book_id).items()
    assert written[5] == entries[5]  # the item a write answers is the one read back
    assert [r["text"] for r in crisis_reports(store, now)] == [f"Situation {n}" for n in range(8)]
    # Each past moment reads the entries written by then, though snapshots were taken after it.
    for k, moment in enumerate(moments):
        version = version_at(store, book_id, moment)
        assert version == (0 if k == 0 else k + 1)
        then = person_entries(store, now, None, moment)
        assert [i.text for i in then] == [f"Point {n}" for n in range(k)]
        if version:
            assert then == from_events_alone(store, book_id, version).items()
    # As of the moment the fifth entry was written, the first has no correction yet.
    assert person_entries(store, now, None, moments[5])[0].amended_by == ()
    # A snapshot already taken at a version is no error (another process may have taken it).
    store.take_snapshot(book_id, version=9)
    assert person_entries(store, now, None) == entries


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.tuples(st.sampled_from(["information", "decision", "action"]),
                                 st.none() | st.integers(min_value=0, max_value=8), st.booleans()),
                       min_size=1, max_size=9))
def test_a_snapshot_at_any_version_never_changes_a_read_or_an_as_of_read(services, script):
    """An organisation's own log book written with entries (some amending earlier ones), a snapshot taken
    by hand after some of them: every read, now and at each moment between writes, is the fold of the
    events alone."""
    store = services.store
    organisation = f"mairie.{uuid.uuid4().hex[:8]}"  # a fresh log book per example
    book_id = log_book_id(f"organisation:{organisation}")
    book = LogBook(f"organisation:{organisation}")
    store.save(book)
    moments = [datetime.now(UTC)]
    snapshots = []
    for kind, amends, snapshot in script:
        target = str(amends + 1) if amends is not None and amends < len(book.entries) else None
        book.write(kind=kind, text=f"{kind} {len(book.entries)}", visibility="organisation", case_ids=[],
                   author={"person_id": "p"}, organisation_id=organisation, at=datetime.now(UTC), amends=target)
        store.save(book)
        if snapshot:
            store.take_snapshot(book_id)
            snapshots.append(book.version)
        moments.append(datetime.now(UTC))
    assert latest_snapshot(store, book_id) == (snapshots[-1] if snapshots else None)
    assert own_entries(store, organisation) == from_events_alone(store, book_id).items()
    for moment in moments:
        version = version_at(store, book_id, moment)
        then = aggregate_as_of(store, book_id, LogBook, moment)
        assert then is not None and then.version == version
        assert own_entries(store, organisation, moment) == from_events_alone(store, book_id, version).items()


def test_a_moment_before_the_log_book_reads_nothing_though_snapshots_exist(services):
    store, who = services.store, prefect(services)
    crisis = open_crisis(store, who, title="Tempête", kind="storm", territory="departement:35")
    before = datetime.now(UTC)
    time.sleep(0.002)
    write_entry(store, crisis.id, who, kind="decision", text="Activation du COD", visibility="crisis")
    store.take_snapshot(log_book_id(crisis_scope(crisis.id)))
    assert person_entries(store, crisis, None, before) == []
    assert [i.text for i in person_entries(store, crisis, None)] == ["Activation du COD"]

