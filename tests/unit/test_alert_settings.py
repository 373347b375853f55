"""An organisation's alert settings (domain.alert_settings): stricter than required, never looser; rules of
its own about its own territory; and the rule book the policy folds from the settings events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.alert_rules import DEFAULT_RULES, Observation, OnExercise, Target, Tier, evaluate, matches
from domain.alert_settings import (
    AlertSettings,
    RuleBook,
    SettingRefused,
    Tuning,
    check_within,
    own_rule,
    rule_as_dict,
    rule_from_dict,
    tuned,
    validated,
)
from domain.geography import Level
from tests.unit.test_alert_rules import observations, rules

NEW_CASE = next(r for r in DEFAULT_RULES if r.id == "mairie-nouvelle-affaire")  # escalates after 15 min
RUSH = next(r for r in DEFAULT_RULES if r.more_than_cases_per_hour is not None)
GUICHEN = (Level.COMMUNE, "35126")


def test_a_mairie_may_escalate_sooner_but_not_later():
    check_within(NEW_CASE, Tuning(NEW_CASE.id, escalate_after_minutes=5))
    assert tuned(NEW_CASE, Tuning(NEW_CASE.id, escalate_after_minutes=5)).escalation[0].after == timedelta(minutes=5)
    for later in (16, 60 * 24):
        with pytest.raises(SettingRefused, match="pas la retarder"):
            check_within(NEW_CASE, Tuning(NEW_CASE.id, escalate_after_minutes=later))
    with pytest.raises(SettingRefused):
        check_within(NEW_CASE, Tuning(NEW_CASE.id, escalate_after_minutes=0))


def test_a_prefecture_may_lower_the_rush_threshold_but_not_raise_it():
    assert RUSH.more_than_cases_per_hour is not None
    check_within(RUSH, Tuning(RUSH.id, more_than_cases_per_hour=5))
    with pytest.raises(SettingRefused, match="pas le relever"):
        check_within(RUSH, Tuning(RUSH.id, more_than_cases_per_hour=RUSH.more_than_cases_per_hour + 1))
    with pytest.raises(SettingRefused, match="canal inconnu"):
        check_within(RUSH, Tuning(RUSH.id, extra_channels=("pigeon",)))


def test_own_rules_alert_the_organisation_about_its_own_territory_only():
    rule = own_rule("mairie.35126", GUICHEN, {"label": "Victimes à Guichen", "min_victims": 1, "channels": ["email"]})
    assert rule.target is Target.ORGANISATION and rule.organisation_id == "mairie.35126"
    assert rule.territory == GUICHEN and rule.id == "mairie.35126:victimes-a-guichen"
    assert rule_from_dict(rule_as_dict(rule)) == rule
    with pytest.raises(SettingRefused, match="au moins une condition"):
        own_rule("mairie.35126", GUICHEN, {"label": "Tout"})
    with pytest.raises(SettingRefused, match="famille de nature inconnue"):
        own_rule("mairie.35126", GUICHEN, {"label": "x", "families": ["volcan"]})
    with pytest.raises(SettingRefused, match="intitulé"):
        own_rule("mairie.35126", GUICHEN, {"label": " ", "new_case": True})


def test_settings_name_known_rules_and_distinct_own_rules():
    with pytest.raises(SettingRefused, match="règle inconnue"):
        validated(DEFAULT_RULES, "mairie.35126", GUICHEN, [{"rule_id": "aucune"}], [])
    twice = [{"label": "Feux", "families": ["incendie"]}] * 2
    with pytest.raises(SettingRefused, match="même intitulé"):
        validated(DEFAULT_RULES, "mairie.35126", GUICHEN, [], twice)


tunings = st.builds(
    Tuning,
    rule_id=st.just("x"),
    escalate_after_minutes=st.none() | st.integers(-5, 60 * 48),
    extra_channels=st.lists(st.sampled_from(["email", "push", "sms", "voix"]), max_size=3).map(tuple),
    grave=st.booleans(),
    more_than_cases_per_hour=st.none() | st.integers(-2, 100),
    on_exercises=st.booleans(),
)


@given(rules.map(lambda r: r if r.escalation else replace(r, escalation=(
    Tier(timedelta(minutes=15), Target.PREFECTURE),))), tunings, observations)
def test_an_accepted_tuning_never_alerts_less_later_or_on_fewer_channels(rule, tuning, obs):
    try:
        check_within(rule, tuning)
    except SettingRefused:
        return
    stricter = tuned(rule, tuning)
    if matches(rule, obs):
        assert matches(stricter, obs)
    if rule.on_exercise is OnExercise.MARK:
        assert stricter.on_exercise is OnExercise.MARK
    assert set(rule.channels) <= set(stricter.channels)
    assert all(s.after <= r.after for s, r in zip(stricter.escalation, rule.escalation, strict=True))
    assert stricter.id == rule.id, "the same rule names the same alerts"


def test_the_rule_book_follows_the_settings_events_and_evaluates_tuned_rules():
    settings = AlertSettings(organisation_id="mairie.35126")
    stored_tunings, own = validated(DEFAULT_RULES, "mairie.35126", GUICHEN,
                                    [{"rule_id": NEW_CASE.id, "escalate_after_minutes": 5, "extra_channels": ["sms"]}],
                                    [{"label": "Évacuations", "evacuation": True}])
    settings.change(stored_tunings, own, {"person_id": "p"}, datetime.now(UTC))
    book = RuleBook(DEFAULT_RULES)
    book.apply(settings)
    obs = Observation(case_id="fr.fire.sis35.C-1", recorded_at=datetime.now(UTC), sent_at=None, insee="35126",
                      departement="35", new_case=True, evacuated=3)
    decisions = {d.rule.id: d for d in evaluate(book.rules(), obs, tune=book.for_organisation)}
    assert decisions[NEW_CASE.id].rule.escalation[0].after == timedelta(minutes=5)
    assert decisions[NEW_CASE.id].rule.channels == ("email", "sms")
    assert decisions["mairie.35126:evacuations"].organisation_id == "mairie.35126"
    # Another commune's cases keep the required rule as is, and never meet Guichen's own rules.
    elsewhere = replace(obs, insee="35238")
    decided = {d.rule.id: d for d in evaluate(book.rules(), elsewhere, tune=book.for_organisation)}
    assert decided[NEW_CASE.id].rule.escalation[0].after == timedelta(minutes=15)
    assert "mairie.35126:evacuations" not in decided
    # A later change replaces the earlier one.
    settings.change([], [], {"person_id": "p"}, datetime.now(UTC))
    book.apply(settings)
    assert book.rules() == DEFAULT_RULES and book.tunings == {}
