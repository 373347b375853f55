"""Requests between emergency services, through the real store: ingested as events on their case, read
back in the case's detail and in the territory's list, patient-level messages refused and not kept."""

from __future__ import annotations

import json
import logging

from adapters.ingest.ingestion import Incoming
from adapters.ingest.quarantine import get_entry, list_entries
from adapters.ingest.use_cases import retry_quarantined
from domain.geography import Level
from projections.read.case import case_view
from projections.read.nexsis_requests import territory_requests
from tests.support.api import fold_views_then_stop
from tests.support.paths import NEXSIS_FIXTURES
from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire

SAMU, SDIS = "fr.health.samu35", "fr.fire.sis35.cgo-35"


def fixture(name: str) -> tuple[str, dict]:
    (kind, use_case), = json.loads((NEXSIS_FIXTURES / f"{name}.json").read_text(encoding="utf-8")).items()
    return kind, use_case


def ingest(services, raw: bytes, content_type: str = "application/json"):
    return services.ingestor.ingest(Incoming(raw, content_type, "test"))


def test_requests_answers_and_statuses_become_events_of_their_case_and_read_in_words(services):
    report = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=SDIS)
    # The answer overtakes the request: the case reads the same once both are in.
    messages = [
        (as_json(report), "application/json"),
        (as_xml(wire(*fixture("RS-RR"), sender_id=SDIS, sent_at="2024-08-13T10:29:00+02:00")), "application/xml"),
        (as_json(wire(*fixture("RS-DR"), sender_id=SAMU, recipient_id=SDIS, sent_at="2024-08-13T10:25:00+02:00")),
         "application/json"),
        (as_json(wire(*fixture("RS-SR"), sender_id=SDIS, sent_at="2024-08-13T10:41:00+02:00")), "application/json"),
    ]
    outcomes = [ingest(services, raw, content_type) for raw, content_type in messages]
    assert [(o.status, o.case_id) for o in outcomes] == [("accepted", FIRE_CASE)] * 4

    view = case_view(services.store, services.geography, FIRE_CASE)
    assert view is not None
    assert [e["type"] for e in view.events] == [
        "Case.Reported", "Case.ResourcesAnswered", "Case.ResourcesRequested", "Case.ResourceStatusReported"]
    status, request = view.state["readable"]["nexsis_requests"]
    assert (request["kind"], request["from_label"], request["to_label"]) == (
        "demande_de_ressource", "SAMU 35", "SDIS 35")
    assert (request["deadline_text"], request["answer_text"], request["status_text"]) == (
        "sous 30 minutes", "acceptée en partie", "répondue : acceptée en partie")
    assert status["status_text"] == "Arrivée sur les lieux (indisponible)"
    chronology = [entry["title"] for entry in view.state["readable"]["chronology"]]
    assert chronology[:3] == ["Statut d'un moyen demandé", "Demande de ressource entre services",
                              "Réponse à une demande de ressource"]
    # Free texts stay with the personal data: only for the roles that may read it.
    assert "Carence" not in json.dumps(view.state) + json.dumps(view.events)
    personal = case_view(services.store, services.geography, FIRE_CASE, personal=True)
    assert personal is not None
    assert any("Carence" in json.dumps(e["facts"]) for e in personal.events)


def test_an_emsi_demande_de_concours_is_a_request_of_its_case(services):
    kind, use_case = example("EMSI/emsi-DC-message")
    use_case["EVENT"]["MAIN_EVENT_ID"] = FIRE_CASE
    use_case["EVENT"]["EGEO"] = []
    report = wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=SDIS)
    assert ingest(services, as_json(report)).status == "accepted"
    outcome = ingest(services, as_xml(wire(kind, use_case, sender_id=SAMU, recipient_id=SDIS)), "application/xml")
    assert outcome.status == "accepted"
    view = case_view(services.store, services.geography, FIRE_CASE)
    assert view is not None
    assert view.events[-1]["type"] == "Case.ConcoursExchanged"
    [row] = view.state["readable"]["nexsis_requests"]
    assert (row["kind_label"], row["id"], row["status_text"]) == (
        "Demande de concours (EMSI)", "ABC1YU3454", "en attente de réponse")
    assert view.state["casualties"]["yellow"] == 1  # still a situation report


def test_the_territory_list_holds_only_the_cases_of_the_territory_asked(services):
    ingest(services, as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=SDIS)))
    ingest(services, as_json(wire(*fixture("RS-DR"), sender_id=SAMU, recipient_id=SDIS)))
    # A case without any request between services is not listed.
    other = example("RC-EDA/RC-EDA-DouleurThoracique-PierreLegrand")
    ingest(services, as_json(wire(*other)))
    fold_views_then_stop(services)

    def everywhere(placement):
        return True

    listed = territory_requests(services.store, Level.DEPARTEMENT, "35", may_see=everywhere)
    assert listed["total"] == 1
    [item] = listed["items"]
    assert (item["case_id"], item["departement"]) == (FIRE_CASE, "35")
    assert [r["status_text"] for r in item["requests"]] == ["en attente de réponse"]
    assert territory_requests(services.store, Level.DEPARTEMENT, "29", may_see=everywhere)["items"] == []
    # The case decides, whatever the view said.
    assert territory_requests(services.store, Level.DEPARTEMENT, "35", may_see=lambda p: False)["items"] == []


def test_a_patient_level_message_is_quarantined_without_its_bytes_nor_a_word_of_it_in_the_log(services, caplog):
    w = wire("rpis", {"patient": {"lastName": "Dupontel", "firstName": "Amandine"}}, sender_id=SAMU)
    raw = as_json(w)
    with caplog.at_level(logging.DEBUG):
        outcome = ingest(services, raw)
    assert outcome.status == "quarantined"
    [reason] = outcome.reasons
    assert reason["code"] == "medical-record"
    assert reason["message"].startswith("Tocsin ne conserve pas de dossier médical")
    found = get_entry(services.store, outcome.quarantine_id)
    assert found is not None
    entry, kept = found
    assert kept == b""  # the hash and size say what came, the bytes are not held
    assert entry.distribution_id == w["distributionID"]
    assert "Dupontel" not in caplog.text and "Dupontel" not in json.dumps(entry.as_dict(), default=str)
    # Retrying it refuses it again for the same reason, without a new entry for its missing bytes.
    again = retry_quarantined(services.ingestor, entry.id)
    assert again is not None and again.status == "quarantined"
    assert [r["code"] for r in again.reasons] == ["medical-record"]
    assert [e.id for e in list_entries(services.store)] == [entry.id]


def test_the_crisis_log_book_tells_the_requests_of_its_cases(services):
    from datetime import UTC, datetime

    from adapters.crisis.crises import attach_case, open_crisis
    from adapters.crisis.logbook import crisis_as_of
    from domain.access import ROLES, Principal
    from projections.read.crisis_log import crisis_log

    prefet = Principal("p.prefet", ROLES["prefecture"], Level.DEPARTEMENT, "35", services.geography, name="prefet")
    ingest(services, as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=SDIS)))
    crisis = open_crisis(services.store, prefet, title="Feux de Guichen", kind="wildfire", territory="departement:35",
                         start=datetime(2024, 8, 13, 0, 0, tzinfo=UTC))
    attach_case(services.store, crisis.id, prefet, FIRE_CASE)
    ingest(services, as_json(wire(*fixture("RS-DR"), sender_id=SAMU, recipient_id=SDIS,
                                  sent_at="2024-08-13T10:25:00+02:00")))
    log = crisis_log(services.store, services.geography, crisis_as_of(services.store, crisis.id, prefet), prefet)
    lines = [item.text for item in log if item.source == "nexsis"]
    assert (f"{FIRE_CASE} — Demande de ressource entre services (SAMU 35) : SAMU 35 → SDIS 35 : "
            "en attente de réponse") in lines
    assert not any("Carence" in line for line in lines)
