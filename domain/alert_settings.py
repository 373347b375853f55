"""An organisation's own alert settings, within what the rules above it require.

The default rules (domain.alert_rules.DEFAULT_RULES) are what the State requires of every organisation
they alert: a mairie is alerted of every new case in its commune, a préfecture of red-triage victims…
An organisation may make a rule that reaches it stricter — alert sooner (a lower threshold), escalate
sooner, on more channels, as more serious, on exercises too — and add rules of its own about its own
territory. It may never make a required rule looser: no setting can silence what the level above relies
on. `check_within` is that rule, in one place; a refusal says why, in French.

Settings are events of an `AlertSettings` aggregate per organisation (one stream, so the history says who
changed what, when); the alert policy reads them in the store's order, so a decision always follows the
settings in force when Tocsin recorded the event it decides on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.alert import CHANNELS
from domain.alert_rules import OnExercise, Rule, Severity, Target, Tier
from domain.directory import slug
from domain.geography import Level
from domain.identity import TOCSIN_NAMESPACE
from domain.nature import NatureFamily

MAX_OWN_RULES = 20


class SettingRefused(ValueError):
    """A setting that would loosen a required rule, or that is malformed (French message)."""


class SettingsChanged(ValueError):
    """The settings changed since the version the caller read: applying its change would undo another's."""


@dataclass(frozen=True)
class Tuning:
    """How an organisation makes one required rule that reaches it stricter. None: as required."""

    rule_id: str
    escalate_after_minutes: int | None = None  # the first escalation tier's delay: shorter only
    extra_channels: tuple[str, ...] = ()  # added to the rule's channels
    grave: bool = False  # shown as « grave » even where the rule says « information »
    more_than_cases_per_hour: int | None = None  # a lower threshold only
    on_exercises: bool = False  # alert on exercise messages too, where the rule ignores them

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "escalate_after_minutes": self.escalate_after_minutes,
                "extra_channels": list(self.extra_channels), "grave": self.grave,
                "more_than_cases_per_hour": self.more_than_cases_per_hour, "on_exercises": self.on_exercises}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tuning:
        try:
            return cls(rule_id=str(data["rule_id"]),
                       escalate_after_minutes=_optional_int(data.get("escalate_after_minutes")),
                       extra_channels=tuple(str(c) for c in data.get("extra_channels") or ()),
                       grave=bool(data.get("grave", False)),
                       more_than_cases_per_hour=_optional_int(data.get("more_than_cases_per_hour")),
                       on_exercises=bool(data.get("on_exercises", False)))
        except (KeyError, TypeError, ValueError) as e:
            raise SettingRefused(f"réglage mal formé : {e}") from None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def check_within(rule: Rule, tuning: Tuning) -> None:
    """Refuse a tuning that would alert later, less, or not at all where the rule requires it."""
    label = f"« {rule.label} »"
    if tuning.escalate_after_minutes is not None:
        if not rule.escalation:
            raise SettingRefused(f"la règle {label} n'a pas d'escalade à avancer")
        required = rule.escalation[0].after
        if not 1 <= tuning.escalate_after_minutes or timedelta(minutes=tuning.escalate_after_minutes) > required:
            raise SettingRefused(f"la règle {label} exige une escalade au plus tard après "
                                 f"{int(required.total_seconds() // 60)} min : on peut l'avancer, pas la retarder")
    unknown = [c for c in tuning.extra_channels if c not in CHANNELS]
    if unknown:
        raise SettingRefused(f"canal inconnu : {unknown[0][:20]} (canaux : {', '.join(CHANNELS)})")
    if tuning.more_than_cases_per_hour is not None:
        required_cases = rule.more_than_cases_per_hour
        if required_cases is None:
            raise SettingRefused(f"la règle {label} n'a pas de seuil d'affaires par heure")
        if not 1 <= tuning.more_than_cases_per_hour <= required_cases:
            raise SettingRefused(f"la règle {label} exige une alerte au-delà de {required_cases} affaires par "
                                 "heure : on peut abaisser ce seuil, pas le relever")


def tuned(rule: Rule, tuning: Tuning | None) -> Rule:
    """The rule as it applies to the organisation that tuned it (the tuning checked when it was set)."""
    if tuning is None:
        return rule
    changes: dict[str, Any] = {}
    if tuning.escalate_after_minutes is not None and rule.escalation:
        first = replace(rule.escalation[0], after=timedelta(minutes=tuning.escalate_after_minutes))
        changes["escalation"] = (first, *rule.escalation[1:])
    if tuning.extra_channels:
        changes["channels"] = tuple(dict.fromkeys((*rule.channels, *tuning.extra_channels)))
    if tuning.grave:
        changes["severity"] = Severity.GRAVE
    if tuning.more_than_cases_per_hour is not None and rule.more_than_cases_per_hour is not None:
        changes["more_than_cases_per_hour"] = tuning.more_than_cases_per_hour
    if tuning.on_exercises:
        changes["on_exercise"] = OnExercise.MARK
    return replace(rule, **changes) if changes else rule


# ---- rules of one's own ------------------------------------------------------------------------------

_FAMILIES = {f.value for f in NatureFamily}


def own_rule(organisation_id: str, territory: tuple[Level, str], spec: Mapping[str, Any]) -> Rule:
    """A rule an organisation adds for itself: it alerts that organisation only, about cases inside its own
    territory, on the conditions it chooses (at least one, so that it is not « every event »)."""
    label = " ".join(str(spec.get("label") or "").split())
    if not label or len(label) > 120:
        raise SettingRefused("une règle propre a un intitulé de 1 à 120 caractères")
    families = frozenset(str(f) for f in spec.get("families") or ())
    if families - _FAMILIES:
        raise SettingRefused(f"famille de nature inconnue : {sorted(families - _FAMILIES)[0][:40]}")
    thresholds: dict[str, int | None] = {}
    for key in ("min_victims", "min_red", "min_dead", "min_resources"):
        value = spec.get(key)
        if value is None:
            thresholds[key] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingRefused(f"seuil mal formé : {key}") from None
        if not 0 <= number <= 10_000:
            raise SettingRefused(f"seuil hors bornes : {key}")
        thresholds[key] = number
    new_case, evacuation = bool(spec.get("new_case")), bool(spec.get("evacuation"))
    if not (families or new_case or evacuation or any(v is not None for v in thresholds.values())):
        raise SettingRefused("une règle propre pose au moins une condition (nature, victimes, moyens, "
                             "évacuation ou nouvelle affaire)")
    channels = tuple(str(c) for c in spec.get("channels") or ("email",))
    if not channels or set(channels) - set(CHANNELS):
        raise SettingRefused(f"canaux possibles : {', '.join(CHANNELS)}")
    return Rule(id=f"{organisation_id}:{slug(label)[:40] or 'regle'}", label=label, target=Target.ORGANISATION,
                organisation_id=organisation_id, territory=territory, families=families, new_case=new_case,
                evacuation=evacuation, channels=channels,
                severity=Severity.GRAVE if spec.get("grave") else Severity.INFORMATION,
                min_victims=thresholds["min_victims"], min_red=thresholds["min_red"],
                min_dead=thresholds["min_dead"], min_resources=thresholds["min_resources"])


def rule_as_dict(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "label": rule.label, "target": rule.target.value, "organisation_id": rule.organisation_id,
            "territory": f"{rule.territory[0].value}:{rule.territory[1]}" if rule.territory else None,
            "families": sorted(rule.families), "new_case": rule.new_case, "min_victims": rule.min_victims,
            "min_red": rule.min_red, "min_dead": rule.min_dead, "min_resources": rule.min_resources,
            "evacuation": rule.evacuation, "more_than_cases_per_hour": rule.more_than_cases_per_hour,
            "on_exercise": rule.on_exercise.value, "severity": rule.severity.value, "channels": list(rule.channels),
            "escalation": [{"after_minutes": int(t.after.total_seconds() // 60), "target": t.target.value,
                            "organisation_id": t.organisation_id} for t in rule.escalation]}


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """The stored form of an own rule back to a Rule (as `rule_as_dict` wrote it)."""
    level, _, code = str(data["territory"]).partition(":")
    return Rule(id=data["id"], label=data["label"], target=Target(data["target"]),
                organisation_id=data["organisation_id"], territory=(Level(level), code),
                families=frozenset(data["families"]), new_case=data["new_case"], min_victims=data["min_victims"],
                min_red=data["min_red"], min_dead=data["min_dead"], min_resources=data["min_resources"],
                evacuation=data["evacuation"], severity=Severity(data["severity"]), channels=tuple(data["channels"]),
                escalation=tuple(Tier(timedelta(minutes=t["after_minutes"]), Target(t["target"]),
                                      t["organisation_id"]) for t in data["escalation"]))


# ---- the aggregate and what the policy reads -----------------------------------------------------------

def settings_uuid(organisation_id: str) -> UUID:
    return uuid5(TOCSIN_NAMESPACE, "alert-settings:" + organisation_id)


class AlertSettings(Aggregate):
    """One organisation's settings: every change an event (who, when, the whole new settings)."""

    @staticmethod
    def create_id(organisation_id: str, **_: Any) -> UUID:
        return settings_uuid(organisation_id)

    @event("Created")
    def __init__(self, organisation_id: str) -> None:
        self.organisation_id = organisation_id
        self.tunings: list[dict] = []
        self.own_rules: list[dict] = []
        self.changed_by: dict | None = None
        self.changed_at: datetime | None = None

    @event("Changed")
    def change(self, tunings: list[dict], own_rules: list[dict], by: dict, at: datetime) -> None:
        self.tunings = tunings
        self.own_rules = own_rules
        self.changed_by = by
        self.changed_at = at


@dataclass
class RuleBook:
    """The rules in force: the required ones, each organisation's tunings of them and its own rules."""

    required: tuple[Rule, ...]
    tunings: dict[tuple[str, str], Tuning] = field(default_factory=dict)  # (organisation, rule id) -> tuning
    own: dict[str, tuple[Rule, ...]] = field(default_factory=dict)  # organisation -> its own rules

    def apply(self, settings: AlertSettings) -> None:
        organisation = settings.organisation_id
        for key in [k for k in self.tunings if k[0] == organisation]:
            del self.tunings[key]
        for t in settings.tunings:
            tuning = Tuning.from_dict(t)
            self.tunings[(organisation, tuning.rule_id)] = tuning
        self.own[organisation] = tuple(rule_from_dict(r) for r in settings.own_rules)

    def rules(self) -> tuple[Rule, ...]:
        return self.required + tuple(r for rules in self.own.values() for r in rules)

    def for_organisation(self, rule: Rule, organisation_id: str) -> Rule:
        return tuned(rule, self.tunings.get((organisation_id, rule.id)))


def validated(required: Sequence[Rule], organisation_id: str, territory: tuple[Level, str],
              tunings: Sequence[Mapping[str, Any]], own_rules: Sequence[Mapping[str, Any]]
              ) -> tuple[list[dict], list[dict]]:
    """The settings as they will be stored, each checked: tunings of required rules within them, own rules
    well formed and about the organisation's own territory. SettingRefused otherwise."""
    by_id = {r.id: r for r in required}
    checked: dict[str, Tuning] = {}
    for data in tunings:
        tuning = Tuning.from_dict(data)
        rule = by_id.get(tuning.rule_id)
        if rule is None:
            raise SettingRefused(f"règle inconnue : {tuning.rule_id[:60]}")
        check_within(rule, tuning)
        checked[tuning.rule_id] = tuning
    if len(own_rules) > MAX_OWN_RULES:
        raise SettingRefused(f"au plus {MAX_OWN_RULES} règles propres par organisation")
    rules = [own_rule(organisation_id, territory, spec) for spec in own_rules]
    if len({r.id for r in rules}) != len(rules):
        raise SettingRefused("deux règles propres portent le même intitulé")
    return [t.as_dict() for t in checked.values()], [rule_as_dict(r) for r in rules]
