"""Web Push subscriptions registered over HTTP land in the directory, for the person acting only: the
dashboard (cookie + CSRF header) and the API (bearer) alike; the VAPID public key is served to the page;
bad subscriptions are refused in French."""

from __future__ import annotations

import base64
from dataclasses import replace

from adapters.directory.recipients import DirectoryRecipients
from adapters.directory.use_cases import grant
from api import schemas
from tests.support.api import bearer, client_for
from tests.support.push_service import Browser


def test_the_vapid_key_is_served_only_where_push_is_configured(services) -> None:
    with client_for(services) as (client, config):
        mayor = bearer(config, "mayor", "commune:35238")
        assert client.get("/api/v1/push/key", headers=mayor).json() == {"application_server_key": None}
        assert client.get("/api/v1/push/key").status_code == 401
    services.settings = replace(services.settings, vapid_subject="mailto:astreinte@tocsin.example.fr")
    with client_for(services) as (client, config):
        key = client.get("/api/v1/push/key", headers=bearer(config, "mayor", "commune:35238")).json()
        raw = base64.urlsafe_b64decode(key["application_server_key"] + "=")
        assert len(raw) == 65 and raw[0] == 4  # an uncompressed P-256 point, as PushManager.subscribe wants


def test_a_person_subscribes_their_own_browser_and_unsubscribes(services) -> None:
    person_id = grant(services, None, organisation_id="mairie.35238", email="maire@rennes.example",
                      name="Maire Rennes", position="Maire").person_id
    browser = Browser("https://push.example.net/abonnement/1")
    recipients = DirectoryRecipients(services.directory)
    with client_for(services) as (client, config):
        mine = {"Authorization": "Bearer " + config.mint("mayor", "commune:35238", subject=person_id)}
        done = client.post("/api/v1/push/subscriptions", json=browser.subscription, headers=mine)
        assert done.status_code == 200 and done.json() == {"subscribed": True, "subscriptions": 1}, done.text
        schemas.PushSubscriptionOut.model_validate(done.json())
        assert client.post("/api/v1/push/subscriptions", json=browser.subscription, headers=mine).json()[
            "subscriptions"] == 1  # the same browser again
        contact = recipients.contact(person_id)
        assert contact is not None and contact.push_subscriptions == (browser.subscription,)
        # A token naming nobody of the directory has no browser to subscribe.
        anonymous = client.post("/api/v1/push/subscriptions", json=browser.subscription,
                                headers=bearer(config, "mayor", "commune:35238"))
        assert anonymous.status_code == 422 and "personnes habilitées" in anonymous.json()["detail"]
        for bad, why in (({**browser.subscription, "endpoint": "http://10.0.0.1/push"}, "adresse"),
                         ({**browser.subscription, "endpoint": "file:///etc/passwd"}, "adresse"),
                         ({**browser.subscription, "keys": {"p256dh": "abc", "auth": "def"}}, "clés")):
            refused = client.post("/api/v1/push/subscriptions", json=bad, headers=mine)
            assert refused.status_code == 422 and why in refused.json()["detail"], refused.text
        gone = client.post("/api/v1/push/subscriptions/removal", json={"endpoint": browser.endpoint}, headers=mine)
        assert gone.json() == {"subscribed": False, "subscriptions": 0}
        contact = recipients.contact(person_id)
        assert contact is not None and contact.push_subscriptions == ()


def test_the_dashboard_subscribes_with_its_cookie_and_a_csrf_token_only(services) -> None:
    person_id = grant(services, None, organisation_id="mairie.35238", email="maire@rennes.example",
                      name="Maire Rennes", position="Maire").person_id
    browser = Browser("https://push.example.net/abonnement/2")
    with client_for(services) as (client, config):
        client.cookies.set("tocsin_token", config.mint("mayor", "commune:35238", subject=person_id))
        forged = client.post("/api/v1/push/subscriptions", json=browser.subscription)
        assert forged.status_code == 403
        other_site = client.post("/api/v1/push/subscriptions", json=browser.subscription,
                                 headers={"X-Tocsin-CSRF": client.get("/notifications/jeton").json()["csrf"],
                                          "Sec-Fetch-Site": "cross-site"})
        assert other_site.status_code == 403
        csrf = client.get("/notifications/jeton").json()["csrf"]
        done = client.post("/api/v1/push/subscriptions", json=browser.subscription, headers={"X-Tocsin-CSRF": csrf})
        assert done.status_code == 200, done.text
    contact = DirectoryRecipients(services.directory).contact(person_id)
    assert contact is not None and contact.push_subscriptions == (browser.subscription,)
