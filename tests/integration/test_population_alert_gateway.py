"""Alerts to the population published to a real HTTP gateway on 127.0.0.1: what it receives is CAP 1.2,
valid against the OASIS schema; a gateway that is down gives a failed event with its reason, and the same
message is published once it is back; without a gateway nothing is ever reported published."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree

from adapters.cap import schema
from adapters.cap.gateway import NO_GATEWAY, gateway_for
from adapters.crisis import population_alerts as use_cases
from adapters.notify import alert_store
from domain.access import ROLES, Principal
from domain.geography import Level
from domain.population_alert import CANCELLED, FAILED, PUBLISHED, SENT, TO_APPROVE, TO_PUBLISH
from tests.support.cap_gateway import cap_gateway  # noqa: F401  (fixture)
from tests.support.directory_grants import habilitate

GUICHEN = "35126"
NS = {"cap": schema.CAP_NS}
CONTENT = {"event": "Inondation", "headline": "Crue de la Vilaine à Guichen",
           "description": "La Vilaine déborde dans le bourg.",
           "instruction": "Montez à l'étage, ne prenez pas la route.",
           "category": "Met", "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
           "response_type": "Shelter"}


def who(services, role: str, territory: str, subject: str) -> Principal:
    level, code = territory.split(":")
    return Principal(subject=subject, role=ROLES[role], level=Level(level), code=code, geography=services.geography,
                     name=subject)


@pytest.fixture
def actors(services):
    recipients, _ = habilitate(services, {"cab": ("prefecture.35", "Cadre de permanence", "cab@ille-et-vilaine.test")})
    return (recipients, who(services, "mayor", f"commune:{GUICHEN}", "maire"),
            who(services, "prefecture", "departement:35", "prefet"))


def test_approved_it_reaches_the_gateway_as_valid_cap_then_updates_and_cancels_reference_it(
        services, actors, cap_gateway):  # noqa: F811
    recipients, maire, prefet = actors
    services.settings = replace(services.settings, cap_gateway_url=cap_gateway.url)
    gateway = gateway_for(services.settings)
    alert = use_cases.draft(services.store, services.geography, recipients, maire, insee=GUICHEN, content=CONTENT)
    assert alert.state == TO_APPROVE
    [asked] = [a for a in alert_store.recent_alerts(services.store) if a.rule_id == use_cases.RULE]
    assert asked.organisation_id == "prefecture.35" and [r["name"] for r in asked.recipients] == ["Cadre de permanence"]

    alert = use_cases.approve(services.store, services.settings, services.geography, gateway, prefet, str(alert.id))
    assert alert.state == PUBLISHED
    [received] = cap_gateway.received
    assert received.headers["Content-Type"].startswith("application/cap+xml")
    assert schema.errors(received.body) == []
    root = etree.fromstring(received.body)
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert root.findtext("cap:info/cap:headline", namespaces=NS) == CONTENT["headline"]
    assert root.findtext("cap:info/cap:area/cap:geocode/cap:value", namespaces=NS) == GUICHEN
    polygon = (root.findtext("cap:info/cap:area/cap:polygon", namespaces=NS) or "").split()
    assert len(polygon) >= 4 and polygon[0] == polygon[-1]
    first = alert.messages[0]

    alert = use_cases.update(services.store, recipients, maire, str(alert.id),
                             {**CONTENT, "headline": "Crue : la Vilaine baisse", "severity": "Moderate"})
    assert alert.state == TO_APPROVE  # a new version is decided again, and the préfecture asked again
    assert len([a for a in alert_store.recent_alerts(services.store) if a.rule_id == use_cases.RULE]) == 2
    alert = use_cases.approve(services.store, services.settings, services.geography, gateway, prefet, str(alert.id))
    update = etree.fromstring(cap_gateway.received[1].body)
    assert update.findtext("cap:msgType", namespaces=NS) == "Update"
    expected = f"{first['sender']},{first['identifier']},{first['sent']}"
    assert update.findtext("cap:references", namespaces=NS) == expected

    alert = use_cases.cancel(services.store, services.settings, services.geography, gateway, maire, str(alert.id),
                             "Décrue confirmée")
    assert alert.state == CANCELLED
    cancel = etree.fromstring(cap_gateway.received[2].body)
    assert cancel.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert len((cancel.findtext("cap:references", namespaces=NS) or "").split()) == 2
    identifiers = [etree.fromstring(r.body).findtext("cap:identifier", namespaces=NS) for r in cap_gateway.received]
    assert len(set(identifiers)) == 3

    # Read back from the store: every act is an event, with who.
    stored = use_cases.find(services.store, str(alert.id), None)
    acts = [(h["act"], (h["by"] or {}).get("person_id")) for h in use_cases.history(services.store, stored)]
    assert acts == [("Drafted", "maire"), ("Approved", "prefet"), ("Published", None), ("UpdateDrafted", "maire"),
                    ("Approved", "prefet"), ("Published", None), ("Cancelled", "maire"), ("Published", None)]


def test_a_gateway_down_gives_a_failed_event_with_its_reason_and_the_same_message_goes_once_back(
        services, actors, cap_gateway):  # noqa: F811
    recipients, maire, prefet = actors
    services.settings = replace(services.settings, cap_gateway_url=cap_gateway.url)
    gateway = gateway_for(services.settings)
    alert = use_cases.draft(services.store, services.geography, recipients, maire, insee=GUICHEN, content=CONTENT)
    cap_gateway.stop()
    alert = use_cases.approve(services.store, services.settings, services.geography, gateway, prefet, str(alert.id))
    assert alert.state == TO_PUBLISH
    [attempt] = alert.messages[0]["attempts"]
    assert attempt["outcome"] == FAILED and "injoignable" in attempt["reason"]

    cap_gateway.start()
    cap_gateway.status = 503
    alert = use_cases.publish_again(services.store, gateway, prefet, str(alert.id))
    assert alert.state == TO_PUBLISH and alert.messages[0]["attempts"][-1]["reason"].endswith("(HTTP 503)")
    cap_gateway.status = 202
    alert = use_cases.publish_again(services.store, gateway, prefet, str(alert.id))
    assert alert.state == PUBLISHED and alert.messages[0]["status"] == SENT
    assert len(cap_gateway.received) == 2 and cap_gateway.received[0].body == cap_gateway.received[1].body


def test_without_a_gateway_tocsin_says_so_and_never_reports_published(services, actors):
    recipients, maire, prefet = actors
    assert services.settings.cap_gateway_url is None and gateway_for(services.settings) is None
    alert = use_cases.draft(services.store, services.geography, recipients, maire, insee=GUICHEN, content=CONTENT)
    alert = use_cases.approve(services.store, services.settings, services.geography, None, prefet, str(alert.id))
    assert alert.state == TO_PUBLISH
    assert [a["reason"] for a in alert.messages[0]["attempts"]] == [NO_GATEWAY]
    alert = use_cases.publish_again(services.store, None, prefet, str(alert.id))
    assert alert.state == TO_PUBLISH and not any(a["outcome"] == SENT for a in alert.messages[0]["attempts"])
    # The prepared message is valid CAP all the same, ready for when a gateway exists.
    assert schema.errors(alert.messages[0]["xml"].encode()) == []


def test_the_acts_are_chained_by_the_audit_trail_like_every_event(services, settings, actors):
    from replay.audit import verify as v
    from replay.audit.chain import seal
    from replay.audit.keys import load_signing_key, trusted_keys
    from replay.audit.seals import journal_file

    recipients, maire, prefet = actors
    directory_events = v.verify_store(services.store, trusted_keys(settings.data_dir)).checked  # the grants'
    alert = use_cases.draft(services.store, services.geography, recipients, maire, insee=GUICHEN, content=CONTENT)
    use_cases.refuse(services.store, prefet, str(alert.id), "Déjà couvert par la vigilance")
    assert seal(services.store, load_signing_key(settings.data_dir), settings.data_dir) is not None
    report = v.verify_store(services.store, trusted_keys(settings.data_dir),
                            journal=journal_file(settings.data_dir, settings.schema))
    assert report.ok, report.summary()
    assert report.checked == directory_events + 3  # drafted, the préfecture's Alert, refused


def test_the_gateways_credentials_go_to_the_gateway_and_nowhere_else(services, actors, cap_gateway):  # noqa: F811
    recipients, maire, prefet = actors
    services.settings = replace(services.settings,
                                cap_gateway_url=cap_gateway.url.replace("http://", "http://jeton-secret@"))
    gateway = gateway_for(services.settings)
    assert gateway is not None and "jeton-secret" not in gateway.describe()
    alert = use_cases.draft(services.store, services.geography, recipients, maire, insee=GUICHEN, content=CONTENT)
    alert = use_cases.approve(services.store, services.settings, services.geography, gateway, prefet, str(alert.id))
    assert cap_gateway.received[0].headers["Authorization"] == "Bearer jeton-secret"
    assert "jeton-secret" not in str(use_cases.summary(alert)) + str(use_cases.history(services.store, alert))
    with pytest.raises(ValueError, match="URL http"):
        gateway_for(replace(services.settings, cap_gateway_url="ftp://passerelle"))
