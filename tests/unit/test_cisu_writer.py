"""wrap_use_case / to_json_bytes / to_xml_bytes: messages our own parser (and the XSD) accept."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from lxml import etree

from adapters.cisu import parse_wire_message, to_json_bytes, to_xml_bytes, wrap_use_case
from tests.support.paths import REFERENCE

EXAMPLES = sorted(REFERENCE.glob("examples/*/*.json"))
CISU_NS = "urn:emergency:cisu:3.0"
EDA_NS = "urn:emergency:eda:1.9"


@pytest.fixture(scope="module")
def official_xsd() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(REFERENCE / "xsd/EDXL-DE-full.xsd"), parser))


def canonical(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def example_wire(path: Path, **overrides) -> dict:
    (kind, use_case), = json.loads(path.read_bytes()).items()
    arguments = dict(
        distribution_id="fr.fire.sdis69.cgo_0001",
        sender_id="fr.fire.sdis69.cgo",
        sent_at="2024-05-02T14:03:00+02:00",
        recipient_id="fr.health.samu690",
    )
    arguments.update(overrides)
    return wrap_use_case(kind, use_case, **arguments)


def test_wrap_use_case_builds_the_envelope_and_header():
    use_case = {"distributionID": "fr.health.samu690_42"}
    wire = wrap_use_case(
        "reference", use_case,
        distribution_id="fr.fire.sdis69.cgo_0001", sender_id="fr.fire.sdis69.cgo",
        sent_at="2024-02-29T14:03:00-00:00", recipient_id="fr.health.samu690",
        status="Exercise", kind_of_distribution="Ack",
    )
    assert wire["distributionStatus"] == "Exercise" and wire["distributionKind"] == "Ack"
    assert wire["dateTimeExpires"] == "2074-02-28T14:03:00-00:00"  # 2074 is no leap year
    assert wire["descriptor"]["explicitAddress"] == {
        "explicitAddressScheme": "hubex", "explicitAddressValue": "fr.health.samu690",
    }
    message = wire["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]
    assert message["messageId"] == "fr.fire.sdis69.cgo_0001"
    assert message["sender"] == {"name": "cgo", "URI": "hubex:fr.fire.sdis69.cgo"}
    assert message["recipient"] == [{"name": "samu690", "URI": "hubex:fr.health.samu690"}]
    assert (message["kind"], message["status"]) == ("Ack", "Exercise")
    assert message["reference"] == use_case and message["reference"] is not use_case
    parsed = parse_wire_message(to_json_bytes(wire))
    assert parsed.kind == "reference" and parsed.header["messageId"] == "fr.fire.sdis69.cgo_0001"
    assert wrap_use_case(
        "reference", use_case, distribution_id="d", sender_id="s", sent_at="2024-01-01T00:00:00+01:00",
        recipient_id="r", message_id="m", expires_at="2024-01-02T00:00:00+01:00",
    )["dateTimeExpires"] == "2024-01-02T00:00:00+01:00"


def test_wrap_use_case_refuses_unknown_kinds():
    with pytest.raises(ValueError):
        wrap_use_case("createcase", {}, distribution_id="d", sender_id="s",
                      sent_at="2024-01-01T00:00:00+01:00", recipient_id="r")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_xml_output_is_valid_against_the_official_xsd(example, official_xsd):
    wire = example_wire(example)
    raw = to_xml_bytes(wire)
    official_xsd.assertValid(etree.fromstring(raw).getroottree())
    from_xml = parse_wire_message(raw)
    from_json = parse_wire_message(to_json_bytes(wire))
    message = wire["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]
    assert canonical(from_xml.use_case) == canonical(from_json.use_case) == canonical(message[from_xml.kind])
    assert canonical(from_xml.header) == canonical(from_json.header)
    assert canonical(from_xml.envelope) == canonical(from_json.envelope)


def test_children_follow_the_xsd_sequence_whatever_the_dict_order(official_xsd):
    wire = example_wire(REFERENCE / "examples/RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01.json")

    def reversed_keys(value):
        if isinstance(value, dict):
            return {key: reversed_keys(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [reversed_keys(item) for item in value]
        return value

    raw = to_xml_bytes(reversed_keys(wire))
    tree = etree.fromstring(raw).getroottree()
    official_xsd.assertValid(tree)
    root = tree.getroot()
    assert [etree.QName(child).localname for child in root][:3] == ["distributionID", "senderID", "dateTimeSent"]
    message = root.find(f".//{{{EDA_NS}}}message")
    assert message is not None
    assert [etree.QName(child).localname for child in message] == [
        "messageId", "sender", "sentAt", "kind", "status", "recipient", "createCase",
    ]


def test_cisu_variant_looks_like_the_sample_and_parses(official_xsd):
    wire = example_wire(REFERENCE / "examples/EMSI/EMSI-OPG-message.json")
    raw = to_xml_bytes(wire, namespace=CISU_NS)
    root = etree.fromstring(raw)
    message = root.find(f".//{{{CISU_NS}}}message")
    assert message is not None and message.find(f"{{{CISU_NS}}}emsi") is not None
    assert {etree.QName(e).namespace for e in message.iter()} == {CISU_NS}
    assert not official_xsd.validate(root.getroottree())  # like envelopes/RC-EDA.xml
    parsed = parse_wire_message(raw)
    assert parsed.xml_namespace == CISU_NS
    assert canonical(parsed.use_case) == canonical(parse_wire_message(to_json_bytes(wire)).use_case)


def test_xml_writer_refuses_what_xml_cannot_carry():
    wire = example_wire(REFERENCE / "examples/RC-REF/RC-REF.json")
    message = wire["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]
    message["reference"]["unknownField"] = "x"
    with pytest.raises(ValueError, match="unknownField"):
        to_xml_bytes(wire)
    del message["reference"]["unknownField"]
    message["reference"]["step"] = None
    with pytest.raises(ValueError):
        to_xml_bytes(wire)
    with pytest.raises(ValueError):
        to_xml_bytes(wire, namespace="urn:other")


def test_number_formatting_round_trips():
    path = REFERENCE / "examples/RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01.json"
    wire = example_wire(path)
    case = wire["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["createCase"]
    coord = case.setdefault("location", {}).setdefault("geometry", {}).setdefault("point", {}).setdefault("coord", {})
    coord.update({"lat": 1e-07, "lon": -123456789.125})
    coord.setdefault("precision", "ADRESSE")
    case["location"]["geometry"].setdefault("datetime", "2024-05-02T14:03:00+02:00")
    raw = to_xml_bytes(wire)
    assert b"<lat>0.0000001</lat>" in raw
    parsed = parse_wire_message(raw).use_case["location"]["geometry"]["point"]["coord"]
    assert parsed["lat"] == 1e-07 and parsed["lon"] == -123456789.125


def test_json_writer_handles_integers_beyond_64_bits():
    assert json.loads(to_json_bytes({"a": 2**70, "b": "é"})) == {"a": 2**70, "b": "é"}
    assert to_json_bytes({"b": "é"}) == '{"b":"é"}'.encode()
