"""The crisis simulator (adapters/simulator): sizes, determinism, validity of every message, and the
properties a realistic NexSIS feed has (lifecycles in order, late createCase, duplicates, geography)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cisu import parse_wire_message
from adapters.cisu.nomenclature import nomenclature
from adapters.geography import get_geography
from adapters.simulator import SCENARIOS, SimulatedMessage, simulate, write_messages
from adapters.simulator.scenarios import get_scenario
from adapters.simulator.timeline import crisis_hours
from domain.nature import status_rank

SIZE = 300
DIRTY_GEOGRAPHY = {"wrong-commune", "postal-code-as-insee", "no-insee-code", "insee-not-expressible"}


class Parsed:
    """A simulated message with its parsed wire form."""

    def __init__(self, message: SimulatedMessage) -> None:
        self.message = message
        self.wire = parse_wire_message(message.raw, message.content_type)


_runs: dict[tuple, list[Parsed]] = {}


def run(scenario: str, size: int = SIZE, seed: int = 7, **options) -> list[Parsed]:
    """Generated and parsed once per argument set for the whole module (parsing validates)."""
    key = (scenario, size, seed, tuple(sorted(options.items())))
    if key not in _runs:
        _runs[key] = [Parsed(m) for m in simulate(scenario, size=size, seed=seed, **options)]
    return _runs[key]


_json_runs: dict[tuple, list[SimulatedMessage]] = {}


def _json_run(scenario: str, size: int, seed: int) -> list[SimulatedMessage]:
    """Bigger JSON-only runs (fast to generate) for rare events, shared by tests."""
    key = (scenario, size, seed)
    if key not in _json_runs:
        _json_runs[key] = list(simulate(scenario, size=size, seed=seed, xml_ratio=0.0))
    return _json_runs[key]


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario(request) -> str:
    return request.param


# -- contract ----------------------------------------------------------------------------------------


def test_scenarios_are_described_in_french():
    assert set(SCENARIOS) == {"storm", "wildfire", "flood"}
    assert all(len(text) > 40 for text in SCENARIOS.values())
    with pytest.raises(ValueError):
        simulate("tsunami")
    with pytest.raises(ValueError):
        simulate("storm", size=-1)
    with pytest.raises(ValueError):
        simulate("storm", xml_ratio=1.5)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=st.sampled_from(sorted(SCENARIOS)), size=st.integers(0, 60), seed=st.integers(0, 10**6),
       duplicate_ratio=st.sampled_from([0.0, 0.01, 0.3]))
def test_exactly_size_messages_and_every_case_created(scenario, size, seed, duplicate_ratio):
    messages = list(simulate(scenario, size=size, seed=seed, xml_ratio=0.0, duplicate_ratio=duplicate_ratio))
    assert len(messages) == size
    created = {m.case_id for m in messages if m.kind == "createCase"}
    assert {m.case_id for m in messages} <= created  # truncating the last case keeps its createCase


def test_same_seed_same_bytes_other_seed_other_bytes():
    first = list(simulate("storm", size=120, seed=42))
    again = list(simulate("storm", size=120, seed=42))
    assert first == again
    other = list(simulate("storm", size=120, seed=43))
    assert [m.raw for m in other] != [m.raw for m in first]


def test_streaming_does_not_materialise_the_run():
    stream = simulate("flood", size=1_000_000, seed=3, xml_ratio=0.0)
    head = list(itertools.islice(stream, 500))
    assert len(head) == 500 and all(isinstance(m, SimulatedMessage) for m in head)


def test_crisis_length_follows_size():
    assert crisis_hours(100) == 6 and crisis_hours(1_000_000) == 48
    messages = _json_run("wildfire", 6000, 5)
    starts = [m.sent_at for m in messages if m.kind == "createCase"]
    span = (max(starts) - min(starts)).total_seconds() / 3600
    assert 0.8 * crisis_hours(6000) <= span <= crisis_hours(6000) + 1  # long operations end later


# -- every message is a valid wire message -------------------------------------------------------------


def test_every_message_is_valid_and_described_truthfully(scenario):
    messages = run(scenario)
    assert len(messages) == SIZE
    namespaces = set()
    for parsed in messages:
        m, wire = parsed.message, parsed.wire
        assert wire.kind == m.kind
        assert wire.distribution_id == m.distribution_id
        assert wire.encoding == ("xml" if m.content_type == "application/xml" else "json")
        assert datetime.fromisoformat(wire.envelope["dateTimeSent"]) == m.sent_at
        assert m.sent_at.utcoffset() is not None
        namespaces.add(wire.xml_namespace)
        case_id = wire.use_case.get("caseId") or (wire.use_case.get("EVENT") or {}).get("MAIN_EVENT_ID")
        if m.kind != "reference":
            assert case_id == m.case_id
    assert {"urn:emergency:eda:1.9", None} <= namespaces
    kinds = {p.message.kind for p in messages}
    assert kinds == {"createCase", "resourcesInfoCisu", "emsi", "reference"}


def test_xml_ratio_and_cisu_namespace_peers():
    messages = run("storm", size=600, seed=3)
    xml = [p for p in messages if p.message.content_type == "application/xml"]
    assert 0.55 < len(xml) / len(messages) < 0.85
    assert {p.wire.xml_namespace for p in xml} == {"urn:emergency:eda:1.9", "urn:emergency:cisu:3.0"}
    assert all(p.message.content_type == "application/json" for p in run("storm", size=80, seed=3, xml_ratio=0.0))


# -- duplicates, ordering, references ----------------------------------------------------------------


def test_duplicates_are_the_same_bytes_sent_again():
    messages = [p.message for p in run("wildfire", size=SIZE, seed=9, duplicate_ratio=0.2)]
    first_seen: dict[str, SimulatedMessage] = {}
    duplicates = 0
    for m in messages:
        if m.is_duplicate:
            duplicates += 1
            original = first_seen[m.distribution_id]  # the original came first
            assert m.raw == original.raw and m.content_type == original.content_type
            assert (m.kind, m.case_id, m.sent_at) == (original.kind, original.case_id, original.sent_at)
        else:
            assert m.distribution_id not in first_seen
            first_seen[m.distribution_id] = m
    assert 0.1 * SIZE < duplicates < 0.3 * SIZE
    assert not any(m.is_duplicate for m in simulate("flood", size=200, seed=9, duplicate_ratio=0.0))


def test_late_create_case_arrives_after_messages_of_its_case():
    messages = _json_run("storm", 4000, 21)
    late = [i for i, m in enumerate(messages) if "late-create-case" in m.anomalies and not m.is_duplicate]
    assert late, "the run should contain a late createCase"
    for index in late:
        case_id = messages[index].case_id
        before = [m for m in messages[:index] if m.case_id == case_id]
        assert before and all("before-create-case" in m.anomalies for m in before)
        assert any(m.kind == "resourcesInfoCisu" for m in before)
    for index, m in enumerate(messages):  # and nothing else arrives before its createCase
        if m.kind != "createCase" and "before-create-case" not in m.anomalies:
            assert any(p.kind == "createCase" and p.case_id == m.case_id for p in messages[:index])


def test_references_acknowledge_earlier_messages_of_the_same_case(scenario):
    messages = run(scenario)
    seen: dict[str, Parsed] = {}
    references = 0
    for parsed in messages:
        m = parsed.message
        if m.kind == "reference" and not m.is_duplicate:
            references += 1
            target = seen[parsed.wire.use_case["distributionID"]]
            assert target.message.case_id == m.case_id
            # the acknowledgement goes back from the recipient to the sender
            assert parsed.wire.sender_id == target.wire.envelope["descriptor"]["explicitAddress"][
                "explicitAddressValue"]
        seen.setdefault(m.distribution_id, parsed)
    assert references > 0


def test_resource_statuses_follow_the_lifecycle(scenario):
    by_resource: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    busy: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for parsed in run(scenario):
        if parsed.message.kind != "resourcesInfoCisu":
            continue
        use_case = parsed.wire.use_case
        for resource in use_case["resource"]:
            state = resource["state"]
            by_resource[(use_case["caseId"], resource["resourceId"])].append((state["datetime"], state["status"]))
            busy[resource["resourceId"]][use_case["caseId"]].append(datetime.fromisoformat(state["datetime"]))
    assert by_resource
    for key, states in by_resource.items():
        ordered = sorted(states, key=lambda s: datetime.fromisoformat(s[0]))
        ranks = [status_rank(status) for _, status in ordered]
        known = [rank for rank in ranks if rank is not None]
        assert known == ranks and known == sorted(known), (key, ordered)
    # a vehicle is never on two cases at the same time
    for resource_id, cases in busy.items():
        spans = sorted((min(times), max(times)) for times in cases.values())
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, resource_id


def test_a_vehicle_goes_through_a_full_lifecycle():
    statuses = defaultdict(list)
    for parsed in run("storm"):
        if parsed.message.kind == "resourcesInfoCisu":
            for r in parsed.wire.use_case["resource"]:
                statuses[r["resourceId"]].append(r["state"]["status"])
    complete = [s for s in statuses.values() if {"DECLENCHE", "DEPART", "ARRIVEE", "RETOUR", "REN-BASE"} <= set(s)]
    assert complete
    transported = [s for s in statuses.values() if {"TRANSP", "DESTIN"} <= set(s)]
    assert transported


# -- EMSI --------------------------------------------------------------------------------------------


def test_emsi_describe_known_cases_and_close_them(scenario):
    messages = run(scenario)
    created = {p.message.case_id for p in messages if p.message.kind == "createCase"}
    events: dict[str, list[dict]] = defaultdict(list)
    for parsed in messages:
        if parsed.message.kind == "emsi" and not parsed.message.is_duplicate:
            event = parsed.wire.use_case["EVENT"]
            assert event["MAIN_EVENT_ID"] in created
            for casualties in event.get("CASUALTIES", []):
                assert all(casualties[k] >= 0 for k in ("TRIAGERED", "TRIAGEYELLOW", "TRIAGEGREEN", "TRIAGEBLACK"))
            events[event["MAIN_EVENT_ID"]].append(parsed.wire.use_case)
    assert events
    for pictures in events.values():
        pictures.sort(key=lambda e: datetime.fromisoformat(e["CONTEXT"]["CREATION"]))
        statuses = [e["EVENT"]["STATUS"] for e in pictures]
        assert "COM" not in statuses[:-1]  # IPR until closed, COM last
        assert pictures[0]["CONTEXT"]["MSGTYPE"] == "ALERT"


@pytest.mark.parametrize("scenario_key", ["wildfire", "flood"])
def test_evacuations_rise_then_fall(scenario_key):
    messages = _json_run(scenario_key, 3000, 4)
    series: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for m in messages:
        if m.kind == "emsi" and not m.is_duplicate:
            emsi = orjson.loads(m.raw)["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["emsi"]
            for evac in emsi["EVENT"].get("EVAC", []):
                series[m.case_id].append((datetime.fromisoformat(evac["DATIME"]), evac["EVACUATED"]))
                assert 0 <= evac["DISPLACED"] <= evac["EVACUATED"]
    shapes = []
    for points in series.values():
        values = [v for _, v in sorted(points)]
        if len(values) >= 4:
            peak = max(values)
            shapes.append(values[0] < peak and values[-1] < peak)
    assert shapes and any(shapes)


# -- geography and nomenclatures ---------------------------------------------------------------------


def _create_cases(messages: list[Parsed]):
    for parsed in messages:
        if parsed.message.kind == "createCase" and not parsed.message.is_duplicate:
            yield parsed.message, parsed.wire.use_case


def test_cases_are_in_real_communes_of_the_scenario(scenario):
    geo = get_geography()
    departements = {d for d, _, _ in get_scenario(scenario).departements}
    rows = list(_create_cases(run(scenario)))
    points = [uc["location"]["geometry"]["point"]["coord"] for _, uc in rows]
    located = geo.locate_many([p["lat"] for p in points], [p["lon"] for p in points])
    clean = 0
    for (message, use_case), found in zip(rows, located, strict=True):
        city = use_case["location"].get("city", {})
        assert found is not None and geo.communes[found].departement in departements
        anomalies = set(message.anomalies) & DIRTY_GEOGRAPHY
        if not anomalies:
            clean += 1
            assert city["inseeCode"] == found and city["name"] == geo.communes[found].name
        elif "postal-code-as-insee" in anomalies:
            assert city["inseeCode"] in geo.communes[found].postal_codes and city["inseeCode"] != found
        elif "wrong-commune" in anomalies:
            assert city["inseeCode"] in geo.communes and city["inseeCode"] != found
        else:  # no inseeCode at all (dirty field data, or a Corsican code the schema cannot carry)
            assert "inseeCode" not in city
            assert city.get("name", geo.communes[found].name) == geo.communes[found].name
    expressible = [m for m, _ in rows if "insee-not-expressible" not in m.anomalies]
    assert clean > 0.8 * len(expressible)


def test_dirty_geography_and_corrections_are_present():
    messages = _json_run("storm", 4000, 21)
    flags = {a for m in messages for a in m.anomalies}
    assert {"postal-code-as-insee", "no-insee-code", "wrong-commune", "corrected-location",
            "mistyped-nature", "corrected-nature"} <= flags
    natures: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for m in messages:
        if m.kind == "createCase" and not m.is_duplicate:
            cc = orjson.loads(m.raw)["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]["createCase"]
            natures[m.case_id].append((cc["qualification"]["whatsHappen"]["code"], m.anomalies))
    corrected = [n for n in natures.values() if any("corrected-nature" in a for _, a in n)]
    assert corrected
    for versions in corrected:
        (first, first_flags), (last, _) = versions[0], versions[-1]
        assert "mistyped-nature" in first_flags and first != last


def test_codes_and_labels_come_from_the_nomenclatures(scenario):
    fait, lieu, risque = (nomenclature(n) for n in ("HubSante.fait", "HubSante.lieu", "HubSante.risque"))
    counts = set(nomenclature("HubSante.nbVictimes").codes())
    profiles = get_scenario(scenario).profiles
    allowed = {p.nature for p in profiles} | {p.mistyped_nature for p in profiles if p.mistyped_nature}
    for _, use_case in _create_cases(run(scenario)):
        q = use_case["qualification"]
        assert q["whatsHappen"]["code"] in allowed
        assert q["whatsHappen"]["label"] == fait.label(q["whatsHappen"]["code"])
        assert q["locationKind"]["label"] == lieu.label(q["locationKind"]["code"])
        assert all(r["label"] == risque.label(r["code"]) for r in q.get("riskThreat", []))
        assert q["victims"]["count"] in counts
        assert use_case["caseId"].endswith("." + use_case["senderCaseId"])
        assert use_case["caseId"].startswith(("fr.fire.", "fr.health."))
        caller = use_case["initialAlert"]["caller"]
        assert caller["detailedName"]["complete"] and caller["callerContact"]["detail"].lstrip("+").isdigit()


# -- files -------------------------------------------------------------------------------------------


def test_write_messages(tmp_path: Path):
    messages = [p.message for p in run("flood")][:23]
    assert write_messages(iter(messages), tmp_path, files_per_folder=10) == 23
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0000", "0001", "0002"]
    assert len(list((tmp_path / "0000").iterdir())) == 10
    for seq, message in enumerate(messages):
        extension = "xml" if message.content_type == "application/xml" else "json"
        path = tmp_path / f"{seq // 10:04d}" / f"{seq:07d}-{message.kind}.{extension}"
        assert path.read_bytes() == message.raw
    assert write_messages(messages[:3], tmp_path / "default") == 3
    assert len(list((tmp_path / "default" / "0000").iterdir())) == 3
    assert write_messages([], tmp_path / "empty") == 0


def test_each_simulated_crisis_has_its_own_case_ids():
    """Issue #22: two `make run` on the same store merged two crises into the same cases (ids reused
    across seeds and scenarios: a car accident in Rennes became a storm in Gahard)."""
    from datetime import UTC, datetime

    from adapters.simulator import simulate

    def ids(scenario: str, seed: int, start: datetime | None = None) -> set[str]:
        return {m.case_id for m in simulate(scenario, size=150, seed=seed, start=start)}

    start = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    first = ids("storm", 1, start)
    assert ids("storm", 1, start) == first  # same arguments, same crisis: its messages are duplicates
    assert not first & ids("storm", 2, start)
    assert not first & ids("flood", 1, start)
    assert not first & ids("storm", 1, datetime(2026, 12, 7, 18, 0, tzinfo=UTC))


def test_the_readme_says_how_long_the_demonstration_crisis_runs():
    """Issue #22: the README said the crisis ends after 20 minutes; its follow-up messages run for hours."""
    import re
    from datetime import UTC, datetime, timedelta

    from adapters.simulator import simulate
    from adapters.simulator.timeline import crisis_hours
    from api.cli.run import LIVE_TAIL
    from tests.support.paths import ROOT

    readme = (ROOT / "README.md").read_text()
    assert "during the next 20 minutes" not in readme
    claim = re.search(r"new cases arrive for about (\d+) minutes, and their follow-up messages \(.*?\) for "
                      r"(\d+) to (\d+) more hours", readme, re.S)
    assert claim, "the README must say how long `make run` keeps sending messages"
    minutes, low, high = (int(g) for g in claim.groups())
    assert minutes == LIVE_TAIL.total_seconds() / 60
    now = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    for seed in (1, 2):
        start = now + LIVE_TAIL - timedelta(hours=crisis_hours(3000))
        last = max(m.sent_at for m in simulate("storm", size=3000, seed=seed, start=start))
        assert timedelta(hours=low) <= last - now <= timedelta(hours=high)
