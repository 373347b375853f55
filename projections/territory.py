"""A territory's figures are a function of the case rows it contains.

Each case row contributes a small vector of counters (`figures`) to exactly one territory per level
(`territories`). When a case changes, the views subtract its old contribution and add its new one,
at each level: so national = Σ zones = Σ départements = Σ communes holds exactly for every counter,
including when a correction moves a case to another commune.

Counters are flat string keys so that they add up without knowing their meaning:
    cases:total, cases:active, cases:closed
    family:<family>:total|active, subfamily:<subfamily>:total|active   (domain.nature)
    victims_count:<HubSante.nbVictimes>   cases by reported number of victims
    triage:red|yellow|green|black|missing, evacuation:displaced|evacuated   (EMSI sums)
    resources:total|engaged, resource:<kind>:<phase>
    open:victims_count:<code>, open:triage:<key>, open:evacuation:<key>,
    open:untriaged:<HubSante.nbVictimes>   the same, open cases only (what a territory lives through
        now, apart from its history); `untriaged`: open cases that declare victims without EMSI triage
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from domain.geography import NATIONAL, Level

LEVELS: tuple[Level, ...] = (Level.COMMUNE, Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL)
TRIAGE = ("red", "yellow", "green", "black", "missing")
EVACUATION = ("displaced", "evacuated")
# HubSante.nbVictimes codes by which a report declares that someone is hurt ("0" and "NON DEFINI" do not).
DECLARING_VICTIMS = frozenset({"1", "PLUSIEURS", "BEAUCOUP", "INCONNU"})

Figures = dict[str, int]


def territories(row: Mapping[str, Any]) -> dict[Level, str]:
    """The territory of a case row at each level."""
    return {
        Level.COMMUNE: row["commune"],
        Level.DEPARTEMENT: row["departement"],
        Level.ZONE: row["zone"],
        Level.NATIONAL: NATIONAL,
    }


def figures(row: Mapping[str, Any]) -> Figures:
    """What one case adds to its territories (only non-zero counters)."""
    state = "active" if row["status"] != "closed" else "closed"
    out: Figures = {"cases:total": 1, f"cases:{state}": 1, f"family:{row['family']}:total": 1}
    if state == "active":
        out[f"family:{row['family']}:active"] = 1
    if row["subfamily"]:
        out[f"subfamily:{row['subfamily']}:total"] = 1
        if state == "active":
            out[f"subfamily:{row['subfamily']}:active"] = 1
    out[f"victims_count:{row['victims_count']}"] = 1
    for key in TRIAGE:
        if row[key]:
            out[f"triage:{key}"] = row[key]
    for key in EVACUATION:
        if row[key]:
            out[f"evacuation:{key}"] = row[key]
    if row["resources_total"]:
        out["resources:total"] = row["resources_total"]
    if row["resources_engaged"]:
        out["resources:engaged"] = row["resources_engaged"]
    for kind, phases in row["resources"].items():
        for phase, n in phases.items():
            out[f"resource:{kind}:{phase}"] = n
    if state == "active":
        out[f"open:victims_count:{row['victims_count']}"] = 1
        triaged = False
        for key in TRIAGE:
            if row[key]:
                out[f"open:triage:{key}"] = row[key]
                triaged = True
        for key in EVACUATION:
            if row[key]:
                out[f"open:evacuation:{key}"] = row[key]
        if not triaged and row["victims_count"] in DECLARING_VICTIMS:
            out[f"open:untriaged:{row['victims_count']}"] = 1
    return out


def add(target: Figures, values: Mapping[str, int], sign: int = 1) -> None:
    """target += sign * values, dropping counters that fall to zero (so equal sums compare equal)."""
    for key, value in values.items():
        total = target.get(key, 0) + sign * value
        if total:
            target[key] = total
        else:
            target.pop(key, None)


def total(many: Iterable[Mapping[str, int]]) -> Figures:
    out: Figures = {}
    for values in many:
        add(out, values)
    return out
