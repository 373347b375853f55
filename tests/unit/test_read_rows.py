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
