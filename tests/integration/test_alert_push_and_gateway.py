"""Web Push to a real push endpoint that checks VAPID and whose payload a browser's keys decrypt, to the
subscriptions people registered in the directory; SMS and voice through the HTTP gateway adapter, to the
directory's telephones; never "sent" where no channel or no address exists."""

from __future__ import annotations

import json
from dataclasses import replace

from adapters.alerting import channels_for
from adapters.directory import push_subscriptions, use_cases
from adapters.directory.recipients import DirectoryRecipients
from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.dispatch import Dispatcher, channels_from
from adapters.notify.policy import AlertPolicy
from adapters.notify.tokens import read_token
from adapters.settings import resolved_alert_token_key
from domain.alert import FAILED, PUSH, SENT, SMS, VOICE
from domain.alert_rules import Rule, Target
from tests.support.push_service import Browser, http_sink, vapid_claims  # noqa: F401  (fixture)
from tests.support.wire import as_json, example, wire

GUICHEN = "35126"
MAIRIE = f"mairie.{GUICHEN}"


def person(services, name: str, email: str, phones=(), push: dict | None = None) -> str:
    """A person habilitated in Guichen's mairie (their directory id), with a browser's subscription."""
    person_id = use_cases.grant(services, None, organisation_id=MAIRIE, email=email, name=name,
                                position="Adjoint au maire", phones=phones).person_id
    if push is not None:
        push_subscriptions.subscribe(services, None, person_id=person_id, endpoint=push["endpoint"], keys=push["keys"])
    return person_id


def raise_alert(services, recipients, channels) -> None:
    rule = Rule("essai", "Nouvelle affaire dans la commune", Target.MAIRIE, new_case=True, channels=channels)
    with AlertPolicy(services.store, services.geography, recipients, [rule]) as policy:
        _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
        use_case["caseId"] = "fr.fire.sis35.cgo-35.DRFR15PUSH0001"
        services.ingestor.ingest(Incoming(as_json(wire("createCase", use_case))))
        policy.catch_up()


def deliveries(services) -> dict:
    [alert] = alert_store.recent_alerts(services.store)
    return {(d["person_id"], d["channel"]): d for d in alert.deliveries.values()}


def test_a_push_reaches_the_browser_signed_and_encrypted_for_it_alone(services, http_sink):  # noqa: F811
    services.settings = replace(services.settings, vapid_subject="mailto:astreinte@tocsin.example.fr",
                                public_url="https://tocsin.example.fr")
    browser = Browser(f"{http_sink.url}/push/abonnement-1")
    maire = person(services, "Maire de Guichen", "maire@guichen.test", push=browser.subscription)
    sans = person(services, "Sans abonnement", "sans@guichen.test")
    recipients = DirectoryRecipients(services.directory)
    raise_alert(services, recipients, (PUSH,))
    with Dispatcher(services.store, recipients, channels_from(services.settings)) as dispatcher:
        dispatcher.step()
    [received] = http_sink.received
    assert received.path == "/push/abonnement-1"
    assert received.headers["content-encoding"] == "aes128gcm" and received.headers["ttl"] == "3600"
    claims = vapid_claims(received, audience=http_sink.url)
    assert claims["sub"] == "mailto:astreinte@tocsin.example.fr"
    assert b"Guichen" not in received.body  # the push service relays bytes it cannot read
    payload = json.loads(browser.read(received))
    assert payload["title"] == "Alerte Tocsin" and "Guichen (35)" in payload["body"]
    token = payload["url"].removeprefix("https://tocsin.example.fr/acquittement/")
    assert read_token(resolved_alert_token_key(services.settings), token).person_id == maire
    d = deliveries(services)
    assert d[(maire, PUSH)]["status"] == SENT
    assert d[(sans, PUSH)]["status"] == FAILED
    assert d[(sans, PUSH)]["reason"] == "aucun abonnement aux notifications push pour cette personne"


def test_an_expired_subscription_is_a_final_failure(services, http_sink):  # noqa: F811
    services.settings = replace(services.settings, vapid_subject="mailto:astreinte@tocsin.example.fr")
    http_sink.statuses = [410]
    maire = person(services, "Maire", "maire@guichen.test", push=Browser(f"{http_sink.url}/p").subscription)
    recipients = DirectoryRecipients(services.directory)
    raise_alert(services, recipients, (PUSH,))
    with Dispatcher(services.store, recipients, channels_for(services)) as dispatcher:
        dispatcher.step()
        assert dispatcher.step() == 0
    d = deliveries(services)[(maire, PUSH)]
    assert d["status"] == FAILED and d["reason"] == "service de notification push : abonnement expiré (410)"
    assert services.directory.push_subscriptions(maire) == []  # forgotten: the next alert will not try it


def test_sms_and_voice_go_through_the_gateway_and_a_refusal_is_retried(services, http_sink):  # noqa: F811
    services.settings = replace(services.settings, sms_url=f"http://jeton-secret@{http_sink.url[7:]}/sms",
                                voice_url=f"http://{http_sink.url[7:]}/voix")
    http_sink.statuses_by_path["/sms"] = [503]  # the SMS is refused for now (sends run in parallel)
    maire = person(services, "Maire", "maire@guichen.test", phones=["+33600000001"])
    recipients = DirectoryRecipients(services.directory)
    raise_alert(services, recipients, (SMS, VOICE))
    from datetime import UTC, datetime, timedelta

    later = [datetime.now(UTC)]
    with Dispatcher(services.store, recipients, channels_from(services.settings), now=lambda: later[0]) as dispatcher:
        dispatcher.step()
        d = deliveries(services)
        assert d[(maire, SMS)]["status"] == "en attente" and d[(maire, SMS)]["reason"] == (
            "passerelle SMS : refus (503)")
        assert d[(maire, VOICE)]["status"] == SENT
        later[0] += timedelta(seconds=10)
        dispatcher.step()
    assert deliveries(services)[(maire, SMS)]["status"] == SENT
    sms = [r for r in http_sink.received if r.path == "/sms"]
    assert len(sms) == 2 and sms[-1].headers["authorization"] == "Bearer jeton-secret"
    body = json.loads(sms[-1].body)
    assert body["to"] == "+33600000001" and body["text"].startswith("Tocsin : Nouvelle affaire dans la commune")


def test_without_a_gateway_sms_is_never_counted_as_delivered(services):
    maire = person(services, "Maire", "maire@guichen.test", phones=["+33600000001"])
    recipients = DirectoryRecipients(services.directory)
    raise_alert(services, recipients, (SMS, VOICE, PUSH))
    with Dispatcher(services.store, recipients, channels_from(services.settings)) as dispatcher:
        dispatcher.step()
    d = deliveries(services)
    assert {x["status"] for x in d.values()} == {FAILED}
    assert d[(maire, VOICE)]["reason"] == "canal appel vocal non configuré sur ce Tocsin : rien n'a été envoyé"
    assert d[(maire, PUSH)]["reason"] == (
        "canal notification push non configuré sur ce Tocsin : rien n'a été envoyé")
