"""How serious a case looks from its figures, to rank "the most serious cases" of a territory.

A simple, explainable score rather than a model: the dead and the absolute emergencies (EMSI triage
black and red) weigh most, then the other casualties, the reported number of victims when no triage
was sent yet, the people evacuated or displaced, and the resources still engaged (a case that needs
ten vehicles is a big one). Closed cases keep their score; the views rank the active ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# HubSante.nbVictimes: what the first report says, before any triage.
REPORTED_VICTIMS_WEIGHT = {"0": 0, "1": 5, "PLUSIEURS": 15, "BEAUCOUP": 40}

WEIGHTS = {"black": 100, "red": 50, "yellow": 10, "green": 2, "missing": 20}


def severity_score(row: Mapping[str, Any]) -> int:
    triage = sum(weight * row[key] for key, weight in WEIGHTS.items())
    triaged = any(row[key] for key in WEIGHTS)
    reported = 0 if triaged else REPORTED_VICTIMS_WEIGHT.get(row["victims_count"], 0)
    people = row["evacuated"] // 5 + row["displaced"] // 10
    return triage + reported + people + 3 * row["resources_engaged"]


# Which cases the lists highlight: any death or absolute emergency, or a score that only many victims,
# many evacuated people or a large engagement reach (about ten vehicles).
VERY_SERIOUS = 100
SERIOUS = 30


def severity_label(row: Mapping[str, Any]) -> str | None:
    """« Très grave », « Grave », or None for the others."""
    if row.get("black") or row.get("red") or (row.get("severity") or 0) >= VERY_SERIOUS:
        return "Très grave"
    if (row.get("severity") or 0) >= SERIOUS:
        return "Grave"
    return None
