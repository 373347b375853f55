"""A case row as the API and the CLI show it: the one shape of a case in lists, in a territory's most
serious cases and in the live stream.

The row is the case list's (`projections.case_list.CASE_COLUMNS`), made JSON-ready, with the labels
people read and a point for the map: the message's own point when it gave one, else a point inside
the case's commune (`approximate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import shapely

from adapters.cisu.nomenclature import nature_display_label
from adapters.geography import Geography
from domain.geography import Level
from domain.local_time import format_local, zone_of_departement
from projections.case_list import NO_ZONE, UNPLACED
from projections.presentation import PSEUDO_TERRITORY_LABELS, VICTIMS_COUNT_LABELS, family_label, number, plural
from projections.severity import severity_label
from projections.territory import DECLARING_VICTIMS

PSEUDO_CODES = frozenset({UNPLACED, NO_ZONE})


def case_json(row: Mapping[str, Any], geography: Geography) -> dict[str, Any]:
    """A case list row (as read from the view), JSON-ready, labelled and placed on the map."""
    out = {
        k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, UUID) else v) for k, v in row.items()
    }
    out["family_label"] = family_label(row["family"])
    # « Famille — nature »: the list's last level alone does not say what kind of incident it is.
    out["nature_label"] = nature_display_label(row["nature_code"], row["nature_label"])
    out.update(row_texts(row))
    commune = row["commune"]
    out["commune_name"] = (
        PSEUDO_TERRITORY_LABELS[commune] if commune in PSEUDO_TERRITORY_LABELS
        else geography.name(Level.COMMUNE, commune) if geography.exists(Level.COMMUNE, commune) else commune
    )
    return with_point(out, geography)


def row_texts(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the lists show of a case, worded here rather than in each door: times in the zone of the
    case's territory (stated), its victims (the field's triage, else what the call declared), its
    resources, and how serious it looks."""
    zone = zone_of_departement(row.get("departement"))
    triaged = sum(row.get(k) or 0 for k in ("red", "yellow", "green", "black"))
    if triaged:
        red = row.get("red") or 0
        detail = f" ({number(red)} {plural(red, 'urgence absolue', 'urgences absolues')})" if red else ""
        victims = f"{number(triaged)} au bilan des secours{detail}"
    elif row.get("victims_count") in DECLARING_VICTIMS:
        victims = f"{VICTIMS_COUNT_LABELS[row['victims_count']].lower()} (déclaré à l'appel)"
    elif row.get("victims_count") == "0":
        victims = "aucune"
    else:
        victims = "non renseigné"
    total, engaged = row.get("resources_total") or 0, row.get("resources_engaged") or 0
    if not total:
        resources = "aucun"
    elif not engaged:
        resources = "tous libérés ou rentrés"
    else:
        resources = f"{number(engaged)} {plural(engaged, 'engagé', 'engagés')} sur {number(total)}"
    return {
        "opened_at_text": format_local(row.get("opened_at"), zone, never="date inconnue"),
        "closed_at_text": format_local(row["closed_at"], zone) if row.get("closed_at") else None,
        "victims_text": victims,
        "resources_text": resources,
        "severity_label": severity_label(row),
        "time_zone": zone.key,
    }


def row_placement(row: Mapping[str, Any]) -> dict[str, Any]:
    """{insee, departement, zone} of a case row, pseudo-territories read as unknown (for access checks)."""
    def real(value: Any) -> Any:
        return None if value in PSEUDO_CODES else value

    return {"insee": real(row.get("commune")), "departement": real(row.get("departement")),
            "zone": real(row.get("zone"))}


def with_point(row: dict[str, Any], geography: Geography) -> dict[str, Any]:
    """The row, with a point inside its commune when it has none of its own."""
    if row.get("lat") is None and row.get("commune") and row["commune"] not in PSEUDO_CODES:
        point = commune_point(geography, row["commune"])
        if point:
            row["lat"], row["lon"], row["approximate"] = point[0], point[1], True
    return row


@lru_cache(maxsize=40_000)
def commune_point(geography: Geography, insee: str) -> tuple[float, float] | None:
    """(lat, lon) of a point inside the commune, for cases whose row has no point."""
    geometry = geography.boundary(Level.COMMUNE, insee)
    if geometry is None:
        return None
    p = shapely.point_on_surface(shapely.geometry.shape(geometry))
    return round(p.y, 5), round(p.x, 5)
