"""The log book and situation reports on the real event store: entries by people merged with the NexSIS
messages of the crisis's cases and its alerts, each reader seeing what the rules allow; many writers at
once; the log book as it stood at a past moment; a closed crisis refusing entries; the acts chained."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from adapters.crisis.crises import attach_case, close_crisis, open_crisis
from adapters.crisis.logbook import crisis_as_of, crisis_reports, write_entry, write_report
from adapters.notify.policy import AlertPolicy
from domain.access import NAME_MASK, ROLES, Principal
from domain.crisis import CrisisClosed
from domain.geography import Level
from domain.logbook import EntryRefused
from projections.read.crisis_log import crisis_log, crisis_view_figures
from projections.store.worker import ProjectionWorker
from replay.audit import verify as v
from replay.audit.keys import trusted_keys
from replay.audit.seals import journal_file
from tests.integration.test_alert_policy import GUICHEN, directory, report

CASE = "fr.fire.sis35.cgo-35.DRFR15POL0001"


def principal(services, role: str, level: Level, code: str, name: str) -> Principal:
    return Principal(f"p.{name}", ROLES[role], level, code, services.geography, name=name)


@pytest.fixture
def crisis_world(services):
    prefet = principal(services, "prefecture", Level.DEPARTEMENT, "35", "prefet")
    maire = principal(services, "mayor", Level.COMMUNE, GUICHEN, "maire")
    recipients, _ = directory(services)
    policy = AlertPolicy(services.store, services.geography, recipients)  # started first: it begins at the head
    report(services, 1)
    policy.catch_up()
    crisis = open_crisis(services.store, prefet, title="Crue de la Vilaine", kind="flood",
                         territory="departement:35", start=datetime(2026, 12, 7, 0, 0, tzinfo=UTC))
    attach_case(services.store, crisis.id, prefet, CASE)
    return crisis, prefet, maire


def test_each_reader_sees_the_entries_the_rules_allow_merged_with_messages_and_alerts(services, crisis_world):
    crisis, prefet, maire = crisis_world
    own = write_entry(services.store, crisis.id, maire, kind="action", text="Gymnase ouvert pour 40 personnes",
                      visibility="organisation", case_ids=[CASE])
    shared = write_entry(services.store, crisis.id, prefet, kind="decision", text="Activation du COD",
                         visibility="crisis")
    fixed = write_entry(services.store, crisis.id, prefet, kind="decision", text="Activation du COD à 19 h",
                        visibility="organisation", amends=shared.id)
    assert (own.id, shared.id, fixed.id) == ("1", "2", "3") and fixed.visibility == "crisis"
    assert own.organisation_id == f"mairie.{GUICHEN}" and own.author and own.author["person_id"] == "p.maire"
    with pytest.raises(EntryRefused):  # the mairie does not correct the prefecture's entry
        write_entry(services.store, crisis.id, maire, kind="information", text="x", amends=shared.id)

    now = crisis_as_of(services.store, crisis.id, maire)
    seen = crisis_log(services.store, services.geography, now, maire)
    by_source: dict[str, list] = {}
    for item in seen:
        by_source.setdefault(item.source, []).append(item)
    assert [i.id for i in by_source["personne"]] == ["1", "2", "3"]
    assert [i.text for i in by_source["nexsis"]] and all(i.case_ids == (CASE,) for i in by_source["nexsis"])
    [alert] = by_source["alerte"]
    assert alert.organisation_id == f"mairie.{GUICHEN}" and "Nouvelle affaire" in alert.text
    assert [i.at for i in seen] == sorted(i.at for i in seen)
    # The mayor reads the call's description without the names the prefecture reads.
    mayor_text = by_source["nexsis"][0].text
    prefet_log = crisis_log(services.store, services.geography, now, prefet)
    prefet_text = next(i.text for i in prefet_log if i.source == "nexsis")
    assert NAME_MASK in mayor_text and "LECCIA" not in mayor_text and "LECCIA" in prefet_text
    # The prefecture does not read the mairie's own entry; the alert to the mairie it sees (above it).
    assert [i.id for i in prefet_log if i.source == "personne"] == ["2", "3"]
    # A crisis begun after the alert: its log book does not go back before its start.
    later = open_crisis(services.store, prefet, title="Suite", kind="other", territory="departement:35")
    attach_case(services.store, later.id, prefet, CASE)
    later = crisis_as_of(services.store, later.id, maire)
    assert {i.source for i in crisis_log(services.store, services.geography, later, maire)} == {"nexsis"}
    # Another mayor of the département: the shared entries, not the case of another commune, nor its alert.
    rennes = principal(services, "mayor", Level.COMMUNE, "35238", "maire-rennes")
    other = crisis_log(services.store, services.geography, now, rennes)
    assert [(i.source, i.id) for i in other] == [("personne", "2"), ("personne", "3")]


def test_many_people_writing_at_once_lose_no_entry(services, crisis_world):
    crisis, prefet, _ = crisis_world
    writers = [principal(services, "mayor", Level.COMMUNE, code, f"m{code}")
               for code in ("35238", "35126", "35047", "35051", "35001", "35002", "35003", "35004", "35006", "35007",
                            "35008", "35009")]

    def write_four(p: Principal) -> list[str]:
        return [write_entry(services.store, crisis.id, p, kind="information", text=f"{p.name} {n}",
                            visibility="crisis").id for n in range(4)]

    with ThreadPoolExecutor(len(writers)) as pool:
        ids = [i for batch in pool.map(write_four, writers) for i in batch]
    assert sorted(ids, key=int) == [str(n) for n in range(1, 49)]
    texts = {i.text for i in crisis_log(services.store, services.geography, crisis, None, sources={})}
    assert texts == {f"{p.name} {n}" for p in writers for n in range(4)}


def test_the_log_book_and_reports_as_they_stood_and_a_closed_crisis_refusing_more(services, settings, crisis_world):
    crisis, prefet, maire = crisis_world
    with ProjectionWorker(services.store) as worker:
        worker.catch_up()
    figures = crisis_view_figures(services.store, services.geography, crisis)
    assert figures["cases_total"] == 1 and "most_serious" not in figures
    first = write_report(services.store, crisis.id, maire, text="Rien à signaler", figures=figures)
    write_entry(services.store, crisis.id, prefet, kind="information", text="Avant", visibility="crisis")
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    write_entry(services.store, crisis.id, prefet, kind="information", text="Après", visibility="crisis")
    second = write_report(services.store, crisis.id, maire, text="Eau en baisse", figures={"cases_active": 0},
                          request_id="prefecture.35.request.1")
    assert (first["number"], second["number"]) == (1, 2) and first["figures"]["cases_total"] == 1

    then = crisis_as_of(services.store, crisis.id, prefet, middle)
    past = crisis_log(services.store, services.geography, then, prefet, at=middle)
    assert [i.text for i in past if i.source == "personne"] == ["Avant"]
    assert [r["number"] for r in crisis_reports(services.store, then, middle)] == [1]
    assert [r["request_id"] for r in crisis_reports(services.store, crisis)] == [None, "prefecture.35.request.1"]
    # Before the case was attached, its messages were not in the crisis's log book.
    opened = crisis_as_of(services.store, crisis.id, prefet, crisis.created_on)
    assert opened.cases == {}
    assert not [i for i in crisis_log(services.store, services.geography, opened, prefet, at=crisis.created_on)
                if i.source == "nexsis"]

    close_crisis(services.store, crisis.id, prefet, "Décrue")
    with pytest.raises(CrisisClosed):
        write_entry(services.store, crisis.id, maire, kind="information", text="Trop tard")
    with pytest.raises(CrisisClosed):
        write_report(services.store, crisis.id, maire, text="Trop tard", figures={})
    verified = v.verify_store(services.store, trusted_keys(settings.data_dir),
                              journal=journal_file(settings.data_dir, settings.schema))
    assert verified.ok, verified.summary()
