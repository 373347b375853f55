"""The crisis attacher on the real event store: cases attach by rule as they arrive (territory, from the
crisis's start, nature family), a crisis opened later takes the cases already there, a case detached by
hand never comes back (rebuild, restart), and two processes at once attach each case once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.crisis.attacher import CrisisAttacher, StalePosition
from adapters.crisis.crises import close_crisis, detach_case, get_crisis, open_crisis
from adapters.ingest.ingestion import Incoming
from domain.access import ROLES, Principal
from domain.geography import Level
from tests.support.api import BREST, GUICHEN, RENNES, report_in


def prefect(services, code: str = "35") -> Principal:
    return Principal(f"prefet-{code}", ROLES["prefecture"], Level.DEPARTEMENT, code, services.geography,
                     name="Préfet", organisation_id=f"prefecture.{code}")


def arrive(services, insee: str, case_id: str, seed: int = 1) -> None:
    outcome = services.ingestor.ingest(Incoming(report_in(services.geography, insee, case_id, seed=seed)))
    assert outcome.status == "accepted", outcome


def attached(services, crisis_id) -> list[str]:
    crisis = get_crisis(services.store, crisis_id if isinstance(crisis_id, UUID) else UUID(str(crisis_id)))
    assert crisis is not None
    return sorted(crisis.cases)


def attach_events(services, crisis_id) -> list[str]:
    return [e.case_id for e in services.store.events.get(crisis_id) if type(e).__name__ == "CaseAttached"]


def test_cases_attach_by_territory_time_and_family_and_a_later_crisis_takes_those_already_there(services):
    arrive(services, RENNES, "fr.fire.avant")  # before the crisis's start
    time.sleep(0.01)
    start = datetime.now(UTC)
    fire = open_crisis(services.store, prefect(services), title="Feux", kind="wildfire", territory="departement:35",
                       start=start)
    flood = open_crisis(services.store, prefect(services), title="Crue", kind="flood", territory="departement:35",
                        start=start)  # a fire case is not of its families
    with CrisisAttacher(services.store) as attacher:
        attacher.catch_up()
        arrive(services, RENNES, "fr.fire.rennes", seed=2)
        arrive(services, GUICHEN, "fr.fire.guichen", seed=3)
        arrive(services, BREST, "fr.fire.brest", seed=4)  # outside the territory
        arrive(services, RENNES, "fr.fire.avant", seed=5)  # updated after the start: it arrived before
        attacher.catch_up()
        assert attached(services, fire.id) == ["fr.fire.guichen", "fr.fire.rennes"]
        assert attached(services, flood.id) == []
        assert attacher.attached == 2
        found = get_crisis(services.store, fire.id)
        assert found is not None and {c["how"] for c in found.as_dict()["cases"]} == {"règle"}

        # A crisis opened now with a start in the past takes the cases already recorded since then.
        national = Principal("cogic", ROLES["national"], Level.NATIONAL, "FR", services.geography,
                             organisation_id="national.FR")
        past = open_crisis(services.store, national, title="Tempête", kind="other", territory="zone:ouest",
                           start=start - timedelta(hours=1))
        attacher.catch_up()
        assert attached(services, past.id) == ["fr.fire.avant", "fr.fire.brest", "fr.fire.guichen", "fr.fire.rennes"]


def test_a_crisis_opened_while_the_attacher_is_behind_attaches_each_case_once(services):
    with CrisisAttacher(services.store, page=3) as attacher:
        start = datetime.now(UTC) - timedelta(minutes=5)
        arrive(services, RENNES, "fr.fire.a", seed=1)
        crisis = open_crisis(services.store, prefect(services), title="Feux", kind="wildfire",
                             territory="departement:35", start=start)
        arrive(services, GUICHEN, "fr.fire.b", seed=2)
        arrive(services, RENNES, "fr.fire.a", seed=3)
        attacher.catch_up()  # pages of three: the case before `Opened` in the same page as the crisis
    assert attached(services, crisis.id) == ["fr.fire.a", "fr.fire.b"]
    assert sorted(attach_events(services, crisis.id)) == ["fr.fire.a", "fr.fire.b"]


def test_a_detached_case_never_returns_after_a_rebuild_or_a_restart(services, settings):
    crisis = open_crisis(services.store, prefect(services), title="Feux", kind="wildfire",
                         territory="departement:35", start=datetime.now(UTC) - timedelta(minutes=1))
    arrive(services, RENNES, "fr.fire.r1", seed=1)
    arrive(services, RENNES, "fr.fire.r2", seed=2)
    with CrisisAttacher(services.store) as attacher:
        attacher.catch_up()
    assert attached(services, crisis.id) == ["fr.fire.r1", "fr.fire.r2"]
    detach_case(services.store, crisis.id, prefect(services), "fr.fire.r1", "feu de poubelle sans lien")

    # The attacher's memory rebuilt from the start of the history, in a new process.
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(SQL("UPDATE {}.tocsin_crisis_tracking SET position = 0").format(Identifier(settings.schema)))
        conn.execute(SQL("TRUNCATE {}.tocsin_crisis_cases").format(Identifier(settings.schema)))
    with CrisisAttacher(services.store) as again:
        again.catch_up()
        arrive(services, RENNES, "fr.fire.r1", seed=3)  # news of the detached case: it stays out
        again.catch_up()
        assert again.attached == 0
    assert attached(services, crisis.id) == ["fr.fire.r2"]
    assert sorted(attach_events(services, crisis.id)) == ["fr.fire.r1", "fr.fire.r2"]


def test_two_attachers_at_once_attach_each_case_once(services):
    crisis = open_crisis(services.store, prefect(services), title="Feux", kind="wildfire",
                         territory="departement:35", start=datetime.now(UTC) - timedelta(minutes=1))
    stop = threading.Event()
    attachers = [CrisisAttacher(services.store, page=2) for _ in range(2)]
    threads = [threading.Thread(target=a.run, args=(stop, 0.05)) for a in attachers]
    try:
        for t in threads:
            t.start()
        for n in range(8):
            arrive(services, RENNES if n % 2 else GUICHEN, f"fr.fire.x{n}", seed=n)
        deadline = time.monotonic() + 20
        while len(attached(services, crisis.id)) < 8:
            assert time.monotonic() < deadline, attached(services, crisis.id)
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        for a in attachers:
            a.close()
    assert sorted(attach_events(services, crisis.id)) == sorted(f"fr.fire.x{n}" for n in range(8))
    assert sum(a.attached for a in attachers) == 8

    # Without the lock, the position says who recorded first: the other records nothing.
    late = CrisisAttacher(services.store)
    try:
        arrive(services, RENNES, "fr.fire.y", seed=20)
        position = late.stored_position()
        rows = late._read(position)
        known, plan = late._plan(rows, position)
        assert plan
        with pytest.raises(StalePosition):
            late._record(known, plan, position - 1, int(rows[-1][0]))
        assert "fr.fire.y" not in attached(services, crisis.id)
        late.catch_up()
        assert attach_events(services, crisis.id).count("fr.fire.y") == 1
    finally:
        late.close()


def test_an_exercise_crisis_takes_exercise_cases_only_and_a_real_one_real_cases_only(services):
    start = datetime.now(UTC)
    real = open_crisis(services.store, prefect(services), title="Feux", kind="wildfire", territory="departement:35",
                       start=start)
    drill = open_crisis(services.store, prefect(services), title="Exercice feux", kind="wildfire",
                        territory="departement:35", start=start, exercise=True)
    with CrisisAttacher(services.store) as attacher:
        arrive(services, RENNES, "fr.fire.reel", seed=2)
        drilled = report_in(services.geography, GUICHEN, "fr.fire.exercice", seed=3, status="Exercise")
        assert services.ingestor.ingest(Incoming(drilled)).status == "accepted"
        attacher.catch_up()
        assert attached(services, real.id) == ["fr.fire.reel"]
        assert attached(services, drill.id) == ["fr.fire.exercice"]
        # Opened later with a past start, each takes from the cases already there those of its own kind.
        later = open_crisis(services.store, prefect(services), title="Exercice bis", kind="other",
                            territory="departement:35", start=start, exercise=True)
        attacher.catch_up()
        assert attached(services, later.id) == ["fr.fire.exercice"]


def test_a_running_attacher_follows_what_people_do_to_the_crises_between_its_steps(services):
    """The attacher keeps the open crises between its steps: a crisis closed, a case detached by hand or a
    crisis opened meanwhile are seen at its next step (their events are in the page it reads)."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    who = prefect(services)
    fire = open_crisis(services.store, who, title="Feux", kind="wildfire", territory="departement:35", start=start)
    other = open_crisis(services.store, who, title="Feux 2", kind="wildfire", territory="departement:35", start=start)
    with CrisisAttacher(services.store) as attacher:
        arrive(services, RENNES, "fr.fire.un", seed=1)
        attacher.catch_up()
        assert attached(services, fire.id) == attached(services, other.id) == ["fr.fire.un"]
        close_crisis(services.store, fire.id, who)
        detach_case(services.store, other.id, who, "fr.fire.un", "sans lien")
        third = open_crisis(services.store, who, title="Feux 3", kind="wildfire", territory="departement:35",
                            start=start)
        arrive(services, GUICHEN, "fr.fire.deux", seed=2)
        arrive(services, RENNES, "fr.fire.un", seed=3)  # updated: it stays detached from `other`
        attacher.catch_up()
        assert attached(services, fire.id) == ["fr.fire.un"]  # closed: takes nothing more
        assert attached(services, other.id) == ["fr.fire.deux"]
        assert attached(services, third.id) == ["fr.fire.deux", "fr.fire.un"]
        assert attacher.crises is not None and set(attacher.crises) == {other.id, third.id}
