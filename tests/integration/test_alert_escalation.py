"""Escalation tiers and on-duty schedules: timers derived from the alert's events, so they survive a
restart and fire once; the person on duty is reached first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.dispatch import Dispatcher, channels_from
from adapters.notify.policy import AlertPolicy
from adapters.notify.use_cases import acknowledge
from tests.support.clock import Clock
from tests.support.recipients import DirectoryRecipients, Duty
from tests.support.smtp import smtp_server  # noqa: F401  (fixture)
from tests.support.wire import as_json, example, wire

GUICHEN = "35126"
MAIRE, ADJOINTE, CAB = "maire@guichen.test", "adjointe@guichen.test", "cab@ille-et-vilaine.test"


def directory(duties: bool = False) -> DirectoryRecipients:
    d = DirectoryRecipients()
    d.add(f"mairie.{GUICHEN}", "p.maire", "Maire de Guichen", MAIRE)
    d.add(f"mairie.{GUICHEN}", "p.adjoint", "Adjointe d'astreinte", ADJOINTE)
    d.add("prefecture.35", "p.cab", "Cadre de permanence", CAB)
    if duties:
        now = datetime.now(UTC)
        d.duties[f"mairie.{GUICHEN}"] = [Duty("p.adjoint", now - timedelta(hours=1), now + timedelta(hours=12))]
    return d


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
    recipients = directory()
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
    assert [r["person_id"] for r in alert.recipients] == ["p.maire", "p.adjoint", "p.cab"]
    assert len(smtp_server.mailbox.received) == 3


def test_an_acknowledgement_in_time_stops_the_escalation(mailer, smtp_server):  # noqa: F811
    recipients = directory()
    raise_alert(mailer, recipients)
    clock = Clock()
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock) as dispatcher:
        dispatcher.step()
        [alert] = alert_store.recent_alerts(mailer.store)
        acknowledge(mailer.store, alert, person_id="p.maire", name="Maire de Guichen", grant_id="hab", channel="test")
        clock.at += timedelta(hours=1)
        dispatcher.step()
        assert not dispatcher.open
    [alert] = alert_store.recent_alerts(mailer.store)
    assert alert.escalations == [] and smtp_server.mailbox.to(CAB) == []


def test_the_person_on_duty_is_reached_first_and_everyone_without_a_schedule(mailer, smtp_server):  # noqa: F811
    raise_alert(mailer, directory(duties=True))
    [alert] = alert_store.recent_alerts(mailer.store)
    assert [(r["person_id"], r["on_duty"]) for r in alert.recipients] == [("p.adjoint", True)]
    recipients = directory(duties=True)
    later = datetime.now(UTC) + timedelta(days=1)  # outside the schedule: everyone habilitated
    assert [c.person_id for c in recipients.people_to_reach(f"mairie.{GUICHEN}", later)] == ["p.maire", "p.adjoint"]
