"""Requests between emergency services over HTTP: posted to the intake like any NexSIS message, read in the
case's detail and in `GET /api/v1/nexsis/requests`, within the reader's territory only."""

from __future__ import annotations

import json

from tests.support.api import bearer, client_for, wait_for_views
from tests.support.paths import NEXSIS_FIXTURES
from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire

SAMU, SDIS = "fr.health.samu35", "fr.fire.sis35.cgo-35"


def fixture(name: str) -> tuple[str, dict]:
    (kind, use_case), = json.loads((NEXSIS_FIXTURES / f"{name}.json").read_text(encoding="utf-8")).items()
    return kind, use_case


def post(client, config, raw: bytes, content_type: str):
    headers = {"content-type": content_type, **bearer(config, "nexsis", "national:FR")}
    return client.post("/api/v1/messages", content=raw, headers=headers)


def test_posted_requests_are_read_back_by_the_case_and_by_the_territory_list(services):
    with client_for(services) as (client, config):
        posted = [
            post(client, config, as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=SDIS)),
                 "application/json"),
            post(client, config, as_xml(wire(*fixture("RS-DR"), sender_id=SAMU, recipient_id=SDIS,
                                             sent_at="2024-08-13T10:25:00+02:00")), "application/xml"),
            post(client, config, as_json(wire(*fixture("RS-RR"), sender_id=SDIS, sent_at="2024-08-13T10:29:00+02:00")),
                 "application/json"),
        ]
        assert [r.headers["x-tocsin-outcome"] for r in posted] == ["accepted"] * 3
        wait_for_views(client.app.state.read_model, services)  # type: ignore[attr-defined]

        prefect = bearer(config, "prefecture", "departement:35")
        detail = client.get(f"/api/v1/cases/{FIRE_CASE}", headers=prefect)
        assert detail.status_code == 200
        [request] = detail.json()["state"]["readable"]["nexsis_requests"]
        assert (request["deadline_text"], request["status_text"]) == (
            "sous 30 minutes", "répondue : acceptée en partie")

        listed = client.get("/api/v1/nexsis/requests", headers=prefect)
        assert listed.status_code == 200
        body = listed.json()
        assert (body["level"], body["code"], body["total"]) == ("departement", "35", 1)
        [case] = body["items"]
        assert case["case_id"] == FIRE_CASE
        assert [(r["kind"], r["from_label"], r["to_label"], r["answer"]) for r in case["requests"]] == [
            ("demande_de_ressource", "SAMU 35", "SDIS 35", "PARTIELLE")]
        assert "Carence" not in listed.text  # free texts are personal data, never in the list

        # The mayor of the case's commune sees it; another département's prefect sees nothing of it.
        mayor = client.get("/api/v1/nexsis/requests", headers=bearer(config, "mayor", "commune:35126")).json()
        assert [c["case_id"] for c in mayor["items"]] == [FIRE_CASE]
        elsewhere = bearer(config, "prefecture", "departement:29")
        assert client.get("/api/v1/nexsis/requests", headers=elsewhere).json()["items"] == []
        assert client.get(f"/api/v1/cases/{FIRE_CASE}", headers=elsewhere).status_code == 404
        outside = client.get("/api/v1/nexsis/requests?level=departement&code=35", headers=elsewhere)
        assert outside.status_code in (403, 404)
        assert client.get("/api/v1/nexsis/requests?level=departement", headers=prefect).status_code == 422
        assert client.get("/api/v1/nexsis/requests").status_code == 401


def test_a_patient_level_message_posted_is_refused_with_the_french_reason(services):
    raw = as_json(wire("interventionReport", {"patient": {"lastName": "Dupontel"}}, sender_id=SAMU))
    with client_for(services) as (client, config):
        response = post(client, config, raw, "application/json")
    assert response.status_code == 422
    assert "Tocsin ne conserve pas de dossier médical" in response.text
    assert "Dupontel" not in response.text


def test_the_openapi_document_describes_the_list(services):
    with client_for(services) as (client, _):
        schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/api/v1/nexsis/requests"]["get"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/NexsisRequestPage")
