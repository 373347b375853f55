"""« Règles d'alerte » on the « Annuaire » page (issue #19): how each organisation is alerted, and, for its own
people, the forms that tune the required rules (stricter only) and add or remove rules of its own.

This module renders the block and turns a submitted form into the whole new settings that
adapters.notify.alert_settings.change_settings takes (the same use case as the API's PUT): the routes that
receive the forms live with the page's other forms (api/routes/annuaire.py, CSRF bound to the session).
Server-rendered HTML only, no script.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from adapters.notify.alert_settings import required_for
from adapters.notify.dispatch import CHANNEL_LABELS
from domain.alert import CHANNELS
from domain.alert_rules import OnExercise, Rule, Severity, Target
from domain.alert_settings import SettingRefused, rule_from_dict
from domain.nature import FAMILY_LABELS

TARGET_LABELS = {Target.MAIRIE: "la mairie de la commune", Target.PREFECTURE: "la préfecture du département"}
# (field, the condition in a sentence, the form's label)
THRESHOLDS = (("min_victims", "au moins {} victime(s)", "Victimes, au moins"),
              ("min_red", "au moins {} victime(s) en urgence absolue", "Victimes en urgence absolue, au moins"),
              ("min_dead", "au moins {} décès", "Décès, au moins"),
              ("min_resources", "au moins {} moyen(s) engagé(s)", "Moyens engagés, au moins"))


def _e(value: object) -> str:
    return html.escape(str(value))


def _channels(channels: Any) -> str:
    return ", ".join(CHANNEL_LABELS.get(c, c) for c in channels)


def conditions(rule: Rule) -> str:
    """What makes the rule alert, in plain French."""
    parts = []
    if rule.new_case:
        parts.append("chaque nouvelle affaire")
    if rule.families:
        parts.append("nature : " + ", ".join(sorted(FAMILY_LABELS.get(f, f) for f in rule.families)))  # type: ignore[call-overload]
    for key, sentence, _ in THRESHOLDS:
        value = getattr(rule, key)
        if value is not None:
            parts.append(sentence.format(value))
    if rule.evacuation:
        parts.append("une évacuation")
    if rule.more_than_cases_per_hour is not None:
        parts.append(f"plus de {rule.more_than_cases_per_hour} affaires en une heure dans le département")
    text = " ; ".join(parts) or "tout événement"
    if rule.on_exercise is OnExercise.IGNORE:
        text += " (exercices ignorés)"
    else:
        text += " (exercices signalés comme tels)"
    return text[0].upper() + text[1:]


def _escalation(rule: Rule) -> str:
    if not rule.escalation:
        return "aucune escalade"
    return " ; ".join(
        f"sans accusé de réception après {int(t.after.total_seconds() // 60)} min : "
        f"{TARGET_LABELS.get(t.target, t.organisation_id or t.target.value)}" for t in rule.escalation)


def _rule_summary(rule: Rule) -> str:
    severity = "grave" if rule.severity is Severity.GRAVE else "information"
    return (f'<dl class="t-rule"><dt>Conditions</dt><dd>{_e(conditions(rule))}</dd>'
            f"<dt>Canaux</dt><dd>{_e(_channels(rule.channels))}</dd>"
            f"<dt>Gravité</dt><dd>{severity}</dd><dt>Escalade</dt><dd>{_e(_escalation(rule))}</dd></dl>")


def _checkbox(name: str, value: str, label: str, ident: str, checked: bool = False) -> str:
    return (f'<div class="fr-checkbox-group fr-checkbox-group--sm"><input type="checkbox" id="{ident}" '
            f'name="{name}" value="{_e(value)}"{" checked" if checked else ""}>'
            f'<label class="fr-label" for="{ident}">{_e(label)}</label></div>')


def _number(name: str, label: str, ident: str, value: int | None = None, hint: str = "") -> str:
    shown = "" if value is None else str(value)
    hint_html = f'<span class="fr-hint-text">{_e(hint)}</span>' if hint else ""
    return (f'<div class="fr-input-group"><label class="fr-label" for="{ident}">{_e(label)}{hint_html}</label>'
            f'<input class="fr-input" type="number" min="0" max="10000" inputmode="numeric" id="{ident}" '
            f'name="{name}" value="{shown}"></div>')


def _tuning_form(org_id: str, rule: Rule, tuning: Mapping[str, Any] | None, csrf: str, n: int) -> str:
    """The form that makes one required rule stricter for this organisation (every field: as required when
    left empty or unticked)."""
    tuning = tuning or {}
    ident = f"reglage-{n}-{org_id}".replace(".", "-")
    fields = []
    if rule.escalation:
        required = int(rule.escalation[0].after.total_seconds() // 60)
        fields.append(_number("escalate_after_minutes", "Escalader plus tôt (minutes)", f"{ident}-esc",
                              tuning.get("escalate_after_minutes"), f"exigé : au plus {required} min"))
    if rule.more_than_cases_per_hour is not None:
        fields.append(_number("more_than_cases_per_hour", "Abaisser le seuil d'affaires par heure",
                              f"{ident}-seuil", tuning.get("more_than_cases_per_hour"),
                              f"exigé : au plus {rule.more_than_cases_per_hour}"))
    extra = [c for c in CHANNELS if c not in rule.channels]
    if extra:
        boxes = "".join(_checkbox("extra_channels", c, CHANNEL_LABELS.get(c, c), f"{ident}-canal-{c}",
                                  c in (tuning.get("extra_channels") or ())) for c in extra)
        fields.append(f'<fieldset class="fr-fieldset"><legend class="fr-fieldset__legend fr-text--regular">'
                      f"Ajouter un canal</legend>{boxes}</fieldset>")
    if rule.severity is not Severity.GRAVE:
        fields.append(_checkbox("grave", "1", "Signaler comme grave", f"{ident}-grave", bool(tuning.get("grave"))))
    if rule.on_exercise is OnExercise.IGNORE:
        fields.append(_checkbox("on_exercises", "1", "Alerter aussi pendant les exercices", f"{ident}-exercice",
                                bool(tuning.get("on_exercises"))))
    return (f'<form method="post" action="/annuaire/alertes/reglage" class="fr-mt-1w alert-tuning">'
            f'<input type="hidden" name="csrf" value="{csrf}">'
            f'<input type="hidden" name="organisation" value="{_e(org_id)}">'
            f'<input type="hidden" name="rule" value="{_e(rule.id)}">'
            '<p class="fr-hint-text">Champs vides et cases décochées : la règle telle qu\'elle est requise.</p>'
            f'{"".join(fields)}'
            '<button class="fr-btn fr-btn--sm fr-btn--secondary" type="submit">Enregistrer ce réglage</button>'
            "</form>")


def _own_rule_form(org_id: str, csrf: str) -> str:
    ident = "regle-" + org_id.replace(".", "-")
    families = "".join(_checkbox("families", f.value, label, f"{ident}-famille-{f.value}")
                       for f, label in FAMILY_LABELS.items())
    channels = "".join(_checkbox("channels", c, CHANNEL_LABELS.get(c, c), f"{ident}-canal-{c}", c == "email")
                       for c in CHANNELS)
    thresholds = "".join(_number(key, label, f"{ident}-{key}") for key, _, label in THRESHOLDS)
    return (
        f'<form method="post" action="/annuaire/alertes/regles" class="fr-mt-2w own-rule-form">'
        f'<h4 class="fr-h6">Ajouter une règle propre</h4>'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f'<input type="hidden" name="organisation" value="{_e(org_id)}">'
        f'<div class="fr-input-group"><label class="fr-label" for="{ident}-label">Intitulé</label>'
        f'<input class="fr-input" id="{ident}-label" name="label" required maxlength="120"></div>'
        f'<fieldset class="fr-fieldset"><legend class="fr-fieldset__legend fr-text--regular">Natures '
        f"(aucune cochée : toutes)</legend>{families}</fieldset>"
        f'<fieldset class="fr-fieldset"><legend class="fr-fieldset__legend fr-text--regular">Seuils (facultatifs)'
        f"</legend>{thresholds}</fieldset>"
        + _checkbox("evacuation", "1", "Lors d'une évacuation", f"{ident}-evacuation")
        + _checkbox("new_case", "1", "À chaque nouvelle affaire", f"{ident}-nouvelle")
        + _checkbox("grave", "1", "Signaler comme grave", f"{ident}-grave")
        + f'<fieldset class="fr-fieldset"><legend class="fr-fieldset__legend fr-text--regular">Canaux</legend>'
        f"{channels}</fieldset>"
        '<button class="fr-btn fr-btn--sm" type="submit">Ajouter la règle</button></form>')


def alert_rules_section(org_id: str, described: Mapping[str, Any], may_set: bool, csrf: str) -> str:
    """The organisation's rules as they apply to it (from adapters.notify.alert_settings.describe), with the
    forms for its own people."""
    required = {r.id: r for r in required_for(org_id)}
    items = []
    for n, data in enumerate(described["required"]):
        applied = rule_from_dict({**data, "territory": data.get("territory") or "national:FR"})
        tuning = data.get("tuning")
        note = ' <span class="fr-badge fr-badge--sm fr-badge--info">réglée par l\'organisation</span>' if tuning else ""
        form = _tuning_form(org_id, required[data["id"]], tuning, csrf, n) if may_set and data["id"] in required else ""
        items.append(f'<li class="fr-mb-2w" data-rule="{_e(data["id"])}"><p class="fr-mb-1v"><strong>'
                     f'{_e(data["label"])}</strong> (requise){note}</p>{_rule_summary(applied)}{form}</li>')
    for data in described["own_rules"]:
        rule = rule_from_dict(data)
        remove = (f'<form method="post" action="/annuaire/alertes/regles/retrait">'
                  f'<input type="hidden" name="csrf" value="{csrf}">'
                  f'<input type="hidden" name="organisation" value="{_e(org_id)}">'
                  f'<input type="hidden" name="rule" value="{_e(rule.id)}">'
                  '<button class="fr-btn fr-btn--sm fr-btn--tertiary" type="submit">Retirer cette règle</button>'
                  "</form>") if may_set else ""
        items.append(f'<li class="fr-mb-2w" data-own-rule="{_e(rule.id)}"><p class="fr-mb-1v"><strong>'
                     f"{_e(rule.label)}</strong> (propre à l'organisation)</p>{_rule_summary(rule)}{remove}</li>")
    listing = (f'<ul class="fr-raw-list">{"".join(items)}</ul>' if items else
               '<p class="t-hint">Aucune règle n\'alerte directement cette organisation.</p>')
    intro = ("<p class=\"t-hint\">Vous pouvez rendre les règles requises plus strictes (jamais moins) et ajouter "
             "des règles sur votre propre territoire.</p>" if may_set else "")
    return (f'<div class="fr-mt-2w" data-alert-rules="{_e(org_id)}"><h3 class="fr-h6">Règles d\'alerte</h3>'
            f"{intro}{listing}{_own_rule_form(org_id, csrf) if may_set else ''}</div>")


# ---- a submitted form → the whole new settings ------------------------------------------------------------

def _int_field(form: Mapping[str, list[str]], key: str) -> int | None:
    text = (form.get(key) or [""])[0].strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise SettingRefused(f"nombre illisible : {text[:20]}") from None


def current(described: Mapping[str, Any]) -> tuple[list[dict], list[dict]]:
    """The settings in force, as change_settings takes them back (own rules as stored, severity as « grave »)."""
    tunings = [dict(r["tuning"]) for r in described["required"] if r.get("tuning")]
    own = [{**r, "grave": r.get("severity") == Severity.GRAVE.value} for r in described["own_rules"]]
    return tunings, own


def with_tuning(described: Mapping[str, Any], rule_id: str, form: Mapping[str, list[str]]) -> tuple[list, list]:
    tunings, own = current(described)
    tuning = {"rule_id": rule_id, "escalate_after_minutes": _int_field(form, "escalate_after_minutes"),
              "more_than_cases_per_hour": _int_field(form, "more_than_cases_per_hour"),
              "extra_channels": list(form.get("extra_channels") or []), "grave": bool(form.get("grave")),
              "on_exercises": bool(form.get("on_exercises"))}
    others = [t for t in tunings if t["rule_id"] != rule_id]
    as_required = not any(v for k, v in tuning.items() if k != "rule_id")  # every field emptied: back to the rule
    return (others if as_required else [*others, tuning]), own


def with_own_rule(described: Mapping[str, Any], form: Mapping[str, list[str]]) -> tuple[list, list]:
    tunings, own = current(described)
    spec: dict[str, Any] = {"label": (form.get("label") or [""])[0], "families": list(form.get("families") or []),
                            "evacuation": bool(form.get("evacuation")), "new_case": bool(form.get("new_case")),
                            "grave": bool(form.get("grave")), "channels": list(form.get("channels") or [])}
    if not spec["channels"]:
        raise SettingRefused("cochez au moins un canal")
    for key, _, _ in THRESHOLDS:
        spec[key] = _int_field(form, key)
    return tunings, [*own, spec]


def without_own_rule(described: Mapping[str, Any], rule_id: str) -> tuple[list, list]:
    tunings, own = current(described)
    kept = [r for r in own if r["id"] != rule_id]
    if len(kept) == len(own):
        raise SettingRefused("cette règle propre n'existe pas (ou plus)")
    return tunings, kept
