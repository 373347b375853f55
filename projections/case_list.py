"""The case list: one row per case, derived from the case's folded state.

The state is folded by `domain.case_state.apply_message`, the same rules as the Case aggregate, so a
row never disagrees with `tocsin case show`. The row keeps what the territory views and the case
lists need (where, what, how serious, which resources), never personal data: `personal` facts are
dropped before folding, so they never reach projection memory or tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.case_state import CaseState, apply_message, best_placement, parse_time
from domain.nature import ResourcePhase, subfamily_of
from projections.severity import severity_score

# Pseudo-territories, so that every case belongs to exactly one territory at each level and
# national = Σ zones = Σ départements = Σ communes holds for every figure.
UNPLACED = "non-localise"  # no commune could be determined (commune, département and zone)
NO_ZONE = "hors-zone"  # a département outside every zone de défense (975, 989)

# Phases of a resource that is no longer busy with the case.
FREE_PHASES = frozenset({ResourcePhase.RELEASED.value, ResourcePhase.CANCELLED.value})
UNKNOWN_PHASE = "inconnue"
UNKNOWN_VICTIMS = "NON DEFINI"

# The columns of a case row, in table order: projections.store.view_store builds, writes and reads the
# table with them, and the API's case rows (lists, most serious, live stream) carry them all.
CASE_COLUMNS: tuple[str, ...] = (
    "case_id", "originator_id", "commune", "departement", "zone", "placement_method",
    "family", "subfamily", "nature_code", "nature_label", "status", "emsi_status",
    "opened_at", "closed_at", "last_message_at",
    "victims_count", "red", "yellow", "green", "black", "missing", "displaced", "evacuated",
    "resources_total", "resources_engaged", "resources", "severity",
    "location_label", "city", "lat", "lon", "messages", "corrections", "updated_at", "last_event_id",
)


def fold_event(state: CaseState, kind: str, facts: dict, provenance: dict) -> CaseState:
    """Apply one message to a case state, then forget its personal data (never kept by the views)."""
    apply_message(state, kind, facts, provenance)
    if state.personal:
        state.personal = {}
    return state


def placement_codes(state: CaseState) -> tuple[str, str, str]:
    """(commune, département, zone) of a case, pseudo-codes when unknown."""
    placement = best_placement(state) or {}
    commune = placement.get("insee")
    if not commune:
        return UNPLACED, UNPLACED, UNPLACED
    departement = placement.get("departement") or UNPLACED
    zone = placement.get("zone") or (NO_ZONE if departement != UNPLACED else UNPLACED)
    return commune, departement, zone


def resources_by_kind(state: CaseState) -> dict[str, dict[str, int]]:
    """{kind: {phase: count}} of the resources engaged on the case (whatever their status)."""
    out: dict[str, dict[str, int]] = {}
    for resource in state.resources.values():
        kind = resource.get("kind") or "AUTRE"
        phase = resource.get("phase") or UNKNOWN_PHASE
        phases = out.setdefault(kind, {})
        phases[phase] = phases.get(phase, 0) + 1
    return out


def case_row(state: CaseState, originator_id: UUID, *, updated_at: datetime, last_event_id: int) -> dict[str, Any]:
    """The case list row of a folded case. Pure: same state, same row."""
    commune, departement, zone = placement_codes(state)
    placement = best_placement(state) or {}
    nature = state.nature or {}
    casualties = state.casualties or {}
    evacuation = state.evacuation or {}
    resources = resources_by_kind(state)
    total = sum(n for phases in resources.values() for n in phases.values())
    engaged = sum(n for phases in resources.values() for p, n in phases.items() if p not in FREE_PHASES)
    subfamily = subfamily_of(nature.get("code"))
    location = state.location or {}
    point = placement.get("point") or (None, None)
    row = {
        "case_id": state.case_id or str(originator_id),
        "originator_id": originator_id,
        "commune": commune,
        "departement": departement,
        "zone": zone,
        "placement_method": placement.get("method") or "unresolved",
        "family": state.family,
        "subfamily": subfamily.value if subfamily else None,
        "nature_code": nature.get("code"),
        "nature_label": nature.get("label"),
        "status": state.status,
        "emsi_status": state.emsi_status,
        "opened_at": parse_time(state.opened_at),
        "closed_at": parse_time(state.closed_at),
        "last_message_at": parse_time(state.last_message_at),
        "victims_count": state.victims_count or UNKNOWN_VICTIMS,
        "red": _count(casualties, "red"),
        "yellow": _count(casualties, "yellow"),
        "green": _count(casualties, "green"),
        "black": _count(casualties, "black"),
        "missing": _count(casualties, "missing"),
        "displaced": _count(evacuation, "displaced"),
        "evacuated": _count(evacuation, "evacuated"),
        "resources_total": total,
        "resources_engaged": engaged,
        "resources": resources,
        "location_label": location.get("label"),
        "city": location.get("city"),
        "lat": point[0],  # the message's point, when it gave one
        "lon": point[1],
        "messages": state.messages,
        "corrections": state.corrections,
        "updated_at": updated_at,
        "last_event_id": last_event_id,
    }
    row["severity"] = severity_score(row)
    return row


def _count(values: dict, key: str) -> int:
    value = values.get(key)
    return value if isinstance(value, int) and value > 0 else 0
