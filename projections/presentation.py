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
    SUBFAMILY_LABELS,
    NatureFamily,
    NatureSubfamily,
    ResourcePhase,
)
from domain.resources import vehicle_kind_label
from projections.case_list import FREE_PHASES, NO_ZONE, UNKNOWN_PHASE, UNPLACED
from projections.territory import EVACUATION, TRIAGE

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
    return {
        "cases_total": figures.get("cases:total", 0),
        "cases_active": figures.get("cases:active", 0),
        "cases_closed": figures.get("cases:closed", 0),
        "families": _ranked(
            {"family": code, "label": family_label(code), **counts} for code, counts in families.items()
        ),
        "subfamilies": _ranked(
            {"subfamily": code, "label": subfamily_label(code), **counts} for code, counts in subfamilies.items()
        ),
        "victims": {
            "cases_by_reported_count": sorted(
                (
                    {"code": code, "label": VICTIMS_COUNT_LABELS.get(code, code), "cases": n}
                    for code, n in victims_count.items()
                ),
                key=lambda v: (
                    list(VICTIMS_COUNT_LABELS).index(v["code"]) if v["code"] in VICTIMS_COUNT_LABELS else 99,
                    v["code"],
                ),
            ),
            "triage": {key: figures.get(f"triage:{key}", 0) for key in TRIAGE},
            **{key: figures.get(f"evacuation:{key}", 0) for key in EVACUATION},
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


def _ranked(items: Any) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (-item["total"], item["label"]))
