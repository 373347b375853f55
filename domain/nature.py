"""Incident nature families and resource phases (pure domain rules, no I/O).

Two small vocabularies that dashboards and projections need and that the raw CISU codes do not give
directly:

* ``NatureFamily``: the first level of the HubSante "fait" nomenclature (``Cxx.00.00``), the code
  an incident's ``qualification.whatsHappen.code`` starts with.  ``NatureSubfamily`` splits out the
  handful of natural-hazard sub-codes a crisis dashboard cares about (storm vs flood vs wildfire).
* ``ResourcePhase``: the 18 HubSante "statutVecteur" statuses of an engaged resource, folded into six
  phases that can be counted on a map.

The tables here mirror ``adapters/reference/cisu/nomenclatures/HubSante.fait.csv`` and
``HubSante.statutVecteur.csv``; ``tests/test_nomenclature.py`` checks them against those files so that
a new nomenclature version cannot silently drift from them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

__all__ = [
    "FAMILY_LABELS",
    "NatureFamily",
    "NatureSubfamily",
    "PHASE_LABELS",
    "RESOURCE_STATUS_ORDER",
    "ResourcePhase",
    "SUBFAMILY_FAMILIES",
    "SUBFAMILY_LABELS",
    "family_of",
    "phase_of",
    "status_rank",
    "subfamily_label",
    "subfamily_of",
]


class NatureFamily(StrEnum):
    """First level of the HubSante "fait" (incident nature) code list."""

    ROAD = "accident-circulation"  # C01
    PERSONS = "atteinte-personnes"  # C02
    PROPERTY = "atteinte-biens"  # C03
    FIRE = "incendie"  # C04
    EXPLOSION = "explosion"  # C05
    OFFENCE = "infraction"  # C06
    PUBLIC_ORDER = "ordre-public"  # C07
    NATURAL = "aleas-naturels"  # C08
    TECHNOLOGICAL = "aleas-technologiques"  # C09
    MISSING = "disparition"  # C10
    OTHER = "autre"  # C11
    UNKNOWN = "inconnue"  # absent, malformed or not a C-code


# Short French labels for dashboards; the official level-1 labels are longer
# ("Aléas naturel / environnemental / météorologique").
FAMILY_LABELS: dict[NatureFamily, str] = {
    NatureFamily.ROAD: "Accident de la circulation",
    NatureFamily.PERSONS: "Atteinte aux personnes",
    NatureFamily.PROPERTY: "Atteinte aux biens / animal",
    NatureFamily.FIRE: "Incendie",
    NatureFamily.EXPLOSION: "Explosion",
    NatureFamily.OFFENCE: "Suspicion d'infraction",
    NatureFamily.PUBLIC_ORDER: "Ordre public",
    NatureFamily.NATURAL: "Aléas naturels et météorologiques",
    NatureFamily.TECHNOLOGICAL: "Aléas technologiques ou techniques",
    NatureFamily.MISSING: "Disparitions et découvertes",
    NatureFamily.OTHER: "Autre nature de fait",
    NatureFamily.UNKNOWN: "Nature inconnue",
}

# The number after "C" in a nature code -> its family.
_FAMILY_BY_NUMBER: dict[str, NatureFamily] = {
    "01": NatureFamily.ROAD,
    "02": NatureFamily.PERSONS,
    "03": NatureFamily.PROPERTY,
    "04": NatureFamily.FIRE,
    "05": NatureFamily.EXPLOSION,
    "06": NatureFamily.OFFENCE,
    "07": NatureFamily.PUBLIC_ORDER,
    "08": NatureFamily.NATURAL,
    "09": NatureFamily.TECHNOLOGICAL,
    "10": NatureFamily.MISSING,
    "11": NatureFamily.OTHER,
}

# Field data is not always clean: tolerate surrounding blanks and lower case, but insist on the
# Cxx.yy.zz shape (a bare "C04" or "C04.02" is accepted too, it still names a family).
_NATURE_CODE = re.compile(r"^C(\d{2})(?:\.(\d{2})(?:\.(\d{2}))?)?$")


def _parse(nature_code: object) -> tuple[str, str | None] | None:
    return _parse_code(nature_code) if isinstance(nature_code, str) else None


@lru_cache(maxsize=4096)  # a few hundred codes exist; every report and every case row asks again
def _parse_code(nature_code: str) -> tuple[str, str | None] | None:
    match = _NATURE_CODE.match(nature_code.strip().upper())
    if match is None:
        return None
    return match.group(1), match.group(2)


def family_of(nature_code: object) -> NatureFamily:
    """The family of a HubSante "fait" code (``C04.02.01`` -> FIRE); UNKNOWN for anything else."""
    parsed = _parse(nature_code)
    if parsed is None:
        return NatureFamily.UNKNOWN
    return _FAMILY_BY_NUMBER.get(parsed[0], NatureFamily.UNKNOWN)


class NatureSubfamily(StrEnum):
    """Dashboard split of the natural hazards (C08) plus wildfires (C04.05, a fire by the list)."""

    STORM = "tempete"  # C08.05 Tempête, C08.04 Foudre, C08.09 Intempérie importante
    FLOOD = "inondation"  # C08.01 Inondation
    WILDFIRE = "feu-de-foret"  # C04.05 Incendie de forêt / végétation
    GROUND_MOVEMENT = "mouvement-de-terrain"  # C08.06 Éboulement, C08.07 Affaissement
    EARTHQUAKE = "seisme"  # C08.03 Tremblement de terre
    AVALANCHE = "avalanche"  # C08.02 Avalanche
    POLLUTION = "pollution"  # C08.08 Pollution (and its two sub-codes)
    OTHER_NATURAL = "autre-alea-naturel"  # C08.10 and the bare C08.00.00


SUBFAMILY_LABELS: dict[NatureSubfamily, str] = {
    NatureSubfamily.STORM: "Tempête / intempéries",
    NatureSubfamily.FLOOD: "Inondation",
    NatureSubfamily.WILDFIRE: "Feu de forêt / végétation",
    NatureSubfamily.GROUND_MOVEMENT: "Éboulement / effondrement",
    NatureSubfamily.EARTHQUAKE: "Tremblement de terre",
    NatureSubfamily.AVALANCHE: "Avalanche",
    NatureSubfamily.POLLUTION: "Pollution",
    NatureSubfamily.OTHER_NATURAL: "Autre aléa naturel",
}

# (family number, second-level number) -> subfamily; the second level is where the list
# distinguishes these hazards (none of them has a third level except pollution and C08.10).
SUBFAMILY_BY_LEVEL2: dict[tuple[str, str], NatureSubfamily] = {
    ("08", "00"): NatureSubfamily.OTHER_NATURAL,
    ("08", "01"): NatureSubfamily.FLOOD,
    ("08", "02"): NatureSubfamily.AVALANCHE,
    ("08", "03"): NatureSubfamily.EARTHQUAKE,
    ("08", "04"): NatureSubfamily.STORM,
    ("08", "05"): NatureSubfamily.STORM,
    ("08", "06"): NatureSubfamily.GROUND_MOVEMENT,
    ("08", "07"): NatureSubfamily.GROUND_MOVEMENT,
    ("08", "08"): NatureSubfamily.POLLUTION,
    ("08", "09"): NatureSubfamily.STORM,
    ("08", "10"): NatureSubfamily.OTHER_NATURAL,
    ("04", "05"): NatureSubfamily.WILDFIRE,
}


# The family of each subfamily, from the codes that make it (C04.05 is a fire, C08.xx natural hazards).
SUBFAMILY_FAMILIES: dict[NatureSubfamily, NatureFamily] = {
    sub: _FAMILY_BY_NUMBER[number] for (number, _), sub in SUBFAMILY_BY_LEVEL2.items()
}


def subfamily_of(nature_code: object) -> NatureSubfamily | None:
    """The natural-hazard subfamily of a nature code, or None when it is not one of them."""
    parsed = _parse(nature_code)
    if parsed is None:
        return None
    family, level2 = parsed
    return None if level2 is None else SUBFAMILY_BY_LEVEL2.get((family, level2))


def subfamily_label(nature_code: str | None) -> str | None:
    """French dashboard label of :func:`subfamily_of` (e.g. ``C08.05.00`` -> 'Tempête / intempéries')."""
    subfamily = subfamily_of(nature_code)
    return None if subfamily is None else SUBFAMILY_LABELS[subfamily]


class ResourcePhase(StrEnum):
    """Where an engaged resource stands, folded from the HubSante "statutVecteur" status.

    Mapping (status -> phase), in the list's lifecycle order:

    ========================================  ===========
    DECISION, DECLENCHE                       ALERTED     decided / dispatched, not yet moving
    DEPART                                    EN_ROUTE    left its base for the scene
    ARRIVEE, PEC, BILAN, ORIENTAT             ON_SCENE    at the scene, caring for the victim
    TRANSP, ETAPE1, TRANSP2, ETAPE2,
    TRANSP3, DESTIN, FINPEC                   TRANSPORT   carrying the victim, or handing over at
                                                          the destination (FINPEC mostly happens
                                                          there; it is still busy with the victim)
    RETOUR, RET-BASE, REN-BASE                RELEASED    left the scene/destination: available
                                                          again per the list ("peut être réengagée")
    ANNULE                                    CANCELLED   mission cancelled before arrival
    ========================================  ===========
    """

    ALERTED = "alertee"
    EN_ROUTE = "en-route"
    ON_SCENE = "sur-les-lieux"
    TRANSPORT = "transport"
    RELEASED = "liberee"
    CANCELLED = "annulee"


PHASE_LABELS: dict[ResourcePhase, str] = {
    ResourcePhase.ALERTED: "Alertée",
    ResourcePhase.EN_ROUTE: "En route",
    ResourcePhase.ON_SCENE: "Sur les lieux",
    ResourcePhase.TRANSPORT: "Transport de victime",
    ResourcePhase.RELEASED: "Libérée",
    ResourcePhase.CANCELLED: "Annulée",
}

# The statuses in the order the nomenclature lists them, which is the order a resource goes
# through them (ANNULE is a terminal branch taken before ARRIVEE).
RESOURCE_STATUS_ORDER: tuple[str, ...] = (
    "DECISION",
    "DECLENCHE",
    "DEPART",
    "ANNULE",
    "ARRIVEE",
    "PEC",
    "BILAN",
    "ORIENTAT",
    "TRANSP",
    "ETAPE1",
    "TRANSP2",
    "ETAPE2",
    "TRANSP3",
    "DESTIN",
    "FINPEC",
    "RETOUR",
    "RET-BASE",
    "REN-BASE",
)

_PHASE_BY_STATUS: dict[str, ResourcePhase] = {
    "DECISION": ResourcePhase.ALERTED,
    "DECLENCHE": ResourcePhase.ALERTED,
    "DEPART": ResourcePhase.EN_ROUTE,
    "ANNULE": ResourcePhase.CANCELLED,
    "ARRIVEE": ResourcePhase.ON_SCENE,
    "PEC": ResourcePhase.ON_SCENE,
    "BILAN": ResourcePhase.ON_SCENE,
    "ORIENTAT": ResourcePhase.ON_SCENE,
    "TRANSP": ResourcePhase.TRANSPORT,
    "ETAPE1": ResourcePhase.TRANSPORT,
    "TRANSP2": ResourcePhase.TRANSPORT,
    "ETAPE2": ResourcePhase.TRANSPORT,
    "TRANSP3": ResourcePhase.TRANSPORT,
    "DESTIN": ResourcePhase.TRANSPORT,
    "FINPEC": ResourcePhase.TRANSPORT,
    "RETOUR": ResourcePhase.RELEASED,
    "RET-BASE": ResourcePhase.RELEASED,
    "REN-BASE": ResourcePhase.RELEASED,
}

_RANK_BY_STATUS: dict[str, int] = {code: rank for rank, code in enumerate(RESOURCE_STATUS_ORDER)}


def _normalise_status(status_code: str | None) -> str | None:
    return status_code.strip().upper() if isinstance(status_code, str) else None


def phase_of(status_code: str | None) -> ResourcePhase | None:
    """The phase of a "statutVecteur" status (``'DEPART'`` -> EN_ROUTE); None if unknown."""
    status = _normalise_status(status_code)
    return None if status is None else _PHASE_BY_STATUS.get(status)


def status_rank(status_code: str | None) -> int | None:
    """Position of a status in the lifecycle (DECISION = 0 … REN-BASE = 17); None if unknown.

    A resource's statuses should never go down in rank over time; projections can use this to
    ignore a late, stale status update.
    """
    status = _normalise_status(status_code)
    return None if status is None else _RANK_BY_STATUS.get(status)
