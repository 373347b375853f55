"""POST /api/v1/messages answers like a CISU peer: RC-REF when accepted, an error message when refused."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from adapters.cisu import InvalidMessage, parse_wire_message
from tests.support.api import app_of
from tests.support.paths import REFERENCE
from tests.support.wire import as_json, as_xml, example, wire


def client_for(services) -> TestClient:
    from api.app import create_app

    return TestClient(create_app(services))


def as_role(client: TestClient, role: str, territory: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app_of(client).state.auth.mint(role, territory)}"}


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


# Issue #17, finding 4: every refusal answers 422 with the reasons, in the sender's encoding.

FAILING = sorted((REFERENCE / "failing").glob("*.json"))
NO_HEADER_XSD = REFERENCE / "xsd/EDXL-DE-full-no-header.xsd"


def naive_xml(wire: dict) -> bytes:
    """The XML a careless peer would write for a (failing) JSON wire message: same names, same order,
    the official namespaces; unknown fields kept, so the XSD has something to refuse."""
    from lxml import etree

    from adapters.cisu.reference import EDXL_NS, RC_DE_NS, use_cases

    renames = {"jsonContent": "contentXML", "embeddedJsonContent": "embeddedXMLContent"}
    catalogue = use_cases()

    def write(parent: etree._Element, name: str, value: object, namespace: str) -> None:
        if name in catalogue:
            namespace = catalogue[name].xml_namespace or namespace
        elif name == "message":
            namespace = RC_DE_NS
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, f"{{{namespace}}}{renames.get(name, name)}")
            if name == "content" and parent.tag == f"{{{EDXL_NS}}}edxlDistribution":
                child = etree.SubElement(child, f"{{{EDXL_NS}}}contentObject")
            if isinstance(item, dict):
                for key, sub in item.items():
                    write(child, key, sub, namespace)
            else:
                child.text = str(item)

    root = etree.Element(f"{{{EDXL_NS}}}edxlDistribution", nsmap={None: EDXL_NS})
    for key, value in wire.items():
        write(root, key, value, EDXL_NS)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def error_of(response) -> dict:
    if response.headers["content-type"].startswith("application/xml"):
        from lxml import etree

        from adapters.cisu.reference import RC_DE_NS

        root = etree.fromstring(response.content)
        [error] = root.iter(f"{{{RC_DE_NS}:error}}error")
        return {etree.QName(child).localname: child.text for child in error if len(child) == 0}
    return json.loads(response.content)["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["error"]


@pytest.mark.parametrize("encoding", ["json", "xml"])
def test_every_official_failing_example_is_answered_422_with_its_reasons(services, encoding, caplog):
    from lxml import etree

    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    no_header_xsd = etree.XMLSchema(etree.parse(str(NO_HEADER_XSD), parser))
    nexsis = {"content-type": f"application/{encoding}"}
    with client_for(services) as client:
        nexsis.update(as_role(client, "nexsis", "national:FR"))
        for path in FAILING:
            failing = json.loads(path.read_bytes())
            body = path.read_bytes() if encoding == "json" else naive_xml(failing)
            response = client.post("/api/v1/messages", content=body, headers=nexsis)
            assert response.status_code == 422, (path.name, response.text[:300])
            assert response.headers["x-tocsin-outcome"] == "quarantined"
            assert response.headers["content-type"].startswith(f"application/{encoding}")
            if encoding == "xml":  # a valid CISU error message: the official XSD for messages without header
                no_header_xsd.assertValid(etree.fromstring(response.content).getroottree())
            error = error_of(response)
            assert error["errorCause"].strip() and "$" in error["errorCause"], path.name
            assert error["referencedDistributionID"] == (failing.get("distributionID") or "inconnu")
    assert "Traceback" not in caplog.text and "Exception in ASGI" not in caplog.text


def test_the_simulator_posts_with_a_service_token_and_is_refused_without_one(services):
    from typer.testing import CliRunner

    from api.auth import AuthConfig
    from api.cli.main import app as cli
    from tests.support.api import LiveServer

    config = AuthConfig(secret=b"test-secret-key-with-enough-entropy-for-hs256")  # not a demonstration
    token = config.mint("nexsis", "national:FR")
    with LiveServer(services, config) as server:
        runner = CliRunner()
        refused = runner.invoke(cli, ["simulate", "--size", "5", "--http", server.url])
        posted = runner.invoke(cli, ["simulate", "--size", "5", "--http", server.url, "--token", token])
    assert refused.exit_code == 0 and "401 : 5" in refused.output, refused.output
    assert posted.exit_code == 0 and "accepted : 5" in posted.output, posted.output
