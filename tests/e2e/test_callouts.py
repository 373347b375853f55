"""Call-outs end to end: launched within the launcher's territory, carried by email with answer links (a
GET records nothing), answered from the link and the API, tallied live on the stream."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter

from adapters.notify.policy import AlertPolicy
from api import schemas
from tests.e2e.test_alerts import _collect, wait_for
from tests.support.api import GUICHEN, LiveServer
from tests.support.directory_grants import habilitate
from tests.support.smtp import smtp_server  # noqa: F401  (fixture)

MAIRE, CAB = "maire@guichen.test", "cab@ille-et-vilaine.test"


@pytest.fixture
def people(services) -> dict[str, str]:
    """Guichen's mayor and the préfecture's duty officer, in the real directory the app asks: their ids."""
    recipients, ids = habilitate(services, {"maire": (f"mairie.{GUICHEN}", "Maire de Guichen", MAIRE),
                                            "cab": ("prefecture.35", "Cadre de permanence", CAB)})
    AlertPolicy(services.store, services.geography, recipients).close()
    return ids


@pytest.fixture
def server(services, smtp_server, people):  # noqa: F811
    services.settings = replace(services.settings, smtp_url=smtp_server.url, public_url="https://tocsin.example.fr")
    with LiveServer(services, alerting=True) as live:
        yield live


def token(server, role: str, territory: str, subject: str | None = None, name: str | None = None) -> dict:
    return {"Authorization": f"Bearer {server.config.mint(role, territory, subject=subject, name=name)}"}


def test_a_prefect_calls_out_the_mairie_and_the_answers_are_tallied_live(server, smtp_server, people):  # noqa: F811
    import httpx

    prefet = token(server, "prefecture", "departement:35", subject="p.prefet", name="Préfet d'Ille-et-Vilaine")
    received: list = []
    ready, stop = threading.Event(), threading.Event()
    threading.Thread(target=_collect, args=(server.url + "/api/v1/stream", prefet, received, ready, stop),
                     daemon=True).start()
    assert ready.wait(10)
    deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"question": "Qui peut rejoindre la cellule de crise à 18 h ?", "deadline": deadline,
            "organisation_ids": [f"mairie.{GUICHEN}", "prefecture.35"]}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # Outside one's territory, or not a role that mobilises: refused.
        assert client.post("/api/v1/callouts", json=body, headers=token(server, "mayor", f"commune:{GUICHEN}")
                           ).status_code == 403
        assert client.post("/api/v1/callouts", json={**body, "organisation_ids": ["prefecture.29"]},
                           headers=prefet).status_code == 403
        assert client.post("/api/v1/callouts", json=body, headers=token(server, "sdis", "departement:35")
                           ).status_code == 403
        launched = client.post("/api/v1/callouts", json=body, headers=prefet)
        assert launched.status_code == 200, launched.text
        item = TypeAdapter(schemas.CallOutItem).validate_python(launched.json())
        assert item.tally.asked == 2 and item.tally.waiting == 2

        [mail] = wait_for(lambda: smtp_server.mailbox.to(MAIRE))
        text = mail.get_body(("plain",)).get_content()
        assert "« disponible » : https://tocsin.example.fr/reponse/" in text
        link = text.split("« disponible » : https://tocsin.example.fr")[1].split()[0]
        page = client.get(link)
        assert page.status_code == 200 and "Répondre « disponible »" in page.text
        assert client.get(f"/api/v1/callouts/{item.id}", headers=prefet).json()["tally"]["answered"] == 0
        done = client.post(link)
        assert done.status_code == 200 and "Réponse enregistrée" in done.text

        cab = token(server, "prefecture", "departement:35", subject=people["cab"], name="Cadre de permanence")
        answered = client.post(f"/api/v1/callouts/{item.id}/answers", json={"choice": "en route"}, headers=cab)
        assert answered.status_code == 200, answered.text
        stranger = token(server, "prefecture", "departement:35", subject="p.autre")
        refused = client.post(f"/api/v1/callouts/{item.id}/answers", json={"choice": "disponible"}, headers=stranger)
        assert refused.status_code == 403 and refused.json()["detail"] == "cet appel ne vous a pas été adressé"
        final = TypeAdapter(schemas.CallOutItem).validate_python(
            client.get(f"/api/v1/callouts/{item.id}", headers=prefet).json())
        assert final.tally.counts == {"disponible": 1, "indisponible": 0, "en route": 1} and final.tally.waiting == 0
        assert {a["channel"] for a in final.answers} == {"lien du courriel", "tableau de bord"}
        listed = client.get("/api/v1/callouts", headers=token(server, "mayor", "commune:35238")).json()
        assert listed["items"] == []  # another commune's mayor sees none of it

    wait_for(lambda: any(e == "callout" and d["tally"]["answered"] == 2 for e, d in received))
    stop.set()
