"""A territory's flat counters, shaped for people and for the API (French labels).

Pure: `describe(figures)` turns the counters of `projections.territory` into nested figures; the
read API adds what depends on the reading time (opened in the last hour / 24 h, most serious cases).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.nature import (
    FAMILY_LABELS,
    PHASE_LABELS,
    SUBFAMILY_FAMILIES,
    SUBFAMILY_LABELS,
    NatureFamily,
    NatureSubfamily,
    ResourcePhase,
)
from domain.resources import vehicle_kind_label
from projections.case_list import FREE_PHASES, NO_ZONE, UNKNOWN_PHASE, UNPLACED
from projections.territory import DECLARING_VICTIMS, EVACUATION, TRIAGE

VICTIMS_COUNT_LABELS = {
    "0": "Aucune victime",
    "1": "Une victime",
    "PLUSIEURS": "Plusieurs victimes",
    "BEAUCOUP": "Beaucoup de victimes",
    "INCONNU": "Nombre inconnu",
    "NON DEFINI": "Non renseigné",
}
TRIAGE_LABELS = {
    "red": "Urgences absolues (rouge)",
    "yellow": "Urgences relatives (jaune)",
    "green": "Impliqués (vert)",
    "black": "Décédés (noir)",
    "missing": "Disparus",
}
EVACUATION_LABELS = {"displaced": "Déplacés", "evacuated": "Évacués"}
_PHASE_ORDER = {phase.value: rank for rank, phase in enumerate(ResourcePhase)}
PSEUDO_TERRITORY_LABELS = {UNPLACED: "Non localisé", NO_ZONE: "Hors zone de défense"}


def family_label(family: str) -> str:
    try:
        return FAMILY_LABELS[NatureFamily(family)]
    except ValueError:
        return family


def subfamily_label(subfamily: str) -> str:
    try:
        return SUBFAMILY_LABELS[NatureSubfamily(subfamily)]
    except ValueError:
        return subfamily


def subfamily_family(subfamily: str) -> str | None:
    """The family a sub-nature belongs to (a wildfire is a fire, a storm a natural hazard)."""
    try:
        return SUBFAMILY_FAMILIES[NatureSubfamily(subfamily)].value
    except ValueError:
        return None


def phase_label(phase: str) -> str:
    if phase == UNKNOWN_PHASE:
        return "Statut inconnu"
    try:
        return PHASE_LABELS[ResourcePhase(phase)]
    except ValueError:
        return phase


def describe(figures: Mapping[str, int]) -> dict[str, Any]:
    """Nested figures of a territory, every list sorted by decreasing count then code."""
    families: dict[str, dict[str, int]] = {}
    subfamilies: dict[str, dict[str, int]] = {}
    victims_count: dict[str, int] = {}
    open_count: dict[str, int] = {}
    untriaged: dict[str, int] = {}
    kinds: dict[str, dict[str, int]] = {}
    for key, value in figures.items():
        head, _, rest = key.partition(":")
        if head == "family":
            code, _, what = rest.rpartition(":")
            families.setdefault(code, {"total": 0, "active": 0})[what] = value
        elif head == "subfamily":
            code, _, what = rest.rpartition(":")
            subfamilies.setdefault(code, {"total": 0, "active": 0})[what] = value
        elif head == "victims_count":
            victims_count[rest] = value
        elif head == "resource":
            kind, _, phase = rest.rpartition(":")
            kinds.setdefault(kind, {})[phase] = value
        elif head == "open":
            what, _, code = rest.partition(":")
            if what == "victims_count":
                open_count[code] = value
            elif what == "untriaged":
                untriaged[code] = value
    return {
        "cases_total": figures.get("cases:total", 0),
        "cases_active": figures.get("cases:active", 0),
        "cases_closed": figures.get("cases:closed", 0),
        "families": _ranked(
            {"family": code, "label": family_label(code), **counts} for code, counts in families.items()
        ),
        "subfamilies": _ranked(
            {"subfamily": code, "label": subfamily_label(code), "family": subfamily_family(code), **counts}
            for code, counts in subfamilies.items()
        ),
        "victims": {
            "cases_by_reported_count": _by_reported_count(victims_count),
            "triage": {key: figures.get(f"triage:{key}", 0) for key in TRIAGE},
            **{key: figures.get(f"evacuation:{key}", 0) for key in EVACUATION},
            "open": open_victims(figures, open_count, untriaged),
        },
        "resources": {
            "total": figures.get("resources:total", 0),
            "engaged": figures.get("resources:engaged", 0),
            "by_kind": _ranked(
                {
                    "kind": kind,
                    "label": vehicle_kind_label(kind),
                    "total": sum(phases.values()),
                    "engaged": sum(n for p, n in phases.items() if p not in FREE_PHASES),
                    "by_phase": [
                        {"phase": p, "label": phase_label(p), "count": n}
                        for p, n in sorted(phases.items(), key=lambda item: _PHASE_ORDER.get(item[0], 99))
                    ],
                }
                for kind, phases in kinds.items()
            ),
        },
    }


def _by_reported_count(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    return sorted(
        ({"code": code, "label": VICTIMS_COUNT_LABELS.get(code, code), "cases": n} for code, n in counts.items()),
        key=lambda v: (
            list(VICTIMS_COUNT_LABELS).index(v["code"]) if v["code"] in VICTIMS_COUNT_LABELS else 99, v["code"],
        ),
    )


def open_victims(figures: Mapping[str, int], open_count: Mapping[str, int],
                 untriaged: Mapping[str, int]) -> dict[str, Any]:
    """The victims of the open cases: the EMSI triage where the field sent one, the number the first
    report declared where none came yet (the two are never added: a triage replaces a declaration)."""
    triage = {key: figures.get(f"open:triage:{key}", 0) for key in TRIAGE}
    evacuation = {key: figures.get(f"open:evacuation:{key}", 0) for key in EVACUATION}
    out = {
        "cases": figures.get("cases:active", 0),
        "cases_with_declared_victims": sum(n for code, n in open_count.items() if code in DECLARING_VICTIMS),
        "declared": _by_reported_count(open_count),
        "triage": triage,
        "triaged_victims": sum(triage[k] for k in ("red", "yellow", "green", "black")),
        "declared_without_triage": sum(untriaged.values()),
        "declared_without_triage_by_count": _by_reported_count(untriaged),
        **evacuation,
    }
    out["headline"] = victims_headline(out)
    return out


def victims_headline(live: Mapping[str, Any]) -> str:
    """One French sentence on the open cases' victims, saying which figures are triaged and which declared."""
    parts = []
    triaged = live["triaged_victims"]
    if triaged:
        triage = live["triage"]
        parts.append(
            f"{number(triaged)} {plural(triaged, 'victime', 'victimes')} au bilan des secours sur place"
            " (affaires en cours)"
            f" ({number(triage['red'])} en urgence absolue, {number(triage['yellow'])} en urgence relative,"
            f" {number(triage['green'])} {plural(triage['green'], 'impliqué', 'impliqués')},"
            f" {number(triage['black'])} {plural(triage['black'], 'décédé', 'décédés')})"
        )
    if live["triage"].get("missing"):
        parts.append(f"{number(live['triage']['missing'])} {plural(live['triage']['missing'], 'disparu', 'disparus')}")
    untriaged = live["declared_without_triage"]
    if untriaged:
        detail = ", ".join(
            f"« {d['label'].lower()} » : {number(d['cases'])}" for d in live["declared_without_triage_by_count"]
        )
        parts.append(
            f"{number(untriaged)} {plural(untriaged, 'affaire en cours signale', 'affaires en cours signalent')}"
            f" des victimes ({detail}), sans bilan des secours sur place"
        )
    if not parts:
        return "Aucune victime signalée dans les affaires en cours"
    return " ; ".join(parts)


def number(value: int | float) -> str:
    """A number as French readers write it: a narrow no-break space between thousands, a decimal comma."""
    if isinstance(value, float) and not value.is_integer():
        whole, _, decimals = f"{value:,.1f}".partition(".")
        return whole.replace(",", "\u202f") + "," + decimals
    return f"{int(value):,}".replace(",", "\u202f")


def plural(n: int, one: str, many: str) -> str:
    """French agreement: 0 and 1 take the singular."""
    return one if abs(n) < 2 else many


def _ranked(items: Any) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (-item["total"], item["label"]))
