"""Escalation tiers and on-duty schedules, on the real directory: timers derived from the alert's events,
so they survive a restart and fire once; the person on duty is reached first, the rest of the
organisation only after the delay, then the préfecture."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.directory import on_duty, use_cases
from adapters.directory.recipients import DirectoryRecipients
from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.dispatch import Dispatcher, channels_from
from adapters.notify.policy import AlertPolicy
from adapters.notify.use_cases import acknowledge
from tests.support.clock import Clock
from tests.support.smtp import smtp_server  # noqa: F401  (fixture)
from tests.support.wire import as_json, example, wire

GUICHEN = "35126"
MAIRIE = f"mairie.{GUICHEN}"
MAIRE, ADJOINTE, CAB = "maire@guichen.test", "adjointe@guichen.test", "cab@ille-et-vilaine.test"


def directory(services, duty: bool = False) -> tuple[DirectoryRecipients, dict[str, str]]:
    """Guichen's mayor and deputy mayor, the Ille-et-Vilaine préfecture's duty officer; with `duty`, the
    deputy on duty from an hour ago for twelve hours."""
    ids = {
        "maire": use_cases.grant(services, None, organisation_id=MAIRIE, email=MAIRE, name="Maire de Guichen",
                                 position="Maire").person_id,
        "adjointe": use_cases.grant(services, None, organisation_id=MAIRIE, email=ADJOINTE,
                                    name="Adjointe d'astreinte", position="Adjointe au maire").person_id,
        "cab": use_cases.grant(services, None, organisation_id="prefecture.35", email=CAB, name="Cadre de permanence",
                               position="Directeur de cabinet").person_id,
    }
    if duty:
        now = datetime.now(UTC)
        on_duty.set_period(services, None, MAIRIE, person=ADJOINTE, start=now - timedelta(hours=1),
                           end=now + timedelta(hours=12))
    return DirectoryRecipients(services.directory), ids


@pytest.fixture
def mailer(services, smtp_server):  # noqa: F811
    services.settings = replace(services.settings, smtp_url=smtp_server.url)
    return services


def raise_alert(services, recipients) -> None:
    with AlertPolicy(services.store, services.geography, recipients) as policy:
        _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
        use_case["caseId"] = "fr.fire.sis35.cgo-35.DRFR15ESC0001"
        services.ingestor.ingest(Incoming(as_json(wire("createCase", use_case))))
        policy.catch_up()


def test_nobody_acknowledging_within_the_delay_alerts_the_next_tier_once_even_across_a_restart(mailer, smtp_server):  # noqa: F811
    recipients, ids = directory(mailer)
    raise_alert(mailer, recipients)
    clock = Clock()
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock) as dispatcher:
        dispatcher.step()
        assert smtp_server.mailbox.to(CAB) == [] and len(smtp_server.mailbox.received) == 2
        clock.at += timedelta(minutes=14)
        dispatcher.step()
        assert smtp_server.mailbox.to(CAB) == []
        clock.at += timedelta(minutes=2)
        assert dispatcher.step() == 1
        assert len(smtp_server.mailbox.to(CAB)) == 1
        assert dispatcher.step() == 0
    clock.at += timedelta(minutes=30)
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock) as restarted:
        assert restarted.step() == 0
    [alert] = alert_store.recent_alerts(mailer.store)
    [escalation] = alert.escalations
    assert (escalation["tier"], escalation["organisation_id"]) == (1, "prefecture.35")
    assert escalation["reason"] == "aucun accusé de réception en 15 min : alerte étendue à prefecture.35"
    assert sorted(r["person_id"] for r in alert.recipients[:2]) == sorted([ids["maire"], ids["adjointe"]])
    assert alert.recipients[2]["person_id"] == ids["cab"]
    assert not any(r["on_duty"] for r in alert.recipients)  # no schedule: everyone, nobody marked on duty
    assert len(smtp_server.mailbox.received) == 3


def test_an_acknowledgement_in_time_stops_the_escalation(mailer, smtp_server):  # noqa: F811
    recipients, ids = directory(mailer)
    raise_alert(mailer, recipients)
    clock = Clock()
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock) as dispatcher:
        dispatcher.step()
        [alert] = alert_store.recent_alerts(mailer.store)
        acknowledge(mailer.store, alert, person_id=ids["maire"], name="Maire de Guichen", grant_id="hab",
                    channel="test")
        clock.at += timedelta(hours=1)
        dispatcher.step()
        assert not dispatcher.open
    [alert] = alert_store.recent_alerts(mailer.store)
    assert alert.escalations == [] and smtp_server.mailbox.to(CAB) == []


def test_the_person_on_duty_is_reached_first_the_mairie_after_the_delay_then_the_prefecture(mailer, smtp_server):  # noqa: F811
    recipients, ids = directory(mailer, duty=True)
    raise_alert(mailer, recipients)
    [alert] = alert_store.recent_alerts(mailer.store)
    assert [(r["person_id"], r["on_duty"]) for r in alert.recipients] == [(ids["adjointe"], True)]
    clock = Clock()
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock) as dispatcher:
        assert dispatcher.step() == 1
        assert [m["To"] for m in smtp_server.mailbox.received] == [ADJOINTE]
        clock.at += timedelta(minutes=14)
        assert dispatcher.step() == 0  # the mayor is not disturbed while the person on duty may still answer
        clock.at += timedelta(minutes=2)
        assert dispatcher.step() == 1
        assert len(smtp_server.mailbox.to(MAIRE)) == 1 and smtp_server.mailbox.to(CAB) == []
        assert len(smtp_server.mailbox.to(ADJOINTE)) == 1  # never twice
        clock.at += timedelta(minutes=13)
        assert dispatcher.step() == 0  # the mairie has its own 15 minutes
        clock.at += timedelta(minutes=2)
        assert dispatcher.step() == 1
        assert len(smtp_server.mailbox.to(CAB)) == 1
    [alert] = alert_store.recent_alerts(mailer.store)
    assert [(e["tier"], e["organisation_id"]) for e in alert.escalations] == [(1, MAIRIE), (2, "prefecture.35")]
    assert alert.escalations[0]["reason"] == (
        f"aucun accusé de réception de l'astreinte en 15 min : alerte étendue à tout {MAIRIE}")
    assert [r["person_id"] for r in alert.recipients] == [ids["adjointe"], ids["maire"], ids["cab"]]


def test_outside_the_schedule_everyone_habilitated_is_reached(mailer):
    recipients, ids = directory(mailer, duty=True)
    later = datetime.now(UTC) + timedelta(days=1)
    assert {c.person_id for c in recipients.people_to_reach(MAIRIE, later)} == {ids["maire"], ids["adjointe"]}
    assert not any(c.on_duty for c in recipients.people_to_reach(MAIRIE, later))


def test_a_person_on_duty_whose_habilitation_was_revoked_leaves_everyone_to_be_reached(mailer):
    recipients, ids = directory(mailer, duty=True)
    now = datetime.now(UTC)
    assert [c.person_id for c in recipients.people_to_reach(MAIRIE, now)] == [ids["adjointe"]]
    [member] = [m for m in mailer.directory.members([MAIRIE]) if m.person_id == ids["adjointe"]]
    use_cases.revoke(mailer, None, member.grant_id)
    assert {c.person_id for c in recipients.people_to_reach(MAIRIE, now)} == {ids["maire"]}


def test_an_alert_that_reached_nobody_says_so_once_and_stops_saying_it_when_the_prefecture_is_reached(
        mailer, smtp_server):  # noqa: F811
    # Nobody habilitated in Guichen's mairie: the alert reaches nobody, and says so at once.
    cab = use_cases.grant(mailer, None, organisation_id="prefecture.35", email=CAB, name="Cadre de permanence",
                          position="Directeur de cabinet").person_id
    recipients = DirectoryRecipients(mailer.directory)
    raise_alert(mailer, recipients)
    clock = Clock()
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock) as dispatcher:
        assert dispatcher.step() == 0
        [alert] = alert_store.recent_alerts(mailer.store)
        assert alert.unreached is not None and alert.unreached["reason"] == (
            "personne à joindre : aucune personne habilitée dans l'annuaire pour l'organisation alertée")
        dispatcher.step()
        events = [type(e).__name__ for e in mailer.store.events.get(alert.id)]
        assert events.count("ReachedNobody") == 1  # said once, not at every step
        clock.at += timedelta(minutes=16)
        assert dispatcher.step() == 1  # the préfecture's tier
    [alert] = alert_store.recent_alerts(mailer.store)
    assert alert.unreached is None and alert.summary()["unreached"] is None
    assert [r["person_id"] for r in alert.recipients] == [cab] and len(smtp_server.mailbox.to(CAB)) == 1


def test_an_alert_whose_every_delivery_failed_reached_nobody(services):
    # No SMTP server configured here: the mayor's email cannot go out.
    use_cases.grant(services, None, organisation_id=MAIRIE, email=MAIRE, name="Maire de Guichen", position="Maire")
    recipients = DirectoryRecipients(services.directory)
    raise_alert(services, recipients)
    with Dispatcher(services.store, recipients, channels_from(services.settings)) as dispatcher:
        dispatcher.step()
    [alert] = alert_store.recent_alerts(services.store)
    assert alert.summary()["unreached"]["reason"] == (
        "aucune personne jointe : canal courriel non configuré sur ce Tocsin : rien n'a été envoyé")
