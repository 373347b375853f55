"""The case fold is pure and order-tolerant: any arrival order of the same messages gives the same state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.case_state import (
    ACKNOWLEDGED,
    CONCOURS,
    REPORTED,
    RESOURCES,
    RESOURCES_REQUEST,
    RESOURCES_RESPONSE,
    RESOURCES_STATUS,
    SITUATION,
    CaseState,
    apply_message,
    best_placement,
)

BASE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
STATUSES = ["DECLENCHE", "DEPART", "ARRIVEE", "PEC", "TRANSP", "RETOUR"]


def at(minutes: int) -> str:
    # Mixed offsets on purpose: CISU senders write +01:00, +02:00 or -00:00 for the same instant.
    offset = [0, 1, 2][minutes % 3]
    return (BASE + timedelta(minutes=minutes)).astimezone(
        __import__("datetime").timezone(timedelta(hours=offset))
    ).isoformat()


@st.composite
def messages(draw):
    """A list of (kind, facts, provenance) about one case, each with a distinct distributionID."""
    count = draw(st.integers(1, 12))
    result = []
    for i in range(count):
        kind = draw(st.sampled_from([
            REPORTED, SITUATION, RESOURCES, ACKNOWLEDGED, CONCOURS, RESOURCES_REQUEST, RESOURCES_RESPONSE,
            RESOURCES_STATUS,
        ]))
        minute = draw(st.integers(0, 600))
        prov = {"distribution_id": f"fr.fire.sis35_{i:03d}", "sent_at": at(minute),
                "sender_id": draw(st.sampled_from(["fr.fire.sis35.cgo-35", "fr.health.samu35"])),
                "recipients": [draw(st.sampled_from(["fr.fire.sis35.cgo-35", "fr.health.samu35"]))]}
        if kind == REPORTED:
            facts = {
                "case_id": "fr.fire.sis35.SC-1",
                "creation": at(draw(st.integers(0, 600))),
                "nature": {"code": draw(st.sampled_from(["C04.02.01", "C08.03.00", "C01.01.01"])), "label": "x"},
                "victims_count": draw(st.sampled_from(["0", "1", "PLUSIEURS"])),
                # Absent parts too: a newer message without them must not hide an older one's.
                "placement": draw(st.sampled_from([{"insee": "35238"}, {"insee": "35126"}, None])),
            }
        elif kind in (RESOURCES_REQUEST, RESOURCES_RESPONSE):
            request_id = draw(st.sampled_from(["fr.health.samu35.request.1", "fr.health.samu35.request.2"]))
            facts = {"case_id": "fr.fire.sis35.SC-1", "request_id": request_id}
            if kind == RESOURCES_REQUEST:
                facts |= {"requested_at": at(minute), "purpose": draw(st.sampled_from(["SAP", "RELEVE"])),
                          "deadline": draw(st.sampled_from(["30M", "1H", None])), "cancelled": draw(st.booleans())}
            else:
                facts |= {"answer": draw(st.sampled_from(["ACCEPTEE", "REFUSEE", "PARTIELLE"])),
                          "answered_at": at(draw(st.integers(0, 600)))}
        elif kind == RESOURCES_STATUS:
            facts = {"case_id": "fr.fire.sis35.SC-1", "resource_id": "fr.fire.sis35.resource.VSAV1",
                     "status": draw(st.sampled_from(STATUSES)), "status_at": at(draw(st.integers(0, 600))),
                     "available": draw(st.none() | st.booleans())}
        elif kind in (SITUATION, CONCOURS):
            concours = [
                {"id": "DC1", "name": "#DEMANDE_CONCOURS#CARENCE#Z.01.00.00#", "org_id": "fr.health.samu35",
                 "status": draw(st.sampled_from(["IPR", "CANCLD", "COM"])), "start": at(minute)},
                {"id": draw(st.sampled_from(["DC1", "R7"])), "main_mission_id": draw(st.sampled_from([None, "DC1"])),
                 "name": "#REPONSE_DEMANDE_CONCOURS#" + draw(st.sampled_from(["ACCEPTE", "REFUS"])) + "#",
                 "status": "NST", "start": at(draw(st.integers(0, 600)))},
            ] if kind == CONCOURS else []
            facts = {
                "case_id": "fr.fire.sis35.SC-1",
                "created": at(minute),
                "event_status": draw(st.sampled_from(["IPR", "COM", "NST", None])),
                "casualties": draw(st.none() | st.fixed_dictionaries(
                    {"red": st.integers(0, 5), "yellow": st.integers(0, 5)})),
                "evacuation": draw(st.none() | st.fixed_dictionaries(
                    {"displaced": st.integers(0, 50), "evacuated": st.integers(0, 5)})),
                "missions": [{"id": "M1", "status": draw(st.sampled_from(["IPR", "COM"]))}, *concours],
            }
        elif kind == RESOURCES:
            facts = {
                "case_id": "fr.fire.sis35.SC-1",
                "resources": [
                    {
                        "id": draw(st.sampled_from(["fr.fire.sis35.resource.VSAV1", "fr.fire.sis35.resource.FPT2"])),
                        "status": draw(st.sampled_from(STATUSES)),
                        "status_at": at(draw(st.integers(0, 600))),
                    }
                ],
            }
        else:
            facts = {"refers_to": "x"}
        result.append((kind, facts, prov))
    return result


def fold(items) -> dict:
    state = CaseState()
    for kind, facts, prov in items:
        apply_message(state, kind, facts, prov)
    return state.as_dict()


@settings(max_examples=200, deadline=None)
@given(messages(), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_state(items, rnd):
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(items)


def test_a_later_correction_wins_even_when_it_arrives_first():
    first = (REPORTED, {"nature": {"code": "C04.02.01", "label": "Incendie"}, "creation": at(0)},
             {"distribution_id": "a", "sent_at": at(1)})
    correction = (REPORTED, {"nature": {"code": "C08.03.00", "label": "Inondation"}, "creation": at(0)},
                  {"distribution_id": "b", "sent_at": at(30)})
    for order in ([first, correction], [correction, first]):
        state = fold(order)
        assert state["nature"]["code"] == "C08.03.00"
        assert state["corrections"] == 1
        assert state["opened_at"] == at(0)


def test_resource_status_never_goes_back_in_time():
    newer = (RESOURCES, {"resources": [{"id": "r1", "status": "ARRIVEE", "status_at": at(20)}]},
             {"distribution_id": "a", "sent_at": at(21)})
    older = (RESOURCES, {"resources": [{"id": "r1", "status": "DEPART", "status_at": at(10)}]},
             {"distribution_id": "b", "sent_at": at(22)})
    assert fold([newer, older])["resources"]["r1"]["status"] == "ARRIVEE"


def test_emsi_completion_closes_and_a_newer_update_reopens():
    closed = (SITUATION, {"event_status": "COM", "created": at(50)}, {"distribution_id": "a", "sent_at": at(50)})
    reopened = (SITUATION, {"event_status": "IPR", "created": at(70)}, {"distribution_id": "b", "sent_at": at(70)})
    assert fold([closed])["status"] == "closed"
    assert fold([reopened, closed])["status"] == "open"


def test_field_position_places_a_case_its_report_could_not():
    state = CaseState()
    apply_message(state, REPORTED, {"placement": {"insee": None, "method": "unresolved"}},
                  {"distribution_id": "a", "sent_at": at(0)})
    apply_message(state, SITUATION, {"placement": {"insee": "35238", "method": "point"}, "created": at(5)},
                  {"distribution_id": "b", "sent_at": at(5)})
    assert (best_placement(state) or {}).get("insee") == "35238"
