"""The crisis aggregate (domain.crisis): what attaches by rule, what a closed crisis refuses, and that no
sequence of acts breaks its invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.crisis import KINDS, Crisis, CrisisClosed, UnknownKind, case_territories, clean_title, kind_named

START = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
PREFET = {"person_id": "p.prefet", "name": "Préfet", "organisation_id": "prefecture.44"}


def crisis(kind: str = "flood", territory: str = "departement:44") -> Crisis:
    return Crisis(title="Crue de la Loire", kind=kind, territory=territory, start=START, opened_by=PREFET,
                  organisation_id="prefecture.44", exercise=False)


def test_a_flood_takes_natural_hazards_of_its_departement_after_its_start():
    c = crisis()
    inside = ["commune:44109", "departement:44", "zone:ouest", "national:FR"]
    assert c.matches(inside, "aleas-naturels", START + timedelta(minutes=1))
    assert not c.matches(inside, "aleas-naturels", START - timedelta(minutes=1)), "before the crisis began"
    assert not c.matches(inside, "accident-circulation", START), "not a family a flood implies"
    assert not c.matches(["commune:35238", "departement:35", "zone:ouest"], "aleas-naturels", START), "elsewhere"


def test_other_takes_every_family():
    assert crisis("other").matches(["departement:44"], "infraction", START)


def test_the_overseas_crisis_shows_its_own_zone():
    assert crisis(territory="departement:974").time_zone == "Indian/Reunion"
    assert crisis().time_zone == "Europe/Paris"


def test_a_case_detached_by_hand_never_comes_back_by_rule_but_may_by_hand():
    c = crisis()
    assert c.attach_by_rule("44-1", START)
    assert not c.attach_by_rule("44-1", START), "attached once"
    c.detach("44-1", PREFET, "sans rapport", START)
    assert not c.attach_by_rule("44-1", START)
    assert "44-1" not in c.cases and "44-1" in c.detached
    assert c.attach_by_hand("44-1", PREFET, START)
    assert c.cases["44-1"]["how"] == "manuel" and "44-1" not in c.detached


def test_a_closed_crisis_refuses_every_act_and_takes_nothing_by_rule():
    c = crisis()
    c.close(PREFET, START + timedelta(days=2), "Décrue")
    for act in (lambda: c.attach_by_hand("44-2", PREFET, START), lambda: c.close(PREFET, START),
                lambda: c.detach("44-2", PREFET, "", START), c.check_open):
        with pytest.raises(CrisisClosed):
            act()
    assert not c.attach_by_rule("44-3", START + timedelta(days=3))
    assert not c.matches(["departement:44"], "aleas-naturels", START + timedelta(days=3))
    assert c.as_dict()["status"] == "close" and c.as_dict()["closing_summary"] == "Décrue"


def test_kinds_and_titles_are_checked():
    with pytest.raises(UnknownKind):
        kind_named("earthquake")
    assert kind_named("wildfire").label == "Feu de forêt"
    assert clean_title("  Crue   de la Loire ") == "Crue de la Loire"
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(ValueError):
            clean_title(bad)


ACTS = st.lists(st.tuples(st.sampled_from(["rule", "hand", "detach", "close"]), st.sampled_from(["a", "b", "c"])),
                max_size=30)


@given(ACTS)
def test_no_sequence_of_acts_breaks_the_invariants(acts):
    """Attached and detached never share a case; nothing changes after closing; replaying the recorded
    events gives the same crisis (the events are the truth)."""
    c = crisis("other")
    events = list(c.collect_events())
    for act, case in acts:
        before = c.as_dict()
        try:
            if act == "rule":
                c.attach_by_rule(case, START)
            elif act == "hand":
                c.attach_by_hand(case, PREFET, START)
            elif act == "detach":
                c.detach(case, PREFET, "", START)
            else:
                c.close(PREFET, START)
        except (CrisisClosed, LookupError):
            assert c.as_dict() == before, "a refused act changes nothing"
        assert not set(c.cases) & set(c.detached)
        if before["status"] == "close":
            assert c.as_dict() == before
        events += c.collect_events()
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None and rebuilt.as_dict() == c.as_dict()


def test_every_kind_has_a_french_label():
    assert all(k.label and k.label[0].isupper() for k in KINDS.values())


def test_a_case_lies_in_its_commune_departement_zone_and_the_nation():
    placed = {"insee": "44109", "departement": "44", "zone": "ouest", "method": "code"}
    assert case_territories(placed) == ("commune:44109", "departement:44", "zone:ouest", "national:FR")
    assert case_territories({"insee": "97411", "departement": "974", "zone": None}) == (
        "commune:97411", "departement:974", "national:FR")
    assert case_territories(None) == ("national:FR",)  # not placed yet: only a national crisis takes it
    assert crisis().matches(case_territories(placed), "aleas-naturels", START)
    assert crisis(territory="national:FR").matches(case_territories(None), "aleas-naturels", START)
    assert not crisis().matches(case_territories(None), "aleas-naturels", START)


@given(st.fixed_dictionaries({"insee": st.sampled_from([None, "", "35238", "44109"]),
                              "departement": st.sampled_from([None, "35", "44"]),
                              "zone": st.sampled_from([None, "ouest", "sud"])}))
def test_a_crisis_takes_a_case_exactly_when_its_territory_holds_it(placement):
    territories = case_territories(placement)
    for territory in ("departement:44", "zone:ouest", "national:FR", "commune:44109"):
        expected = territory == "national:FR" or any(
            placement.get(key) and f"{level}:{placement[key]}" == territory
            for level, key in (("commune", "insee"), ("departement", "departement"), ("zone", "zone")))
        assert crisis("other", territory).matches(territories, "autre", START) is expected
