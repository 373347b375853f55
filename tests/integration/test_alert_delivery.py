"""Delivery by email to a real SMTP server (aiosmtpd on 127.0.0.1): every attempt an event, retried with
back-off, never twice, never "sent" on a channel that does not exist."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.directory.recipients import DirectoryRecipients
from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.dispatch import IN_DOUBT, Dispatcher, channels_from
from adapters.notify.policy import AlertPolicy
from adapters.notify.tokens import read_token
from adapters.settings import resolved_alert_token_key
from domain.alert import FAILED, SENT, SMS
from domain.alert_rules import Rule, Target
from tests.support.clock import Clock
from tests.support.directory_grants import habilitate
from tests.support.smtp import smtp_server, starttls_server  # noqa: F401  (fixtures)
from tests.support.wire import as_json, example, wire

GUICHEN = "35126"
MAIRE, ADJOINTE = "maire@guichen.test", "adjointe@guichen.test"


def directory(services) -> tuple[DirectoryRecipients, dict[str, str]]:
    """Guichen's mayor and deputy in the real directory (granting again records nothing)."""
    return habilitate(services, {"maire": (f"mairie.{GUICHEN}", "Maire de Guichen", MAIRE),
                                 "adjoint": (f"mairie.{GUICHEN}", "Adjointe", ADJOINTE)})


@pytest.fixture
def mailer(services, smtp_server):  # noqa: F811
    settings = replace(services.settings, smtp_url=smtp_server.url, public_url="https://tocsin.example.fr")
    services.settings = settings
    return services


def raise_alert(services, rules=None, n: int = 1) -> tuple[DirectoryRecipients, dict[str, str]]:
    recipients, ids = directory(services)
    policy = AlertPolicy(services.store, services.geography, recipients, *([rules] if rules else []))
    _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    use_case["caseId"] = f"fr.fire.sis35.cgo-35.DRFR15MAIL{n:04d}"
    services.ingestor.ingest(Incoming(as_json(wire("createCase", use_case, sent_at="2024-08-13T10:21:00+02:00"))))
    policy.catch_up()
    policy.close()
    return recipients, ids


def deliveries(services) -> dict[tuple[str, str], dict]:
    [alert] = alert_store.recent_alerts(services.store)
    return {(d["person_id"], d["channel"]): d for d in alert.deliveries.values()}


def test_the_mairie_receives_a_french_email_once_with_the_case_link_and_an_acknowledgement_link(mailer, smtp_server):  # noqa: F811
    recipients, ids = raise_alert(mailer)
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings)) as dispatcher:
        assert dispatcher.step() == 2
        assert dispatcher.step() == 0  # nothing due: nothing sent again
    [mail] = smtp_server.mailbox.to(MAIRE)
    assert len(smtp_server.mailbox.to(ADJOINTE)) == 1 and len(smtp_server.mailbox.received) == 2
    assert mail["Subject"].startswith("[Tocsin] Information : ")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Où : Guichen (35)" in text
    assert "Quand : 13/08/2024 à 10:21 (Europe/Paris)" in text  # the message's time, in the territory's zone
    assert "Voir sur le tableau de bord : https://tocsin.example.fr/#/commune/35126" in text
    assert "tardif" in text
    assert '<html lang="fr">' in html and "Accuser réception" in html
    token = text.split("https://tocsin.example.fr/acquittement/")[1].split()[0]
    ack = read_token(resolved_alert_token_key(mailer.settings), token)
    assert ack.person_id == ids["maire"]
    d = deliveries(mailer)
    assert d[(ids["maire"], "email")]["status"] == SENT and d[(ids["maire"], "email")]["attempts"] == 1
    # The directory requires everyone's email; a contact without one would be refused before any attempt
    # (the dispatcher's record of such a refusal: test_alert_push_and_gateway, without a push subscription).
    contact = recipients.contact(ids["adjoint"])
    assert contact is not None
    no_address = replace(contact, email=None)
    assert channels_from(mailer.settings)["email"].unreachable(no_address) == (
        "aucune adresse électronique dans l'annuaire pour cette personne")
    [alert] = alert_store.recent_alerts(mailer.store)
    kinds = [type(e).__name__ for e in mailer.store.repository.get(alert.id).collect_events()] or None
    assert kinds is None  # a fresh read has nothing pending
    events = [type(e).__name__ for e in mailer.store.events.get(alert.id)]
    assert events.count("DeliveryAttempted") == 2 and events.count("DeliverySent") == 2
    assert events.count("DeliveryFailed") == 0


def test_a_temporary_refusal_is_retried_after_a_back_off_and_a_permanent_one_is_final(mailer, smtp_server):  # noqa: F811
    smtp_server.mailbox.refuse[MAIRE] = ["451 4.3.0 Réessayez plus tard"]
    smtp_server.mailbox.refuse[ADJOINTE] = ["550 5.1.1 Boîte inconnue"]
    recipients, ids = raise_alert(mailer)
    clock = Clock()
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings), now=clock) as dispatcher:
        dispatcher.step()
        d = deliveries(mailer)
        assert d[(ids["maire"], "email")]["status"] == "en attente" and d[(ids["maire"], "email")]["retry_at"]
        assert "451" in d[(ids["maire"], "email")]["reason"]
        assert d[(ids["adjoint"], "email")]["status"] == FAILED and "550" in d[(ids["adjoint"], "email")]["reason"]
        assert dispatcher.step() == 0  # not yet due
        clock.at += timedelta(seconds=6)
        assert dispatcher.step() == 1
    d = deliveries(mailer)
    assert d[(ids["maire"], "email")]["status"] == SENT and d[(ids["maire"], "email")]["attempts"] == 2
    assert len(smtp_server.mailbox.to(MAIRE)) == 1 and smtp_server.mailbox.to(ADJOINTE) == []


def test_an_attempt_interrupted_before_its_outcome_is_not_sent_again(mailer, smtp_server):  # noqa: F811
    recipients, ids = raise_alert(mailer)
    [alert] = alert_store.recent_alerts(mailer.store)
    alert.attempt(ids["maire"], "email", 1, "<ref>")  # recorded, then the process died
    mailer.store.save(alert)
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings)) as dispatcher:
        dispatcher.step()
    d = deliveries(mailer)
    assert d[(ids["maire"], "email")]["status"] == FAILED and d[(ids["maire"], "email")]["reason"] == IN_DOUBT
    assert smtp_server.mailbox.to(MAIRE) == [] and len(smtp_server.mailbox.to(ADJOINTE)) == 1


def test_a_channel_that_does_not_exist_here_is_a_failure_never_a_delivery(services):
    rule = Rule("sms", "Nouvelle affaire (SMS)", Target.MAIRIE, new_case=True, channels=(SMS,))
    recipients, ids = raise_alert(services, [rule])
    with Dispatcher(services.store, recipients, channels_from(services.settings)) as dispatcher:
        dispatcher.step()
    d = deliveries(services)
    assert {x["status"] for x in d.values()} == {FAILED}
    assert d[(ids["maire"], SMS)]["reason"] == "canal SMS non configuré sur ce Tocsin : rien n'a été envoyé"


def test_starttls_is_used_when_offered_and_the_login_only_goes_over_it(services, starttls_server):  # noqa: F811
    server, cert_file = starttls_server
    services.settings = replace(services.settings, smtp_url=f"smtp://tocsin:secret@127.0.0.1:{server.port}",
                                smtp_ca_file=cert_file)
    recipients, ids = raise_alert(services)
    with Dispatcher(services.store, recipients, channels_from(services.settings)) as dispatcher:
        dispatcher.step()
    assert len(server.mailbox.to(MAIRE)) == 1
    assert deliveries(services)[(ids["maire"], "email")]["status"] == SENT


def test_an_untrusted_certificate_is_a_failure_to_retry_not_a_clear_text_send(services, starttls_server):  # noqa: F811
    server, _ = starttls_server
    services.settings = replace(services.settings, smtp_url=f"smtp://tocsin:secret@127.0.0.1:{server.port}")
    recipients, ids = raise_alert(services)
    with Dispatcher(services.store, recipients, channels_from(services.settings)) as dispatcher:
        dispatcher.step()
    d = deliveries(services)[(ids["maire"], "email")]
    assert d["status"] == "en attente" and d["reason"].startswith("échec TLS avec le serveur SMTP")
    assert server.mailbox.received == []


def test_the_real_directory_names_whom_to_reach_and_the_mail_arrives(mailer, smtp_server):  # noqa: F811
    """The directory of issue #18 (adapters.directory) answers alerting: the mayor habilitated in the
    mairie is reached; an analyst of the same mairie (reads figures, acts for nobody) is not."""
    from adapters.alerting import recipients_for
    from adapters.directory import use_cases

    use_cases.grant(mailer, None, organisation_id=f"mairie.{GUICHEN}", email=MAIRE, name="Maire de Guichen",
                    position="Maire", phones=["02 99 00 00 01"])
    use_cases.grant(mailer, None, organisation_id=f"mairie.{GUICHEN}", email="analyste@guichen.test",
                    name="Analyste", position="Analyste")
    from prometheus_client import REGISTRY

    def counted(name: str) -> float:
        return REGISTRY.get_sample_value(f"tocsin_alerts_{name}_total", {"channel": "email"}) or 0.0

    decided, sent = counted("decided"), counted("sent")
    recipients = recipients_for(mailer)
    policy = AlertPolicy(mailer.store, mailer.geography, recipients)
    _, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    use_case["caseId"] = "fr.fire.sis35.cgo-35.DRFR15REALDIR"
    mailer.ingestor.ingest(Incoming(as_json(wire("createCase", use_case, sent_at="2024-08-13T10:21:00+02:00"))))
    policy.catch_up()
    policy.close()
    [alert] = alert_store.recent_alerts(mailer.store)
    assert [p["name"] for p in alert.recipients] == ["Maire de Guichen"]
    with Dispatcher(mailer.store, recipients, channels_from(mailer.settings)) as dispatcher:
        assert dispatcher.step() == 1
    assert len(smtp_server.mailbox.to(MAIRE)) == 1 and len(smtp_server.mailbox.received) == 1
    # Counted where it happens (issue #23): one decision for one person by email, one email accepted.
    assert (counted("decided") - decided, counted("sent") - sent) == (1, 1)
    contact = recipients.contact(alert.recipients[0]["person_id"])
    assert contact is not None and contact.phone == "02 99 00 00 01"
