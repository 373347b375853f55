"""Alert rules (domain.alert_rules): pure evaluation, properties over generated observations."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.alert import Alert
from domain.alert_rules import (
    CASES_PER_HOUR,
    DEFAULT_RULES,
    LATE_AFTER,
    Observation,
    OnExercise,
    Rule,
    Target,
    declared_victims,
    evaluate,
    time_zone_of,
)
from domain.geography import Level
from domain.identity import alert_uuid
from domain.nature import NatureFamily

BASE = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)

observations = st.builds(
    Observation,
    case_id=st.from_regex(r"fr\.fire\.sis(35|29)\.C-[0-9]{1,4}", fullmatch=True),
    recorded_at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    sent_at=st.none() | st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 1),
                                     timezones=st.just(UTC)),
    insee=st.none() | st.sampled_from(["35238", "35126", "29232"]),
    departement=st.none() | st.sampled_from(["35", "29"]),
    zone=st.none() | st.just("ouest"),
    family=st.sampled_from([f.value for f in NatureFamily]),
    victims=st.none() | st.integers(0, 50),
    red=st.integers(0, 5),
    dead=st.integers(0, 3),
    resources_engaged=st.integers(0, 20),
    evacuated=st.integers(0, 500),
    new_case=st.booleans(),
    exercise=st.booleans(),
    cases_this_hour=st.integers(0, 60),
)
rules = st.builds(
    Rule,
    id=st.from_regex(r"[a-z]{3,12}", fullmatch=True),
    label=st.just("Règle d'essai"),
    target=st.sampled_from([Target.MAIRIE, Target.PREFECTURE]),
    territory=st.none() | st.sampled_from([(Level.DEPARTEMENT, "35"), (Level.COMMUNE, "35238"),
                                          (Level.ZONE, "ouest"), (Level.NATIONAL, "FR")]),
    families=st.frozensets(st.sampled_from([f.value for f in NatureFamily]), max_size=3),
    new_case=st.booleans(),
    min_victims=st.none() | st.integers(0, 20),
    min_red=st.none() | st.integers(0, 3),
    min_dead=st.none() | st.integers(0, 2),
    min_resources=st.none() | st.integers(0, 10),
    evacuation=st.booleans(),
    more_than_cases_per_hour=st.none() | st.integers(1, 40),
    on_exercise=st.sampled_from(list(OnExercise)),
)


@given(st.lists(rules, max_size=5, unique_by=lambda r: r.id), observations)
def test_at_most_one_decision_per_rule_and_the_subject_never_depends_on_the_message_date(rs, obs):
    decisions = evaluate(rs, obs)
    assert len({d.rule.id for d in decisions}) == len(decisions)
    other_date = evaluate(rs, replace(obs, sent_at=None if obs.sent_at else obs.recorded_at - timedelta(days=2)))
    # The message's own date may only flag « tardif »: same rules, same subjects, same alert ids.
    assert [(d.rule.id, d.subject, alert_uuid(d.rule.id, d.subject)) for d in decisions] == [
        (d.rule.id, d.subject, alert_uuid(d.rule.id, d.subject)) for d in other_date]
    for d in decisions:
        assert d.late == (obs.sent_at is not None and obs.recorded_at - obs.sent_at > LATE_AFTER)
        assert ("tardif" in d.reason) == d.late


@given(rules, observations)
def test_an_exercise_is_marked_or_silent_as_the_rule_says(rule, obs):
    decisions = evaluate([rule], replace(obs, exercise=True))
    real = evaluate([rule], replace(obs, exercise=False))
    if rule.on_exercise is OnExercise.IGNORE:
        assert decisions == []
    else:
        assert [d.subject for d in decisions] == [d.subject for d in real]
        assert all(d.exercise and d.reason.startswith("EXERCICE") for d in decisions)
    assert all(not d.exercise and "EXERCICE" not in d.reason for d in real)


@given(rules, observations, st.integers(0, 5), st.integers(0, 100), st.integers(0, 10))
def test_more_of_what_a_rule_asks_never_takes_its_alert_away(rule, obs, more_red, more_evacuated, more_resources):
    before = evaluate([rule], obs)
    after = evaluate([rule], replace(obs, red=obs.red + more_red, evacuated=obs.evacuated + more_evacuated,
                                      resources_engaged=obs.resources_engaged + more_resources,
                                      dead=obs.dead + more_red))
    assert {d.subject for d in before} <= {d.subject for d in after}


@given(rules, observations)
def test_a_rule_alerts_only_inside_its_territory_and_the_organisation_of_the_place(rule, obs):
    for d in evaluate([rule], obs):
        if rule.territory is not None:
            level, code = rule.territory
            if level is Level.COMMUNE:
                assert obs.insee == code
            elif level is Level.DEPARTEMENT:
                assert obs.departement == code
        expected = f"mairie.{obs.insee}" if rule.target is Target.MAIRIE else f"prefecture.{obs.departement}"
        assert d.organisation_id == expected


@given(observations, st.integers(1, 40))
def test_the_window_rule_fires_past_its_threshold_and_names_the_departements_hour(obs, threshold):
    rule = Rule("affluence", "Affluence", Target.PREFECTURE, more_than_cases_per_hour=threshold)
    decisions = evaluate([rule], obs)
    assert bool(decisions) == (obs.departement is not None and obs.cases_this_hour > threshold)
    for d in decisions:
        assert d.subject == f"departement:{obs.departement}@{obs.recorded_at:%Y-%m-%dT%H}"


def test_the_defaults_alert_the_mairie_of_a_new_case_and_the_prefecture_of_red_victims():
    obs = Observation("fr.fire.sis35.C-1", BASE, BASE - timedelta(minutes=2), insee="35238", departement="35",
                      place="Rennes (35)", nature="Feu de bâtiment", new_case=True)
    [d] = evaluate(DEFAULT_RULES, obs)
    assert (d.rule.id, d.organisation_id, d.subject) == ("mairie-nouvelle-affaire", "mairie.35238",
                                                        "affaire:fr.fire.sis35.C-1")
    assert d.reason == "Nouvelle affaire dans la commune : Feu de bâtiment, Rennes (35)"
    red = evaluate(DEFAULT_RULES, replace(obs, new_case=False, red=2))
    assert [(x.rule.id, x.organisation_id) for x in red] == [("prefecture-urgence-absolue", "prefecture.35")]
    assert "2 victime(s) en urgence absolue" in red[0].reason
    crowd = evaluate(DEFAULT_RULES, replace(obs, cases_this_hour=CASES_PER_HOUR + 1))
    assert {x.rule.id for x in crowd} == {"mairie-nouvelle-affaire", "prefecture-affluence"}
    old = evaluate(DEFAULT_RULES, replace(obs, sent_at=BASE - timedelta(days=1)))
    assert old[0].late and "tardif" in old[0].reason


def test_declared_victims_and_zones():
    assert [declared_victims(c) for c in ("0", "1", "PLUSIEURS", "BEAUCOUP", "INCONNU", None)] == [
        0, 1, 2, 10, None, None]
    assert time_zone_of("974") == "Indian/Reunion" and time_zone_of("35") == "Europe/Paris"


def test_the_alert_aggregate_keeps_every_attempt_and_the_acknowledgement():
    alert = Alert(rule_id="r", subject="affaire:X", organisation_id="mairie.35238", reason="raison", severity="grave",
                  recipients=[{"person_id": "p1", "name": "Anne", "organisation_id": "mairie.35238"}],
                  channels=["email"], exercise=False, late=False, case_id="X", details={}, trigger={}, escalation=[])
    assert alert.id == alert_uuid("r", "affaire:X")
    alert.attempt("p1", "email", 1, "<ref>")
    alert.failed("p1", "email", 1, "refusé", (BASE + timedelta(seconds=5)).isoformat())
    alert.attempt("p1", "email", 2, "<ref>")
    alert.sent("p1", "email", 2, BASE, 1.5)
    alert.acknowledge("p1", "Anne", "hab-1", "email", BASE)
    s = alert.summary()
    assert s["deliveries"][0]["status"] == "envoyé" and s["deliveries"][0]["attempts"] == 2
    assert s["acknowledged_by"]["grant_id"] == "hab-1"
    assert [type(e).__name__ for e in alert.collect_events()] == [
        "AlertRaised", "DeliveryAttempted", "DeliveryFailed", "DeliveryAttempted", "DeliverySent", "Acknowledged"]


# ---- call-outs (domain.callout) -----------------------------------------------------------------------

def _callout(n: int, deadline: datetime):
    from domain.callout import DEFAULT_CHOICES, CallOut

    group = [{"person_id": f"p{i}", "name": f"Personne {i}", "organisation_id": "mairie.35238"} for i in range(n)]
    return CallOut(question="Qui peut rejoindre la cellule de crise ?", choices=list(DEFAULT_CHOICES),
                   deadline=deadline, organisation_ids=["mairie.35238"], group=group,
                   launched_by={"person_id": "maire"}, exercise=False)


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["disponible", "indisponible", "en route"])),
                max_size=30))
def test_the_tally_counts_each_persons_latest_answer(answers):
    callout = _callout(6, BASE + timedelta(hours=1))
    for i, (person, choice) in enumerate(answers):
        callout.answer(f"p{person}", f"Personne {person}", choice, "tableau de bord", None, BASE + timedelta(seconds=i))
    latest = {f"p{p}": c for p, c in answers}
    t = callout.summary()["tally"]
    assert t["counts"] == {c: list(latest.values()).count(c) for c in ("disponible", "indisponible", "en route")}
    assert t["answered"] + t["waiting"] == 6 and t["answered"] == len(latest)
    assert len(callout.collect_events()) == 1 + len(answers)  # every answer is an event


def test_answers_after_the_deadline_from_strangers_or_off_the_list_are_refused():
    import pytest

    from domain.callout import CallOutClosed, NotAsked

    callout = _callout(2, BASE)
    with pytest.raises(CallOutClosed):
        callout.answer("p0", "P", "disponible", "courriel", None, BASE + timedelta(seconds=1))
    with pytest.raises(NotAsked, match="ne vous a pas été adressé"):
        callout.answer("intrus", "I", "disponible", "courriel", None, BASE)
    with pytest.raises(NotAsked, match="réponse inconnue"):
        callout.answer("p0", "P", "peut-être", "courriel", None, BASE)
    assert callout.summary()["tally"]["answered"] == 0


def test_with_people_on_duty_the_rest_of_the_organisation_comes_first_then_each_tier_as_late_again():
    from domain.alert_rules import ON_DUTY_ALONE, Tier, escalation_plan

    obs = Observation("fr.fire.sis35.C-1", BASE, BASE, insee="35126", departement="35")
    mairie = DEFAULT_RULES[0]  # a new case: the mairie, then the préfecture after 15 min
    assert escalation_plan(mairie, obs, "mairie.35126", on_duty=False) == [
        {"tier": 1, "after_seconds": 900.0, "organisation_id": "prefecture.35", "everyone": False}]
    assert escalation_plan(mairie, obs, "mairie.35126", on_duty=True) == [
        {"tier": 1, "after_seconds": 900.0, "organisation_id": "mairie.35126", "everyone": True},
        {"tier": 2, "after_seconds": 1800.0, "organisation_id": "prefecture.35", "everyone": False}]
    two = replace(mairie, escalation=(Tier(timedelta(minutes=10), Target.PREFECTURE),
                                      Tier(timedelta(minutes=30), Target.ORGANISATION, "coz.ouest")))
    assert [(t["organisation_id"], t["after_seconds"]) for t in escalation_plan(two, obs, "mairie.35126", True)] == [
        ("mairie.35126", 600.0), ("prefecture.35", 1200.0), ("coz.ouest", 2400.0)]
    no_tier = DEFAULT_RULES[1]  # the préfecture, no tier of its own
    assert escalation_plan(no_tier, obs, "prefecture.35", on_duty=False) == []
    assert escalation_plan(no_tier, obs, "prefecture.35", on_duty=True) == [
        {"tier": 1, "after_seconds": ON_DUTY_ALONE.total_seconds(), "organisation_id": "prefecture.35",
         "everyone": True}]


def test_an_alert_with_nobody_left_to_try_says_why_it_reached_nobody():
    def raised(recipients: list[dict]) -> Alert:
        return Alert(rule_id="r", subject="affaire:x", organisation_id="mairie.35126", reason="essai",
                     severity="information", recipients=recipients, channels=["email"], exercise=False, late=False,
                     case_id="x", details={}, trigger={}, escalation=[])

    nobody = raised([])
    assert nobody.reaches_nobody() == (
        "personne à joindre : aucune personne habilitée dans l'annuaire pour l'organisation alertée")
    nobody.reached_nobody(nobody.reaches_nobody() or "", BASE)
    assert nobody.reaches_nobody() is None  # said once
    assert nobody.unreached is not None and nobody.unreached["at"] == BASE.isoformat()
    one = raised([{"person_id": "p", "name": "P", "organisation_id": "mairie.35126"}])
    assert one.reaches_nobody() is None  # still to try
    one.failed("p", "email", 1, "serveur injoignable", None)
    assert one.reaches_nobody() == "aucune personne jointe : serveur injoignable"
    one.reached_nobody("aucune personne jointe : serveur injoignable", BASE)
    one.sent("p", "email", 2, BASE, 1.0)  # reached after all (cannot happen after a final failure, but said)
    assert one.unreached is None
