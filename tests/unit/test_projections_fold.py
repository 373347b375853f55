"""The views' fold is pure: batches never change the result, and national = Σ zones = Σ départements = Σ communes.

The reference here is a deliberately naive fold (one event at a time, subtract then add every figure),
written apart from projections.fold, which batches and groups its work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.store.codec import CaseEvent
from domain.case_state import ACKNOWLEDGED, REPORTED, RESOURCES, SITUATION, CaseState
from domain.geography import NATIONAL, Level
from domain.identity import case_uuid
from domain.nature import phase_of
from projections.case_list import NO_ZONE, UNPLACED, case_row, fold_event, placement_codes
from projections.memory import MemoryViews, TerritoryRow
from projections.presentation import describe
from projections.territory import LEVELS, add, figures, territories, total

BASE = datetime(2025, 11, 2, 18, 0, tzinfo=UTC)
PLACES = {  # commune -> (département, zone); 97501 is in no zone de défense
    "35238": ("35", "ouest"), "35126": ("35", "ouest"), "29019": ("29", "ouest"),
    "13055": ("13", "sud"), "2A004": ("2A", "sud"), "97501": ("975", None),
}
NATURES = ["C04.02.01", "C08.05.00", "C08.01.00", "C04.05.00", "C01.01.01", "C02.07.04", "C09.01.03", "bad"]
STATUSES = ["DECLENCHE", "DEPART", "ARRIVEE", "PEC", "TRANSP", "RETOUR", "ANNULE", "???"]


def at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


def placement(commune: str | None) -> dict:
    if commune is None:
        return {"insee": None, "departement": None, "zone": None, "method": "unresolved", "notes": ["x"]}
    dep, zone = PLACES[commune]
    return {"insee": commune, "departement": dep, "zone": zone, "method": "insee", "notes": []}


communes = st.sampled_from([*PLACES, None])


@st.composite
def message(draw, case_id: str) -> tuple[str, dict]:
    kind = draw(st.sampled_from([REPORTED, REPORTED, SITUATION, RESOURCES, RESOURCES, ACKNOWLEDGED]))
    if kind == REPORTED:
        facts = {
            "case_id": case_id, "creation": at(draw(st.integers(0, 300))),
            "nature": {"code": draw(st.sampled_from(NATURES)), "label": "Nature"},
            "victims_count": draw(st.sampled_from(["0", "1", "PLUSIEURS", "BEAUCOUP", None])),
            "placement": placement(draw(communes)), "location": {"label": "Lieu", "city": "Ville"},
            "personal": {"caller_name": "Christine Michel"},
        }
    elif kind == SITUATION:
        facts = {
            "case_id": case_id, "created": at(draw(st.integers(0, 600))),
            "event_status": draw(st.sampled_from(["IPR", "COM", "NST", None])),
            "casualties": draw(st.none() | st.fixed_dictionaries(
                {k: st.integers(0, 4) for k in ("red", "yellow", "green", "black", "missing")})),
            "evacuation": draw(st.none() | st.fixed_dictionaries(
                {"displaced": st.integers(0, 40), "evacuated": st.integers(0, 90)})),
            "placement": placement(draw(st.sampled_from(list(PLACES)))) if draw(st.booleans()) else None,
            "missions": [],
        }
    elif kind == RESOURCES:
        resources = []
        rids = st.lists(st.sampled_from(["VSAV1", "FPT2", "CCF3", "VLM4"]), min_size=1, max_size=3, unique=True)
        for rid in draw(rids):
            status = draw(st.sampled_from(STATUSES))
            phase = phase_of(status)
            resources.append({"id": f"{case_id}.{rid}", "kind": rid[:-1], "status": status,
                              "phase": phase.value if phase else None, "status_at": at(draw(st.integers(0, 600)))})
        facts = {"case_id": case_id, "resources": resources}
    else:
        facts = {"refers_to": "fr.fire.x", "refused": False, "step": "RECU"}
    return kind, facts


@st.composite
def event_streams(draw, max_cases: int = 5, max_events: int = 30) -> list[CaseEvent]:
    """Interleaved messages about a few cases, as stored: notification order, recording times that
    mostly but not always grow (two ingesters), message times in any order."""
    cases = [f"fr.fire.sis35.cgo-35.SC-{i}" for i in range(draw(st.integers(1, max_cases)))]
    picks = draw(st.lists(st.sampled_from(cases), min_size=1, max_size=max_events))
    events = []
    for nid, case_id in enumerate(picks, start=1):
        kind, facts = draw(message(case_id))
        provenance = {"distribution_id": f"fr.fire.sis35_{nid:05d}", "sent_at": at(draw(st.integers(0, 600)))}
        recorded = BASE + timedelta(seconds=nid * 10 - draw(st.integers(0, 15)))
        events.append(CaseEvent(nid, case_uuid(case_id), kind, case_id, facts, provenance, recorded))
    return events


def naive_views(events: list[CaseEvent]) -> MemoryViews:
    """One event at a time: subtract the case's old figures, add its new ones, touch its places."""
    views = MemoryViews()
    states: dict[UUID, CaseState] = {}
    stamps: dict[UUID, tuple[datetime, int]] = {}
    for e in events:
        state = states.get(e.originator_id)
        old = None
        if state is not None:
            old = case_row(state, e.originator_id, updated_at=stamps[e.originator_id][0],
                           last_event_id=stamps[e.originator_id][1])
        else:
            state = states[e.originator_id] = CaseState()
        before = placement_codes(state) if old is not None else None
        fold_event(state, e.kind, e.facts, e.provenance)
        state.case_id = state.case_id or e.case_id
        prior = stamps.get(e.originator_id, (e.recorded_at, 0))
        stamps[e.originator_id] = (max(prior[0], e.recorded_at), max(prior[1], e.notification_id))
        new = case_row(state, e.originator_id, updated_at=stamps[e.originator_id][0],
                       last_event_id=stamps[e.originator_id][1])
        views.cases[e.originator_id] = new
        touched = {placement_codes(state)} if before is None else {before, placement_codes(state)}
        for codes in touched:
            for level, code in zip(LEVELS, (*codes, NATIONAL), strict=True):
                place = views.territories[level].setdefault(code, TerritoryRow({}, e.recorded_at))
                place.updated_at = max(place.updated_at, e.recorded_at)
        for row, sign in ((old, -1), (new, 1)):
            if row is not None:
                for level, code in territories(row).items():
                    add(views.territories[level][code].figures, figures(row), sign)
        views.position = e.notification_id
    return views


def batched(events: list[CaseEvent], cuts: list[int]) -> MemoryViews:
    views = MemoryViews()
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    for a, b in zip(bounds, bounds[1:], strict=False):  # consecutive bounds
        views.process(events[a:b])
    return views


def snapshot(views: MemoryViews) -> tuple:
    places = {lv: {c: (r.figures, r.updated_at) for c, r in t.items()} for lv, t in views.territories.items()}
    return views.cases, places


@settings(max_examples=300, deadline=None)
@given(event_streams(), st.lists(st.integers(0, 40), max_size=8))
def test_any_batching_gives_the_naive_event_by_event_fold(events, cuts):
    one_pass = MemoryViews()
    one_pass.process(events)
    assert snapshot(batched(events, cuts)) == snapshot(one_pass) == snapshot(naive_views(events))


@settings(max_examples=300, deadline=None)
@given(event_streams(max_cases=8, max_events=50))
def test_national_is_the_sum_of_zones_of_departements_and_of_communes(events):
    views = MemoryViews()
    views.process(events)
    national = views.territories[Level.NATIONAL][NATIONAL].figures
    for level in LEVELS:
        assert total(r.figures for r in views.territories[level].values()) == national
    assert national["cases:total"] == len(views.cases) == len({e.originator_id for e in events})
    assert sum(1 for c in views.cases.values() if c["status"] != "closed") == national.get("cases:active", 0)


@settings(max_examples=200, deadline=None)
@given(event_streams(max_cases=3, max_events=20), st.integers(0, 10**6))
def test_the_case_fold_is_the_aggregates_whatever_the_arrival_order_of_a_cases_messages(events, seed):
    import random

    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    shuffled = [e._replace(notification_id=i) for i, e in enumerate(shuffled, start=1)]
    a, b = MemoryViews(), MemoryViews()
    a.process(events)
    b.process(shuffled)
    fields = lambda views: {oid: {k: v for k, v in row.items() if k not in ("last_event_id", "messages")}  # noqa: E731
                            for oid, row in views.cases.items()}
    assert fields(a) == fields(b)
    assert {lv: {c: r.figures for c, r in t.items() if r.figures} for lv, t in a.territories.items()} == \
           {lv: {c: r.figures for c, r in t.items() if r.figures} for lv, t in b.territories.items()}


def test_a_correction_that_moves_a_case_moves_every_figure_and_touches_both_places():
    case_id = "fr.fire.sis35.cgo-35.SC-9"
    oid = case_uuid(case_id)
    report = {"case_id": case_id, "nature": {"code": "C04.02.01"}, "victims_count": "1",
              "placement": placement("35238")}
    moved = {**report, "placement": placement("13055")}
    t1, t2 = BASE, BASE + timedelta(minutes=5)
    views = MemoryViews()
    views.process([CaseEvent(1, oid, REPORTED, case_id, report, {"distribution_id": "a", "sent_at": at(0)}, t1)])
    views.process([CaseEvent(2, oid, REPORTED, case_id, moved, {"distribution_id": "b", "sent_at": at(9)}, t2)])
    communes = views.territories[Level.COMMUNE]
    assert communes["35238"].figures == {} and communes["35238"].updated_at == t2
    assert communes["13055"].figures["cases:active"] == 1
    assert views.territories[Level.DEPARTEMENT]["35"].figures == {}
    assert views.territories[Level.ZONE]["sud"].figures["family:incendie:active"] == 1
    assert views.territories[Level.NATIONAL][NATIONAL].figures["cases:total"] == 1


def test_unplaced_cases_and_departements_outside_zones_have_their_own_rows():
    events = [
        CaseEvent(1, case_uuid("a.b.c.1"), REPORTED, "a.b.c.1", {"placement": placement(None)},
                  {"distribution_id": "1"}, BASE),
        CaseEvent(2, case_uuid("a.b.c.2"), REPORTED, "a.b.c.2", {"placement": placement("97501")},
                  {"distribution_id": "2"}, BASE),
    ]
    views = MemoryViews()
    views.process(events)
    assert set(views.territories[Level.COMMUNE]) == {UNPLACED, "97501"}
    assert set(views.territories[Level.DEPARTEMENT]) == {UNPLACED, "975"}
    assert set(views.territories[Level.ZONE]) == {UNPLACED, NO_ZONE}


def test_personal_data_never_reaches_the_views():
    case_id = "fr.fire.sis35.cgo-35.SC-1"
    facts = {"case_id": case_id, "placement": placement("35238"), "personal": {"caller_name": "Christine Michel"}}
    views = MemoryViews()
    views.process([CaseEvent(1, case_uuid(case_id), REPORTED, case_id, facts, {"distribution_id": "1"}, BASE)])
    assert "Christine" not in repr(views.entries) + repr(views.cases)


def test_described_figures_are_labelled_in_french_and_add_up():
    state = CaseState()
    fold_event(state, REPORTED, {"case_id": "x", "nature": {"code": "C08.05.00"}, "victims_count": "PLUSIEURS",
                                 "placement": placement("35238")}, {"distribution_id": "1", "sent_at": at(0)})
    fold_event(state, RESOURCES, {"resources": [
        {"id": "r1", "kind": "VSAV", "status": "ARRIVEE", "phase": "sur-les-lieux", "status_at": at(1)},
        {"id": "r2", "kind": "VSAV", "status": "RETOUR", "phase": "liberee", "status_at": at(2)},
    ]}, {"distribution_id": "2", "sent_at": at(3)})
    row = case_row(state, case_uuid("x"), updated_at=BASE, last_event_id=2)
    view = describe(figures(row))
    assert view["cases_active"] == view["cases_total"] == 1
    assert view["families"] == [
        {"family": "aleas-naturels", "label": "Aléas naturels et météorologiques", "total": 1, "active": 1}
    ]
    assert view["subfamilies"][0]["label"] == "Tempête / intempéries"
    [vsav] = view["resources"]["by_kind"]
    assert (vsav["total"], vsav["engaged"]) == (2, 1)
    assert [p["label"] for p in vsav["by_phase"]] == ["Sur les lieux", "Libérée"]
    assert row["severity"] > 0


DECLARING = ("1", "PLUSIEURS", "BEAUCOUP", "INCONNU")  # HubSante.nbVictimes codes that say someone is hurt


@settings(max_examples=200, deadline=None)
@given(event_streams(max_cases=8, max_events=50))
def test_open_cases_victims_are_counted_apart_from_the_all_time_figures(events):
    """Issue #22: a territory's victims are those of its open cases, not the sum of every case ever."""
    views = MemoryViews()
    views.process(events)
    opened = [c for c in views.cases.values() if c["status"] != "closed"]
    victims = describe(views.territories[Level.NATIONAL][NATIONAL].figures)["victims"]
    live = victims["open"]
    assert live["cases"] == len(opened)
    assert live["cases_with_declared_victims"] == sum(1 for c in opened if c["victims_count"] in DECLARING)
    assert {d["code"]: d["cases"] for d in live["declared"]} == {
        code: n for code in {c["victims_count"] for c in opened}
        if (n := sum(1 for c in opened if c["victims_count"] == code))
    }
    for key in ("red", "yellow", "green", "black", "missing"):
        assert live["triage"][key] == sum(c[key] for c in opened)
    for key in ("displaced", "evacuated"):
        assert live[key] == sum(c[key] for c in opened)
    untriaged = [c for c in opened if c["victims_count"] in DECLARING
                 and not any(c[k] for k in ("red", "yellow", "green", "black", "missing"))]
    assert live["declared_without_triage"] == len(untriaged)
    # The all-time figures stay what they were: every case, open or closed.
    assert victims["triage"]["red"] == sum(c["red"] for c in views.cases.values())


def test_a_territory_whose_victims_are_all_in_closed_cases_shows_none_open_and_says_which_are_declared():
    """Rennes in issue #22: two of three open cases report « plusieurs victimes », no EMSI triage; the
    département's four triaged victims all come from a closed case."""
    def report(n: int, count: str) -> CaseEvent:
        case_id = f"fr.fire.sis35.cgo-35.SC-{n}"
        facts = {"case_id": case_id, "nature": {"code": "C01.01.01"}, "victims_count": count,
                 "placement": placement("35238")}
        return CaseEvent(n, case_uuid(case_id), REPORTED, case_id, facts, {"distribution_id": str(n), "sent_at": at(n)},
                         BASE + timedelta(minutes=n))

    closed_id = "fr.fire.sis35.cgo-35.SC-9"
    closing = CaseEvent(9, case_uuid(closed_id), SITUATION, closed_id, {
        "case_id": closed_id, "created": at(9), "event_status": "COM", "placement": placement("35126"),
        "casualties": {"red": 1, "yellow": 1, "green": 2, "black": 0, "missing": 0}, "missions": [],
    }, {"distribution_id": "9", "sent_at": at(9)}, BASE + timedelta(minutes=9))
    views = MemoryViews()
    views.process([report(1, "PLUSIEURS"), report(2, "PLUSIEURS"), report(3, "0"), closing])
    rennes = describe(views.territories[Level.COMMUNE]["35238"].figures)["victims"]["open"]
    assert rennes["cases_with_declared_victims"] == 2
    assert rennes["triage"] == {"red": 0, "yellow": 0, "green": 0, "black": 0, "missing": 0}
    assert rennes["headline"] == (
        "2 affaires en cours signalent des victimes (« plusieurs victimes » : 2), sans bilan des secours sur place")
    dep = describe(views.territories[Level.DEPARTEMENT]["35"].figures)["victims"]
    assert sum(dep["triage"].values()) == 4 and sum(dep["open"]["triage"].values()) == 0
