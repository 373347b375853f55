"""The « Règles d'alerte » forms (api/routes/alert_settings_page.py) resubmit the whole settings: what is in
force must come back unchanged when one form changes something else, whatever the rules hold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from api.routes.alert_settings_page import conditions, current, with_own_rule, with_tuning, without_own_rule
from domain.alert import CHANNELS
from domain.alert_rules import DEFAULT_RULES
from domain.alert_settings import rule_from_dict, validated
from domain.geography import Level
from domain.nature import NatureFamily

RENNES = "mairie.35238"
TERRITORY = (Level.COMMUNE, "35238")
REQUIRED = [r for r in DEFAULT_RULES if r.id == "mairie-nouvelle-affaire"]
threshold = st.one_of(st.none(), st.integers(0, 10_000))
own_rules = st.lists(st.fixed_dictionaries({
    "label": st.sampled_from(["Feux", "Inondations", "Nombreuses victimes", "Évacuations"]),
    "families": st.lists(st.sampled_from([f.value for f in NatureFamily]), unique=True, max_size=3),
    "min_victims": threshold, "min_red": threshold, "min_dead": threshold, "min_resources": threshold,
    "evacuation": st.booleans(), "new_case": st.just(True), "grave": st.booleans(),
    "channels": st.lists(st.sampled_from(CHANNELS), unique=True, min_size=1)}), unique_by=lambda r: r["label"],
    max_size=3)
tunings = st.lists(st.fixed_dictionaries({
    "rule_id": st.just("mairie-nouvelle-affaire"), "escalate_after_minutes": st.one_of(st.none(), st.integers(1, 15)),
    "extra_channels": st.lists(st.sampled_from(CHANNELS), unique=True), "grave": st.booleans()}), max_size=1)


def described(stored_tunings: list[dict], stored_rules: list[dict]) -> dict:
    """What adapters.notify.alert_settings.describe gives of these stored settings."""
    by_rule = {t["rule_id"]: t for t in stored_tunings}
    return {"required": [{"id": r.id, "tuning": by_rule.get(r.id)} for r in REQUIRED], "own_rules": stored_rules}


@given(tunings, own_rules)
def test_the_settings_in_force_come_back_unchanged(tuning_specs, rule_specs) -> None:
    stored = validated(REQUIRED, RENNES, TERRITORY, tuning_specs, rule_specs)
    assert validated(REQUIRED, RENNES, TERRITORY, *current(described(*stored))) == stored


@given(tunings, own_rules)
def test_one_form_changes_only_its_own_part(tuning_specs, rule_specs) -> None:
    stored_tunings, stored_rules = validated(REQUIRED, RENNES, TERRITORY, tuning_specs, rule_specs)
    before = described(stored_tunings, stored_rules)
    form = {"escalate_after_minutes": ["5"], "extra_channels": ["sms"]}
    t, r = validated(REQUIRED, RENNES, TERRITORY, *with_tuning(before, "mairie-nouvelle-affaire", form))
    assert r == stored_rules and t == [{"rule_id": "mairie-nouvelle-affaire", "escalate_after_minutes": 5,
                                        "extra_channels": ["sms"], "grave": False,
                                        "more_than_cases_per_hour": None, "on_exercises": False}]
    t, r = validated(REQUIRED, RENNES, TERRITORY, *with_tuning(before, "mairie-nouvelle-affaire", {}))
    assert (t, r) == ([], stored_rules)  # every field emptied: the rule as required again
    added = {"label": ["Une règle de plus"], "evacuation": ["1"], "channels": ["email"]}
    t, r = validated(REQUIRED, RENNES, TERRITORY, *with_own_rule(before, added))
    assert t == stored_tunings and r[:-1] == stored_rules and r[-1]["label"] == "Une règle de plus"
    if stored_rules:
        t, r = validated(REQUIRED, RENNES, TERRITORY, *without_own_rule(before, stored_rules[0]["id"]))
        assert t == stored_tunings and r == stored_rules[1:]


def test_conditions_read_as_french_sentences() -> None:
    [stored] = validated(REQUIRED, RENNES, TERRITORY, [], [
        {"label": "Feux", "families": ["incendie"], "min_red": 1, "channels": ["email"]}])[1]
    assert conditions(rule_from_dict(stored)) == (
        "Nature : Incendie ; au moins 1 victime(s) en urgence absolue (exercices signalés comme tels)")
    assert conditions(REQUIRED[0]) == "Chaque nouvelle affaire (exercices signalés comme tels)"
