"""Alert settings on the real store and directory: a mairie's own rule and its stricter escalation reach
the policy in the store's order (a case recorded before a change is decided on the settings it was
recorded under), and the same policy restarted decides the same way."""

from __future__ import annotations

from datetime import timedelta

from psycopg.sql import SQL, Identifier

from adapters.directory.recipients import DirectoryRecipients
from adapters.notify import alert_store
from adapters.notify.alert_settings import change_settings, describe
from adapters.notify.policy import AlertPolicy
from domain.directory import operator_principal
from domain.geography import Level
from domain.identity import alert_uuid
from tests.integration.test_alert_policy import GUICHEN, report
from tests.support.directory_grants import Habilitated

MAIRIE = f"mairie.{GUICHEN}"


def test_a_mairie_escalates_sooner_and_adds_its_own_rule_from_the_next_event_on(services):
    services.ensure_directory()
    Habilitated(services).grant("maire", "maire@guichen.test", "mayor", Level.COMMUNE, GUICHEN, person="Maire")
    mayor = operator_principal(services.directory.organisation(MAIRIE), "p.test", services.geography)
    recipients = DirectoryRecipients(services.directory)
    policy = AlertPolicy(services.store, services.geography, recipients)

    report(services, 1)  # under the required rules only
    change_settings(services.store, mayor, MAIRIE, (Level.COMMUNE, GUICHEN),
                    [{"rule_id": "mairie-nouvelle-affaire", "escalate_after_minutes": 5}],
                    [{"label": "Incendies à Guichen", "families": ["incendie"]}])
    report(services, 2)  # under the mairie's settings
    policy.catch_up()

    def alert(rule: str, n: int):
        return alert_store.get_alert(services.store, alert_uuid(rule, f"affaire:fr.fire.sis35.cgo-35.DRFR15POL{n:04d}"))

    first, second = alert("mairie-nouvelle-affaire", 1), alert("mairie-nouvelle-affaire", 2)
    assert first.escalation[0]["after_seconds"] == timedelta(minutes=15).total_seconds()
    assert second.escalation[0]["after_seconds"] == timedelta(minutes=5).total_seconds()
    assert alert(f"{MAIRIE}:incendies-a-guichen", 1) is None, "the own rule did not exist yet"
    own = alert(f"{MAIRIE}:incendies-a-guichen", 2)
    assert own is not None and own.organisation_id == MAIRIE and own.reason.startswith("Incendies à Guichen")
    assert [r["name"] for r in own.recipients] == ["Maire"]

    # What the mairie reads back; a policy reading the whole history again decides nothing new.
    settings = describe(services.store, MAIRIE)
    assert settings["version"] == 2 and settings["own_rules"][0]["territory"] == f"commune:{GUICHEN}"
    [required] = [r for r in settings["required"] if r["id"] == "mairie-nouvelle-affaire"]
    assert required["escalation"][0]["after_minutes"] == 5
    # Read again from the start, the settings fold in the same order: the own rule still does not apply to
    # the case recorded before it (a new alert about case 1 would appear otherwise).
    before = len(alert_store.recent_alerts(services.store))
    with AlertPolicy(services.store, services.geography, recipients) as again:
        again.conn.execute(SQL("UPDATE {}.tocsin_alert_tracking SET position = 0").format(
            Identifier(services.settings.schema)))
        again.catch_up()
        assert again.decided == 0
    assert len(alert_store.recent_alerts(services.store)) == before


def test_the_cli_shows_how_an_organisation_is_alerted(settings):
    from tests.integration.test_cli import tocsin

    text = tocsin(settings, "alerts", "rules", "prefecture.35").stdout
    assert "requise  prefecture-deces : Décès constaté ; canaux : email" in text
    assert "mairie-nouvelle-affaire" not in text, "a mairie's rule, not the préfecture's"
