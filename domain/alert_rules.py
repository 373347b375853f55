"""Alert rules: which recorded facts alert which organisation. Pure, evaluated by the policy process.

A rule names its conditions (all must hold): a territory, nature families, declared victims, red-triage
victims or deaths (EMSI), resources engaged, an evacuation, a case new to Tocsin, more than N new cases
in an hour in a département. It names whom to alert: the mairie of the case's commune, the préfecture of
its département, or a given organisation. One rule decides at most once per subject (a case, or a
département's hour): `Decision.subject` with the rule's id names the alert (domain.identity.alert_uuid).

Time: a decision belongs to the moment Tocsin records the event (`Observation.recorded_at`), never to
the message's own date. A message whose date was already old then is still alerted, flagged « tardif ».
Exercise messages (RC-DE status Exercise) raise alerts marked « EXERCICE », or none, as the rule says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.alert import EMAIL
from domain.geography import Level
from domain.local_time import zone_of_departement
from domain.nature import NatureFamily
from domain.recipients import mairie_of, prefecture_of

# How old a message's own date may be when Tocsin records it before its alert says « tardif ».
LATE_AFTER = timedelta(minutes=30)
# Default for « plus de N affaires en une heure dans un département » alerting the préfecture.
CASES_PER_HOUR = 20

EXERCISE_STATUS = "Exercise"  # RC-DE / EDXL-DE `status` of an exercise message


class Target(StrEnum):
    MAIRIE = "mairie"  # the mairie of the case's commune
    PREFECTURE = "prefecture"  # the préfecture of the case's département
    ORGANISATION = "organisation"  # Rule.organisation_id


class OnExercise(StrEnum):
    MARK = "marquer"  # alert, marked « EXERCICE »
    IGNORE = "ignorer"  # no alert


class Severity(StrEnum):
    INFORMATION = "information"
    GRAVE = "grave"


# EMSI / CISU declared victim counts ("Nombre de patients-victimes") as a lower bound of people.
VICTIM_COUNTS = {"0": 0, "1": 1, "PLUSIEURS": 2, "BEAUCOUP": 10}


def declared_victims(code: str | None) -> int | None:
    """The lower bound of a declared victims count (None: unknown, « INCONNU », « NON DEFINI »)."""
    return VICTIM_COUNTS.get((code or "").strip().upper())


@dataclass(frozen=True)
class Observation:
    """What a rule looks at: one case as Tocsin knows it just after recording one of its events."""

    case_id: str
    recorded_at: datetime  # Tocsin's time: the decision's time
    sent_at: datetime | None  # the message's own time (for « tardif » only)
    insee: str | None = None
    departement: str | None = None
    zone: str | None = None
    place: str = ""  # the commune's name and département, for the reason (French)
    family: str = NatureFamily.UNKNOWN.value
    nature: str | None = None  # the nature's French label
    victims: int | None = None  # declared (lower bound, `declared_victims`)
    red: int = 0  # EMSI triage: absolute emergency
    dead: int = 0  # EMSI triage: black
    resources_engaged: int = 0
    evacuated: int = 0  # displaced + evacuated
    new_case: bool = False  # this event is the case's first in Tocsin
    exercise: bool = False
    cases_this_hour: int = 0  # new cases in the département in the hour of `recorded_at` (this one included)


@dataclass(frozen=True)
class Rule:
    id: str  # stable: it names the alerts (changing it would decide again)
    label: str  # French
    target: Target
    organisation_id: str | None = None  # for Target.ORGANISATION
    territory: tuple[Level, str] | None = None  # only cases inside it
    families: frozenset[str] = frozenset()  # empty: every family
    new_case: bool = False
    min_victims: int | None = None
    min_red: int | None = None
    min_dead: int | None = None
    min_resources: int | None = None
    evacuation: bool = False
    more_than_cases_per_hour: int | None = None  # then the subject is the département's hour
    on_exercise: OnExercise = OnExercise.MARK
    severity: Severity = Severity.INFORMATION
    channels: tuple[str, ...] = (EMAIL,)
    escalation: tuple[Tier, ...] = field(default=())


@dataclass(frozen=True)
class Tier:
    """An escalation tier: when nobody acknowledged within `after`, alert `target` too."""

    after: timedelta
    target: Target
    organisation_id: str | None = None


@dataclass(frozen=True)
class Decision:
    rule: Rule
    subject: str
    organisation_id: str
    reason: str  # French
    exercise: bool
    late: bool

    @property
    def severity(self) -> Severity:
        return self.rule.severity


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("mairie-nouvelle-affaire", "Nouvelle affaire dans la commune", Target.MAIRIE, new_case=True,
         escalation=(Tier(timedelta(minutes=15), Target.PREFECTURE),)),
    Rule("prefecture-urgence-absolue", "Victimes en urgence absolue", Target.PREFECTURE, min_red=1,
         severity=Severity.GRAVE),
    Rule("prefecture-deces", "Décès constaté", Target.PREFECTURE, min_dead=1, severity=Severity.GRAVE),
    Rule("prefecture-affluence", f"Plus de {CASES_PER_HOUR} affaires en une heure dans le département",
         Target.PREFECTURE, new_case=True, more_than_cases_per_hour=CASES_PER_HOUR, severity=Severity.GRAVE),
)


def target_organisation(target: Target, organisation_id: str | None, obs: Observation) -> str | None:
    """The directory id of the organisation a target names for this case (None: the case lacks the place)."""
    if target is Target.MAIRIE:
        return mairie_of(obs.insee) if obs.insee else None
    if target is Target.PREFECTURE:
        return prefecture_of(obs.departement) if obs.departement else None
    return organisation_id


def evaluate(rules: Iterable[Rule], obs: Observation, late_after: timedelta = LATE_AFTER,
             tune: Callable[[Rule, str], Rule] | None = None) -> list[Decision]:
    """The decisions the rules make about this observation (at most one per rule). `tune` gives a rule as
    it applies to the organisation it would alert (domain.alert_settings: stricter, never looser)."""
    late = obs.sent_at is not None and obs.recorded_at - obs.sent_at > late_after
    out: list[Decision] = []
    for required in rules:
        organisation = target_organisation(required.target, required.organisation_id, obs)
        if organisation is None:
            continue
        rule = tune(required, organisation) if tune is not None else required
        if obs.exercise and rule.on_exercise is OnExercise.IGNORE:
            continue
        if not matches(rule, obs):
            continue
        out.append(Decision(rule, subject_of(rule, obs), organisation, reason(rule, obs, late), obs.exercise, late))
    return out


def matches(rule: Rule, obs: Observation) -> bool:
    """Whether every condition of the rule holds."""
    if rule.territory is not None and not in_territory(rule.territory, obs):
        return False
    if rule.families and obs.family not in rule.families:
        return False
    if rule.new_case and not obs.new_case:
        return False
    if rule.min_victims is not None and (obs.victims or 0) < rule.min_victims:
        return False
    if rule.min_red is not None and obs.red < rule.min_red:
        return False
    if rule.min_dead is not None and obs.dead < rule.min_dead:
        return False
    if rule.min_resources is not None and obs.resources_engaged < rule.min_resources:
        return False
    if rule.evacuation and obs.evacuated <= 0:
        return False
    if rule.more_than_cases_per_hour is not None:
        # Every case past the threshold decides the same thing (the département's hour): the first one
        # raises the alert, the others name the same alert and are refused as already decided.
        if obs.departement is None or obs.cases_this_hour <= rule.more_than_cases_per_hour:
            return False
    return True


def in_territory(territory: tuple[Level, str], obs: Observation) -> bool:
    level, code = territory
    if level is Level.NATIONAL:
        return True
    value = {Level.COMMUNE: obs.insee, Level.DEPARTEMENT: obs.departement, Level.ZONE: obs.zone}[level]
    return value == code


def hour_of(at: datetime) -> str:
    """The UTC hour a moment falls in, as the window rules name it: '2026-12-07T14'."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def subject_of(rule: Rule, obs: Observation) -> str:
    if rule.more_than_cases_per_hour is not None:
        return f"departement:{obs.departement}@{hour_of(obs.recorded_at)}"
    return f"affaire:{obs.case_id}"


def reason(rule: Rule, obs: Observation, late: bool) -> str:
    """The alert's reason, French, as people read it."""
    where = obs.place or (f"commune {obs.insee}" if obs.insee else "lieu non déterminé")
    parts: list[str] = []
    if rule.more_than_cases_per_hour is not None:
        text = (f"{obs.cases_this_hour} affaires en moins d'une heure dans le département {obs.departement}"
                f" (seuil : {rule.more_than_cases_per_hour})")
    else:
        text = f"{rule.label} : {obs.nature or 'nature non précisée'}, {where}"
        if obs.red:
            parts.append(f"{obs.red} victime(s) en urgence absolue")
        if obs.dead:
            parts.append(f"{obs.dead} décès")
        if obs.evacuated:
            parts.append(f"{obs.evacuated} personne(s) évacuée(s) ou déplacée(s)")
        if obs.victims:
            parts.append(f"victimes déclarées : {obs.victims}{'+' if obs.victims >= 2 else ''}")
    if parts:
        text += " — " + ", ".join(parts)
    if late:
        text += " (tardif : message daté de plus de 30 min à sa réception)"
    if obs.exercise:
        text = "EXERCICE — " + text
    return text


def tier_organisations(rule: Rule, obs: Observation) -> Sequence[tuple[Tier, str | None]]:
    return [(t, target_organisation(t.target, t.organisation_id, obs)) for t in rule.escalation]


# How long the people on duty have alone before the rest of their organisation is alerted too, when the
# rule has no tier to take it from (with tiers: the first tier's delay).
ON_DUTY_ALONE = timedelta(minutes=15)


def escalation_plan(rule: Rule, obs: Observation, organisation_id: str, on_duty: bool) -> list[dict]:
    """The alert's escalation tiers: {"tier", "after_seconds", "organisation_id", "everyone"}.

    When the alert reaches only the people on duty, its first tier is the rest of their organisation,
    after the rule's first delay (ON_DUTY_ALONE without one); the rule's own tiers follow, each that much
    later, so every group has the rule's delay to answer before the next."""
    tiers = [(t, org) for t, org in tier_organisations(rule, obs) if org]
    plan: list[dict] = []
    shift = 0.0
    if on_duty:
        shift = (tiers[0][0].after if tiers else ON_DUTY_ALONE).total_seconds()
        plan.append({"tier": 1, "after_seconds": shift, "organisation_id": organisation_id, "everyone": True})
    for t, org in tiers:
        plan.append({"tier": len(plan) + 1, "after_seconds": shift + t.after.total_seconds(), "organisation_id": org,
                     "everyone": False})
    return plan


def time_zone_of(departement: str | None) -> str:
    """The IANA time zone people of a département read times in (domain.local_time is the one table)."""
    return zone_of_departement(departement).key



