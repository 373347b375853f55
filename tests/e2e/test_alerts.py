"""Alerts end to end: decided and mailed by the app's own threads, acknowledged from the emailed link
(a GET alone records nothing), listed and acknowledged through the API within the access rule, sent live
on the stream, and listed and acknowledged from the CLI."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import httpx
import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.policy import AlertPolicy
from api import schemas
from tests.support.api import GUICHEN, LiveServer, bearer, client_for, report_in
from tests.support.directory_grants import habilitate
from tests.support.smtp import smtp_server  # noqa: F401  (fixture)

MAIRE = "maire@guichen.test"
CASE = "fr.fire.test.alert-guichen"


def directory(services):
    """Guichen's mayor and the préfecture's duty officer, in the real directory the app asks (granting again
    records nothing): the directory as alerting asks it, and their ids."""
    return habilitate(services, {"maire": (f"mairie.{GUICHEN}", "Maire de Guichen", MAIRE),
                                 "cab": ("prefecture.35", "Cadre de permanence", "cab@ille-et-vilaine.test")})


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def mailing(services, smtp_server):  # noqa: F811
    services.settings = replace(services.settings, smtp_url=smtp_server.url, public_url="https://tocsin.example.fr")
    AlertPolicy(services.store, services.geography, directory(services)[0]).close()  # it starts before the news
    return services


def ingest(services, case_id: str = CASE, seed: int = 1) -> None:
    raw = report_in(services.geography, GUICHEN, case_id, seed=seed)
    assert services.ingestor.ingest(Incoming(raw, "application/json")).status == "accepted"


def test_the_emailed_link_shows_a_page_and_only_its_form_acknowledges(mailing, smtp_server):  # noqa: F811
    with client_for(mailing, alerting=True) as (client, config):
        ingest(mailing)
        [mail] = wait_for(lambda: smtp_server.mailbox.to(MAIRE))
        text = mail.get_body(("plain",)).get_content()
        path = "/acquittement/" + text.split("https://tocsin.example.fr/acquittement/")[1].split()[0]

        page = client.get(path)
        assert page.status_code == 200 and "Confirmer la réception de l'alerte</button>" in page.text
        content = page.text.split("<main", 1)[1].split("</main>", 1)[0]
        assert f'<form method="post" action="{path}">' in content and "<script" not in content  # works without JS
        client.get(path)  # a mail scanner following it twice
        [alert] = alert_store.recent_alerts(mailing.store)
        assert alert.acknowledged_at is None  # following the link records nothing

        done = client.post(path)
        assert done.status_code == 200 and "Réception confirmée" in done.text
        [alert] = alert_store.recent_alerts(mailing.store)
        recipients, ids = directory(mailing)
        assert alert.acknowledged_by == {"person_id": ids["maire"], "name": "Maire de Guichen",
                                         "grant_id": recipients.contact(ids["maire"]).grant_id,
                                         "channel": "lien du courriel"}
        again = client.post(path)  # single use: the second time only says who did it
        assert "Alerte déjà acquittée" in again.text and "Maire de Guichen" in again.text
        events = [type(e).__name__ for e in mailing.store.events.get(alert.id)]
        assert events.count("Acknowledged") == 1

        forged = client.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
        assert forged.status_code == 404 and "Lien non valide" in forged.text


def test_alerts_are_visible_to_the_people_reached_and_the_authorities_above_them(mailing, smtp_server):  # noqa: F811
    _, ids = directory(mailing)
    with client_for(mailing, alerting=True) as (client, config):
        ingest(mailing)
        wait_for(lambda: smtp_server.mailbox.to(MAIRE))
        for role, territory, subject, sees in (
            ("mayor", f"commune:{GUICHEN}", None, 1),  # acting for the mairie alerted
            ("mayor", "commune:35238", None, 0),  # another commune's mayor
            ("mayor", "commune:35238", ids["maire"], 1),  # a person the alert reached, whatever their token's place
            ("prefecture", "departement:35", None, 1),  # the authority above
            ("prefecture", "departement:29", None, 0),
            ("zone", "zone:ouest", None, 1),
            ("national", "national:FR", None, 1),
        ):
            headers = {"Authorization": f"Bearer {config.mint(role, territory, subject=subject)}"}
            body = client.get("/api/v1/alerts", headers=headers).json()
            assert len(body["items"]) == sees, (role, territory, subject)
        [item] = client.get("/api/v1/alerts", headers=bearer(config, "prefecture", "departement:35")).json()["items"]
        TypeAdapter(schemas.AlertList).validate_python({"items": [item]})
        assert item["people_reached"] == [{"person_id": ids["maire"], "name": "Maire de Guichen",
                                           "organisation_id": f"mairie.{GUICHEN}"}]
        wait_for(lambda: client.get("/api/v1/alerts", headers=bearer(config, "national", "national:FR"))
                 .json()["items"][0]["deliveries"][0]["status"] == "envoyé")

        url = f"/api/v1/alerts/{item['id']}/ack"
        above = client.post(url, headers=bearer(config, "prefecture", "departement:35"))
        assert above.status_code == 403 and "personnes alertées" in above.json()["detail"]
        elsewhere = client.post(url, headers=bearer(config, "mayor", "commune:35238"))
        assert elsewhere.status_code == 404
        mayor = {"Authorization": f"Bearer {config.mint('mayor', f'commune:{GUICHEN}', name='Anne Maire')}"}
        done = client.post(url, headers=mayor)
        assert done.status_code == 200, done.text
        result = TypeAdapter(schemas.AckResult).validate_python(done.json())
        assert result.recorded and done.json()["alert"]["acknowledged_by"]["channel"] == "tableau de bord"
        assert client.post(url, headers=mayor).json()["recorded"] is False


def test_alert_events_reach_the_live_stream_of_those_who_may_see_them(mailing, smtp_server):  # noqa: F811
    with LiveServer(mailing, alerting=True) as server:
        received: dict[str, list] = {"prefecture-35": [], "mayor-rennes": []}
        tokens = {"prefecture-35": bearer(server.config, "prefecture", "departement:35"),
                  "mayor-rennes": bearer(server.config, "mayor", "commune:35238")}
        stop = threading.Event()
        for name, headers in tokens.items():
            ready = threading.Event()
            threading.Thread(target=_collect, args=(server.url + "/api/v1/stream", headers, received[name], ready,
                                                    stop), daemon=True).start()
            assert ready.wait(10)
        ingest(mailing)
        wait_for(lambda: any(e == "alert" and d["acknowledged_at"] is None for e, d in received["prefecture-35"]))
        stop.set()
        alerts = [d for e, d in received["prefecture-35"] if e == "alert"]
        assert alerts[0]["organisation_id"] == f"mairie.{GUICHEN}"
        assert alerts[0]["reason"].startswith("Nouvelle affaire")
        assert not [e for e, _ in received["mayor-rennes"] if e == "alert"]


def _collect(url: str, headers: dict, into: list, ready: threading.Event, stop: threading.Event) -> None:
    try:
        with httpx.Client(timeout=httpx.Timeout(5, read=30)) as client, client.stream("GET", url, headers=headers) as r:
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    if event == "hello":
                        ready.set()
                    else:
                        into.append((event, json.loads(line[6:])))
                if stop.is_set():
                    return
    except httpx.TransportError:
        if not stop.is_set():
            raise


def test_the_cli_lists_alerts_and_acknowledges_one(mailing, smtp_server, monkeypatch):  # noqa: F811
    import typer

    from adapters.notify.dispatch import Dispatcher, channels_from
    from api.cli.alerts import register

    recipients, ids = directory(mailing)
    policy = AlertPolicy(mailing.store, mailing.geography, recipients)
    ingest(mailing)
    policy.catch_up()
    policy.close()
    with Dispatcher(mailing.store, recipients, channels_from(mailing.settings)) as dispatcher:
        dispatcher.step()
    monkeypatch.setattr("api.cli.alerts.open_services_from_env", lambda: replace(mailing, store=mailing.store))
    monkeypatch.setattr(type(mailing), "close", lambda self: None)
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    listed = runner.invoke(app, ["alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [item] = json.loads(listed.output)
    assert {"id", "reason", "subject", "people_reached", "channels", "acknowledged_at", "acknowledged_by"} <= set(item)
    assert item["channels"] == ["email"] and item["acknowledged_at"] is None
    text = runner.invoke(app, ["alerts", "list"]).output
    assert "Nouvelle affaire dans la commune" in text and f"email → {ids['maire']} : envoyé" in text
    assert "(Europe/Paris)" in text and "accusé de réception : aucun" in text
    acked = runner.invoke(app, ["alerts", "ack", item["id"]])
    assert acked.exit_code == 0 and "Accusé de réception enregistré" in acked.output
    again = json.loads(runner.invoke(app, ["alerts", "list", "--json"]).output)[0]
    assert again["acknowledged_at"] and again["acknowledged_by"]["channel"] == "ligne de commande"
    assert runner.invoke(app, ["alerts", "ack", "pas-un-uuid"]).exit_code == 1
