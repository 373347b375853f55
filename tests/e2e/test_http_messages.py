"""POST /api/v1/messages answers like a CISU peer: RC-REF when accepted, an error message when refused."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from adapters.cisu import InvalidMessage, parse_wire_message
from tests.support.wire import as_json, as_xml, example, wire


def client_for(services) -> TestClient:
    from api.app import create_app

    return TestClient(create_app(services))


def as_role(client: TestClient, role: str, territory: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.app.state.auth.mint(role, territory)}"}


def nexsis(client: TestClient, content_type: str) -> dict[str, str]:
    """The exchange platform's service account: posting needs its token (no demonstration here)."""
    return {"content-type": content_type, **as_role(client, "nexsis", "national:FR")}


def test_an_accepted_message_is_acknowledged_with_rc_ref_step_recu(services):
    w = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id="fr.fire.sis35.cgo-35")
    with client_for(services) as client:
        response = client.post("/api/v1/messages", content=as_json(w), headers=nexsis(client, "application/json"))
        again = client.post("/api/v1/messages", content=as_json(w), headers=nexsis(client, "application/json"))
    assert response.status_code == 200 and response.headers["x-tocsin-outcome"] == "accepted"
    ack = parse_wire_message(response.content, "application/json")
    assert ack.kind == "reference"
    assert ack.use_case == {"distributionID": w["distributionID"], "step": "RECU"}
    assert ack.envelope["descriptor"]["explicitAddress"]["explicitAddressValue"] == "fr.fire.sis35.cgo-35"
    assert again.status_code == 200 and again.headers["x-tocsin-outcome"] == "duplicate"


def test_an_xml_message_is_answered_in_xml(services):
    w = wire(*example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.04"))
    with client_for(services) as client:
        response = client.post("/api/v1/messages", content=as_xml(w), headers=nexsis(client, "application/xml"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert parse_wire_message(response.content, "application/xml").use_case["distributionID"] == w["distributionID"]


def test_a_refused_message_gets_the_reasons_and_stays_in_quarantine(services):
    kind, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    use_case["qualification"]["whatsHappen"] = "incendie"  # an object in the schema
    w = wire(kind, use_case)
    with client_for(services) as client:
        response = client.post("/api/v1/messages", content=as_json(w), headers=nexsis(client, "application/json"))
        listed = client.get("/api/v1/quarantine", headers=as_role(client, "auditor", "national:FR")).json()
    assert response.status_code == 422
    # A schema-valid RS-ERROR message: Tocsin's own parser refuses it only because it does not ingest errors.
    with pytest.raises(InvalidMessage) as refused:
        parse_wire_message(response.content, "application/json")
    assert [r.code for r in refused.value.reasons] == ["unsupported-kind"]
    error = json.loads(response.content)["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["error"]
    assert error["referencedDistributionID"] == w["distributionID"]
    assert "whatsHappen" in error["errorCause"]
    [entry] = listed
    assert str(entry["id"]) == response.headers["x-tocsin-quarantine-id"]


def test_an_oversized_body_is_refused_but_kept(services):
    body = b'{"distributionID": "' + b"x" * (services.settings.max_message_bytes + 10) + b'"}'
    with client_for(services) as client:
        response = client.post("/api/v1/messages", content=body, headers=nexsis(client, "application/json"))
    assert response.status_code == 422
    assert response.headers["x-tocsin-outcome"] == "quarantined"


def test_the_case_route_gives_state_and_history(services):
    w = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"))
    with client_for(services) as client:
        client.post("/api/v1/messages", content=as_json(w), headers=nexsis(client, "application/json"))
        case_id = w["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["createCase"]["caseId"]
        headers = as_role(client, "prefecture", "departement:35")
        anonymous = client.get(f"/api/v1/cases/{case_id}")
        found = client.get(f"/api/v1/cases/{case_id}", headers=headers)
        missing = client.get("/api/v1/cases/fr.fire.sis35.inconnu", headers=headers)
    assert anonymous.status_code == 401
    assert found.status_code == 200
    assert found.json()["state"]["where"]["commune_name"] == "Guichen"
    assert found.json()["events"][0]["provenance"]["distribution_id"] == w["distributionID"]
    assert missing.status_code == 404


def test_a_body_is_never_sniffed_only_the_declared_types_are_accepted(services):
    w = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"))
    with client_for(services) as client:
        plain = client.post("/api/v1/messages", content=as_json(w), headers=nexsis(client, "text/plain"))
        bare = client.post("/api/v1/messages", content=as_json(w), headers=nexsis(client, ""))
        text_xml = client.post("/api/v1/messages", content=as_xml(w), headers=nexsis(client, "text/xml"))
    assert plain.status_code == bare.status_code == 415
    assert text_xml.status_code == 200 and text_xml.headers["x-tocsin-outcome"] == "accepted"
