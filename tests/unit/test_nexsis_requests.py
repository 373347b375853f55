"""Requests between emergency services (RS-DR, RS-RR, RS-SR, EMSI demande de concours): parsed from both
encodings, normalised without their free texts, folded order-tolerantly, worded for people; patient-level
use cases refused without a word of their content."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.cisu import InvalidMessage, parse_wire_message
from adapters.cisu.reference import use_cases
from adapters.geography import get_geography
from adapters.ingest.normalise import normalise
from domain.case_state import (
    CONCOURS,
    RESOURCES_REQUEST,
    RESOURCES_RESPONSE,
    RESOURCES_STATUS,
    SITUATION,
    CaseState,
    apply_message,
)
from domain.nexsis_requests import concours_of
from projections.read.readable import nexsis_requests
from tests.support.paths import NEXSIS_FIXTURES
from tests.support.wire import as_json, as_xml, example, wire

REQUEST_ID = "fr.health.samu35.request.DR-20240813-0001"


def fixture(name: str) -> tuple[str, dict]:
    (kind, use_case), = json.loads((NEXSIS_FIXTURES / f"{name}.json").read_text(encoding="utf-8")).items()
    return kind, use_case


def normalised(kind: str, use_case: dict, encode=as_json, **options):
    return normalise(parse_wire_message(encode(wire(kind, use_case, **options))), get_geography())


@pytest.mark.parametrize("encode", [as_json, as_xml], ids=["json", "xml"])
def test_a_resource_request_and_its_answer_normalise_the_same_from_json_and_xml(encode):
    request = normalised(*fixture("RS-DR"), encode)
    assert (request.kind, request.case_id) == (RESOURCES_REQUEST, "fr.fire.CGA_national.SC-20240813-CGA_national-AT517")
    assert request.facts | {"personal": None} == {
        "case_id": request.case_id, "request_id": REQUEST_ID, "requested_at": "2024-08-13T10:25:00+02:00",
        "purpose": "SAP", "convention": "CARENCE", "deadline": "30M", "cancelled": False, "personal": None,
    }
    # The free text may describe the patient: it goes with the personal data, never in the request.
    assert request.facts["personal"] == {"request_details": "Carence ambulancière, victime âgée au domicile"}
    answer = normalised(*fixture("RS-RR"), encode)
    assert answer.kind == RESOURCES_RESPONSE
    assert (answer.facts["request_id"], answer.facts["answer"], answer.facts["deadline"]) == (
        REQUEST_ID, "PARTIELLE", "45M")
    assert set(answer.facts["personal"]) == {"answer_details"}
    status = normalised(*fixture("RS-SR"), encode)
    assert status.kind == RESOURCES_STATUS
    assert (status.facts["status"], status.facts["status_label"], status.facts["available"]) == (
        "ARRIVEE", "Arrivée sur les lieux", False)


def test_a_cancelled_request_says_so():
    kind, use_case = fixture("RS-DR")
    use_case["status"] = "ANNULEE"
    assert normalised(kind, use_case).facts["cancelled"] is True


@pytest.mark.parametrize("encode", [as_json, as_xml], ids=["json", "xml"])
def test_emsi_demande_de_concours_and_its_answer_have_their_own_kind_and_an_ordinary_emsi_keeps_its_own(encode):
    request = normalised(*example("EMSI/emsi-DC-message"), encode)
    answer = normalised(*example("EMSI/EMSI-RDC-message"), encode)
    ordinary = normalised(*example("EMSI/EMSI-OPG-message"), encode)
    assert (request.kind, answer.kind, ordinary.kind) == (CONCOURS, CONCOURS, SITUATION)
    # Still a situation: the casualties are read as from any EMSI.
    assert request.facts["casualties"]["yellow"] == 1


def fold(messages: list[tuple[str, dict, dict]]) -> CaseState:
    state = CaseState()
    for kind, facts, provenance in messages:
        apply_message(state, kind, facts, provenance)
    return state


def provenance(n: int, sender: str, recipient: str, sent_at: str) -> dict:
    return {"distribution_id": f"d{n}", "sender_id": sender, "recipients": [recipient], "sent_at": sent_at}


def test_the_drawer_words_a_request_its_answer_and_a_resource_status_whatever_their_order():
    samu, sdis = "fr.health.samu35", "fr.fire.sis35.cgo-35"
    messages = [
        (RESOURCES_REQUEST, normalised(*fixture("RS-DR")).facts,
         provenance(1, samu, sdis, "2024-08-13T10:25:00+02:00")),
        (RESOURCES_RESPONSE, normalised(*fixture("RS-RR")).facts,
         provenance(2, sdis, samu, "2024-08-13T10:29:00+02:00")),
        (RESOURCES_STATUS, normalised(*fixture("RS-SR")).facts,
         provenance(3, sdis, samu, "2024-08-13T10:41:00+02:00")),
    ]
    rows = nexsis_requests(fold(messages))
    assert rows == nexsis_requests(fold(messages[::-1]))
    status, request = rows  # the latest exchange first
    assert request["kind_label"] == "Demande de ressource (RS-DR)"
    assert (request["from_label"], request["to_label"]) == ("SAMU 35", "SDIS 35")
    assert request["deadline_text"] == "sous 30 minutes"
    assert request["answer_text"] == "acceptée en partie"
    assert request["answer_deadline_text"] == "sous 45 minutes"
    assert request["status_text"] == "répondue : acceptée en partie"
    assert "10:25" in request["requested_text"]
    assert status["kind_label"] == "Statut d'un moyen (RS-SR)"
    assert status["status_text"] == "Arrivée sur les lieux (indisponible)"
    assert "Carence" not in json.dumps(rows)  # no free text in what every role reads


def test_an_answer_alone_waits_for_its_request_and_a_cancellation_is_final():
    answer: tuple[str, dict, dict] = (RESOURCES_RESPONSE,
              {"request_id": "a.b.c.request.1", "answer": "ACCEPTEE", "answered_at": "2024-08-13T10:29:00+02:00"},
              provenance(1, "x", "y", "2024-08-13T10:29:00+02:00"))
    [row] = nexsis_requests(fold([answer]))
    assert row["status_text"] == "réponse reçue (acceptée), demande non reçue par Tocsin"
    Message = tuple[str, dict, dict]
    cancel: Message = (RESOURCES_REQUEST, {"request_id": "a.b.c.request.1", "cancelled": True, "deadline": "1H"},
                       provenance(2, "y", "x", "2024-08-13T10:20:00+02:00"))
    later: Message = (RESOURCES_REQUEST, {"request_id": "a.b.c.request.1", "cancelled": False, "deadline": "2H"},
                      provenance(3, "y", "x", "2024-08-13T10:40:00+02:00"))
    for order in ([answer, cancel, later], [later, cancel, answer], [cancel, later, answer]):
        [row] = nexsis_requests(fold(order))
        assert (row["status_text"], row["deadline_text"]) == ("annulée", "sous 2 heures")


def test_an_emsi_answer_is_filed_under_the_concours_it_names():
    kind, use_case = example("EMSI/EMSI-RDC-message")
    use_case["MISSION"][0]["MAIN_MISSION_ID"] = "ABC1YU3454"
    answer = normalised(kind, use_case)
    request = normalised(*example("EMSI/emsi-DC-message"))
    sdis, samu = "fr.fire.cgo690", "fr.health.samu690"
    state = fold([(answer.kind, answer.facts, provenance(2, sdis, samu, "2023-11-03T11:20:00+01:00")),
                  (request.kind, request.facts, provenance(1, samu, sdis, "2023-11-03T11:10:00+01:00"))])
    [row] = nexsis_requests(state)
    assert row["kind_label"] == "Demande de concours (EMSI)"
    assert row["id"] == "ABC1YU3454" and row["convention"] == "CARENCE"
    assert row["answer_text"] == "différée" and row["answered_by_label"] == "fr.fire.cgo690"
    assert row["status_text"] == "répondue : différée"


@given(st.text(max_size=60))
def test_a_mission_name_is_a_concours_only_when_it_says_so(name):
    found = concours_of({"name": name})
    if found is not None:
        prefix = "#DEMANDE_CONCOURS#" if found["role"] == "request" else "#REPONSE_DEMANDE_CONCOURS#"
        assert name.strip().startswith(prefix)


SEGMENT = st.text(st.characters(blacklist_characters="#", blacklist_categories=["Cs"]), max_size=12)


@given(SEGMENT, SEGMENT, SEGMENT)
def test_every_name_built_by_the_hub_rule_is_read_back(convention, code, answer):
    assert concours_of({"name": f"#DEMANDE_CONCOURS#{convention}#{code}#"}) == {
        "role": "request", "convention": convention or None, "convention_code": code or None}
    assert concours_of({"name": f"#REPONSE_DEMANDE_CONCOURS#{answer}#"}) == {"role": "answer", "answer": answer or None}


PATIENT = {"patient": {"lastName": "Dupontel", "firstName": "Amandine", "birthDate": "1950-02-03"}}


def patient_xml(kind: str) -> bytes:
    """An XML message whose use case is `kind`, holding a patient (the writer only writes what the XSD
    allows; these are refused before the XSD is read, so they need not be valid)."""
    envelope = etree.fromstring(as_xml(wire(*fixture("RS-SR"))))
    message = envelope.find(".//{urn:emergency:eda:1.9}message")
    assert message is not None
    message.remove(message[-1])
    ns = use_cases()[kind].xml_namespace
    use_case = etree.SubElement(message, f"{{{ns}}}{kind}")
    patient = etree.SubElement(use_case, f"{{{ns}}}patient")
    for key, value in PATIENT["patient"].items():
        etree.SubElement(patient, f"{{{ns}}}{key}").text = value
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def patient_json(kind: str) -> bytes:
    return as_json(wire(kind, PATIENT))


@pytest.mark.parametrize("kind", ["rpis", "interventionReport", "documentLink"])
@pytest.mark.parametrize("encode", [patient_json, patient_xml], ids=["json", "xml"])
def test_patient_level_use_cases_are_refused_with_a_reason_that_quotes_nothing(kind, encode):
    with pytest.raises(InvalidMessage) as refused:
        parse_wire_message(encode(kind))
    [reason] = refused.value.reasons
    assert reason.code == "medical-record"
    assert reason.message.startswith("Tocsin ne conserve pas de dossier médical")
    assert refused.value.kind == kind
    assert "Dupontel" not in reason.message + reason.path + reason.detail and "1950" not in reason.message


# ---- generated messages: whatever the schemas allow parses the same from both encodings, and normalises
# into facts that say what the message said, its free text only with the personal data. -----------------

DEADLINES = ["DEL0", "ASAP", "30M", "45M", "1H", "2H", "4H", "8H", "12H", "24H", "RDV"]
TIMES = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda t: t.replace(microsecond=0).isoformat() + "+01:00")
FREE_TEXT = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=40).filter(str.strip)
IDENT = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)


@st.composite
def requests_and_answers(draw) -> tuple[str, dict]:
    case_id = "fr.fire.sis35." + draw(IDENT)
    request_id = f"fr.health.samu35.request.{draw(IDENT)}"
    kind = draw(st.sampled_from(["resourcesRequest", "resourcesResponse", "resourcesStatus"]))
    optional = {}
    if kind == "resourcesRequest":
        for key, values in (("convention", ["DRSIS", "MISSION", "ITSP", "CARENCE", "CONVENT", "SPE", "HORS"]),
                            ("deadline", DEADLINES)):
            if draw(st.booleans()):
                optional[key] = draw(st.sampled_from(values))
        if draw(st.booleans()):
            optional["freetext"] = draw(FREE_TEXT)
        request = {"requestId": request_id, "datetime": draw(TIMES),
                   "purpose": draw(st.sampled_from(["SAP", "REGUL", "CUMP", "SMUR", "RELEVE", "NOVI", "BARIA"])),
                   **optional}
        use_case = {"caseId": case_id, "request": request}
        if draw(st.booleans()):
            use_case["status"] = "ANNULEE"
        return kind, use_case
    if kind == "resourcesResponse":
        if draw(st.booleans()):
            optional["deadline"] = draw(st.sampled_from(DEADLINES))
        if draw(st.booleans()):
            optional["freetext"] = draw(FREE_TEXT)
        response = {"datetime": draw(TIMES),
                    "answer": draw(st.sampled_from(["ACCEPTEE", "PARTIELLE", "REFUSEE", "DIFFEREE"])), **optional}
        return kind, {"caseId": case_id, "requestId": request_id, "response": response}
    state = {"datetime": draw(TIMES), "status": draw(st.sampled_from(["DECISION", "DEPART", "ARRIVEE", "RETOUR"]))}
    if draw(st.booleans()):
        state["availability"] = draw(st.booleans())
    return kind, {"caseId": case_id, "resourceId": f"fr.fire.sis35.resource.{draw(IDENT)}", "state": state}


@settings(max_examples=80, deadline=None)
@given(requests_and_answers())
def test_generated_requests_normalise_the_same_from_json_and_xml_and_keep_free_text_apart(generated):
    kind, use_case = generated
    from_json, from_xml = (normalised(kind, use_case, encode) for encode in (as_json, as_xml))
    assert from_json == from_xml
    facts = dict(from_json.facts)
    personal = facts.pop("personal", {})
    inner = use_case.get("request") or use_case.get("response") or {}
    if "freetext" in inner:
        assert list(personal.values()) == [inner["freetext"]]
        assert inner["freetext"] not in facts.values()  # the facts are flat: no other place holds it
    else:
        assert not personal
    if kind == "resourcesRequest":
        assert facts["deadline"] == inner.get("deadline")
        assert facts["cancelled"] == (use_case.get("status") == "ANNULEE")
    elif kind == "resourcesResponse":
        assert (facts["answer"], facts["deadline"]) == (inner["answer"], inner.get("deadline"))
    else:
        assert facts["available"] == use_case["state"].get("availability")


@pytest.mark.parametrize("encode", [as_json, as_xml], ids=["json", "xml"])
def test_an_invalid_request_is_refused_with_the_field_and_the_rule_in_french(encode):
    kind, use_case = fixture("RS-DR")
    use_case["request"]["deadline"] = "3H"
    if encode is as_xml:
        # The writer only writes what the XSD allows: the bad value goes in after it.
        raw = as_xml(wire(kind, use_case | {"request": {**use_case["request"], "deadline": "2H"}}))
        raw = raw.replace(b"<deadline>2H</deadline>", b"<deadline>3H</deadline>")
    else:
        raw = as_json(wire(kind, use_case))
    with pytest.raises(InvalidMessage) as refused:
        parse_wire_message(raw)
    [reason] = refused.value.reasons
    assert (reason.code, reason.path) == (
        "content", "$.content[0].jsonContent.embeddedJsonContent.message.resourcesRequest.request.deadline")
    assert reason.message.startswith("valeur non autorisée") and "DEL0, ASAP, 30M" in reason.message
    answer_kind, answer = fixture("RS-RR")
    del answer["response"]["answer"]
    with pytest.raises(InvalidMessage) as missing:
        parse_wire_message(as_json(wire(answer_kind, answer)))
    assert [r.message for r in missing.value.reasons] == ["champ obligatoire absent : answer"]
