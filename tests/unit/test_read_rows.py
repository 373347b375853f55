"""The one shape of a case row: the message's own point when it gave one, else a point in the commune."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from adapters.geography import get_geography
from domain.case_state import CaseState
from projections.case_list import CASE_COLUMNS, UNPLACED, case_row, fold_event
from projections.read.rows import case_json, row_placement


@pytest.fixture(scope="module")
def geo():
    return get_geography()


def _row(placement: dict | None) -> dict:
    facts = {"case_id": "fr.a.b.1", **({"placement": placement} if placement else {})}
    state = fold_event(CaseState(), "createCase", facts, {"distribution_id": "1"})
    return case_row(state, uuid.uuid4(), updated_at=datetime(2025, 1, 1, tzinfo=UTC), last_event_id=7)


def test_a_row_carries_every_column_json_ready_with_the_messages_point(geo):
    row = _row({"insee": "35238", "departement": "35", "zone": "ouest", "point": [48.11, -1.68]})
    shown = case_json(row, geo)
    assert set(CASE_COLUMNS) <= set(shown)
    assert (shown["lat"], shown["lon"], shown.get("approximate")) == (48.11, -1.68, None)
    assert shown["commune_name"] == "Rennes" and shown["updated_at"] == "2025-01-01T00:00:00+00:00"
    assert shown["originator_id"] == str(row["originator_id"]) and shown["last_event_id"] == 7


def test_without_a_point_the_row_is_placed_inside_its_commune(geo):
    shown = case_json(_row({"insee": "35238", "departement": "35", "zone": "ouest"}), geo)
    assert shown["approximate"] is True and shown["lat"] is not None
    assert geo.locate_many([shown["lat"]], [shown["lon"]])[0] == "35238"


def test_an_unplaced_case_has_no_point_and_no_known_territory(geo):
    row = _row(None)
    shown = case_json(row, geo)
    assert shown["commune"] == UNPLACED and shown["lat"] is None and "approximate" not in shown
    assert row_placement(shown) == {"insee": None, "departement": None, "zone": None}


def _case(commune: str, departement: str, zone: str, *, created: str, victims: str = "0",
          casualties: dict | None = None, statuses: tuple[str, ...] = ()) -> dict:
    from domain.case_state import REPORTED, RESOURCES, SITUATION
    from domain.nature import phase_of

    state = CaseState()
    fold_event(state, REPORTED, {"case_id": "fr.a.b.2", "creation": created, "victims_count": victims,
                                 "nature": {"code": "C01.01.01", "label": "Véhicule léger, fourgon"},
                                 "placement": {"insee": commune, "departement": departement, "zone": zone}},
               {"distribution_id": "1", "sent_at": created})
    if casualties:
        fold_event(state, SITUATION, {"case_id": "fr.a.b.2", "created": created, "casualties": casualties},
                   {"distribution_id": "2", "sent_at": created})
    if statuses:
        fold_event(state, RESOURCES, {"resources": [
            {"id": f"r{i}", "kind": "VSAV", "status": s, "phase": getattr(phase_of(s), "value", None),
             "status_at": created}
            for i, s in enumerate(statuses)]}, {"distribution_id": "3", "sent_at": created})
    return case_row(state, uuid.uuid4(), updated_at=datetime(2025, 1, 1, tzinfo=UTC), last_event_id=3)


def test_a_row_says_in_words_when_it_opened_in_its_zone_its_victims_its_resources_and_how_serious(geo):
    """Issue #22: what the case list shows is worded and formatted server-side, in the territory's zone."""
    rennes = case_json(_case("35238", "35", "ouest", created="2026-12-07T18:15:00+01:00", victims="PLUSIEURS",
                             statuses=("ARRIVEE", "REN-BASE")), geo)
    assert rennes["opened_at_text"] == "07/12/2026 18:15 (heure de Paris)"
    assert rennes["nature_label"] == "Accident de la circulation — véhicule léger, fourgon"
    assert rennes["victims_text"] == "plusieurs victimes (déclaré à l'appel)"
    assert rennes["resources_text"] == "1 engagé sur 2"
    cayenne = case_json(_case("97302", "973", "guyane", created="2026-12-07T18:15:00+01:00",
                              casualties={"red": 1, "yellow": 2}, statuses=("REN-BASE",)), geo)
    assert cayenne["opened_at_text"] == "07/12/2026 14:15 (heure de Guyane)"
    assert cayenne["victims_text"] == "3 au bilan des secours (1 urgence absolue)"
    assert cayenne["resources_text"] == "tous libérés ou rentrés"
    assert cayenne["severity_label"] == "Très grave" and rennes["severity_label"] in ("Grave", None)
    quiet = case_json(_case("35238", "35", "ouest", created="2026-12-07T18:15:00+01:00"), geo)
    assert quiet["severity_label"] is None and quiet["victims_text"] == "aucune"
