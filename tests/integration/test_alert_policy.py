"""The alert policy on the real event store: decided once per (rule, subject), at Tocsin's time, chained by
the audit trail, invisible to the case views."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.cisu import wrap_use_case
from adapters.directory.recipients import DirectoryRecipients
from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.policy import AlertPolicy, StalePosition
from domain.alert_rules import OnExercise, Rule, Target
from domain.identity import alert_uuid
from projections.store.worker import ProjectionWorker
from replay.audit import verify as v
from replay.audit.keys import trusted_keys
from replay.audit.seals import journal_file
from tests.support.directory_grants import habilitate
from tests.support.wire import as_json, example, wire

GUICHEN = "35126"  # where the official fire example is placed


def directory(services) -> tuple[DirectoryRecipients, dict[str, str]]:
    """Guichen's mayor and deputy, the Ille-et-Vilaine préfecture's duty officer, in the real directory."""
    return habilitate(services, {
        "maire": (f"mairie.{GUICHEN}", "Maire de Guichen", "maire@guichen.test"),
        "adjoint": (f"mairie.{GUICHEN}", "Adjointe", "adjointe@guichen.test"),
        "cab": ("prefecture.35", "Cadre de permanence", "cab@ille-et-vilaine.test"),
    })


def report(services, n: int, *, status: str | None = None, sent_at: str = "2026-12-07T10:21:00+01:00") -> None:
    _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    use_case["caseId"] = f"fr.fire.sis35.cgo-35.DRFR15POL{n:04d}"
    if status:
        w = wrap_use_case("createCase", use_case, distribution_id=f"fr.fire.sis35_POL{n:04d}",
                          sender_id="fr.fire.sis35.cgo-35", sent_at=sent_at, recipient_id="fr.health.samu35",
                          status=status)
    else:
        w = wire("createCase", use_case, sent_at=sent_at)
    outcome = services.ingestor.ingest(Incoming(as_json(w)))
    assert outcome.status == "accepted", outcome


def test_a_new_case_alerts_its_mairie_once_whoever_decides_and_however_often(services, settings):
    recipients, ids = directory(services)
    directory_events = v.verify_store(services.store, trusted_keys(settings.data_dir)).checked  # the grants'
    policy = AlertPolicy(services.store, services.geography, recipients)
    report(services, 1)
    report(services, 1)  # the same case reported again (a correction): no second alert
    assert policy.catch_up() == 3  # the two case events, then the alert it appended (skipped)
    [alert] = alert_store.recent_alerts(services.store)
    assert alert.id == alert_uuid("mairie-nouvelle-affaire", "affaire:fr.fire.sis35.cgo-35.DRFR15POL0001")
    assert alert.organisation_id == f"mairie.{GUICHEN}"
    assert sorted(r["person_id"] for r in alert.recipients) == sorted([ids["maire"], ids["adjoint"]])
    assert alert.reason.startswith("Nouvelle affaire dans la commune : ") and "Guichen (35)" in alert.reason
    assert alert.late and "tardif" in alert.reason  # the message is dated hours before it was recorded
    assert not alert.exercise

    # A second policy process reading the whole history again, and a rebuild of the views: nothing new.
    with AlertPolicy(services.store, services.geography, recipients, from_start=True) as again:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(SQL("UPDATE {}.tocsin_alert_tracking SET position = 0").format(Identifier(settings.schema)))
        again.catch_up()
        assert again.decided == 0
    assert len(alert_store.recent_alerts(services.store)) == 1

    # The case views ignore the alert's event; the audit chain covers it.
    with ProjectionWorker(services.store) as worker:
        worker.catch_up()
    with services.store.connect() as conn:
        n = conn.execute(SQL("SELECT count(*) AS n FROM {}").format(
            services.store.table("tocsin_view_cases"))).fetchone()
        messages = conn.execute(SQL("SELECT count(*) AS n FROM {}").format(
            services.store.table("tocsin_messages"))).fetchone()
    assert (n["n"], messages["n"]) == (1, 2)
    report_ = v.verify_store(services.store, trusted_keys(settings.data_dir),
                             journal=journal_file(settings.data_dir, settings.schema))
    assert report_.ok, report_.summary()
    assert report_.checked == directory_events + 3  # two case events and the alert


def test_exercise_messages_are_marked_or_ignored_as_the_rule_says(services):
    rules = [
        Rule("exercice-marque", "Exercice marqué", Target.MAIRIE, new_case=True),
        Rule("exercice-ignore", "Exercice ignoré", Target.PREFECTURE, new_case=True,
             on_exercise=OnExercise.IGNORE),
    ]
    policy = AlertPolicy(services.store, services.geography, directory(services)[0], rules)
    report(services, 2, status="Exercise")
    policy.catch_up()
    [alert] = alert_store.recent_alerts(services.store)
    assert (alert.rule_id, alert.exercise) == ("exercice-marque", True)
    assert alert.reason.startswith("EXERCICE — ")


def test_a_policy_started_on_a_history_begins_at_its_head(services):
    report(services, 3)
    policy = AlertPolicy(services.store, services.geography, directory(services)[0])
    assert policy.catch_up() == 0
    report(services, 4)
    assert policy.catch_up() == 2  # the new case's event, then its alert
    assert [a.case_id for a in alert_store.recent_alerts(services.store)] == ["fr.fire.sis35.cgo-35.DRFR15POL0004"]


def test_more_than_n_cases_in_an_hour_alerts_the_prefecture_once(services):
    rule = Rule("affluence", "Affluence", Target.PREFECTURE, new_case=True, more_than_cases_per_hour=2)
    recipients, ids = directory(services)
    policy = AlertPolicy(services.store, services.geography, recipients, [rule], page=2)
    for n in range(10, 15):
        report(services, n)
    policy.catch_up()  # pages of two: the count survives from one transaction to the next
    [alert] = alert_store.recent_alerts(services.store)
    assert alert.organisation_id == "prefecture.35" and alert.subject.startswith("departement:35@")
    assert [r["person_id"] for r in alert.recipients] == [ids["cab"]]


def test_decisions_commit_with_the_policy_position_or_not_at_all(services):
    policy = AlertPolicy(services.store, services.geography, directory(services)[0])
    report(services, 20)
    position = policy.stored_position()
    rows = policy._read(position)
    decisions, windows = policy._decide(policy.decoder.decode(rows), position)
    assert decisions
    with pytest.raises(StalePosition):  # another process moved the position meanwhile
        policy._record(decisions, windows, position - 1, int(rows[-1][0]))
    assert alert_store.recent_alerts(services.store) == [] and policy.stored_position() == position
    policy.catch_up()
    assert len(alert_store.recent_alerts(services.store)) == 1


def test_a_case_bundle_still_verifies_with_alerts_in_the_chain_and_a_bundle_of_the_alert_too(services, settings,
                                                                                               tmp_path):
    from domain.identity import case_uuid
    from replay.audit.bundle import export_bundle
    from replay.audit.bundle_check import verify_bundle

    policy = AlertPolicy(services.store, services.geography, directory(services)[0])
    report(services, 30)
    policy.catch_up()
    report(services, 31)  # a case event after the alert's, so the alert's link sits inside the chain
    policy.catch_up()
    case_id = "fr.fire.sis35.cgo-35.DRFR15POL0031"
    case_bundle = tmp_path / "affaire.zip"
    export_bundle(services.store, settings.data_dir, case_bundle, [case_uuid(case_id)], {"case_id": case_id})
    assert verify_bundle(case_bundle).ok, verify_bundle(case_bundle).problems
    alerts = alert_store.recent_alerts(services.store)
    assert len(alerts) == 2
    alert_bundle = tmp_path / "alerte.zip"
    export_bundle(services.store, settings.data_dir, alert_bundle, [a.id for a in alerts], {"alerts": 2})
    checked = verify_bundle(alert_bundle)
    assert checked.ok, checked.problems
