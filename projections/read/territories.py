"""Territories as the views know them: the geography's, plus the case list's pseudo-territories."""

from __future__ import annotations

from adapters.geography import Geography
from domain.geography import Level, UnknownTerritory, territory
from projections.case_list import NO_ZONE, UNPLACED
from projections.presentation import PSEUDO_TERRITORY_LABELS


def known_territory(level: Level | str, code: str, geography: Geography) -> tuple[Level, str]:
    """The territory parsed (domain.geography.territory) and known to the geography or one of the case
    list's pseudo-territories (cases not placed, départements in no zone). Raises UnknownTerritory."""
    lv, code = territory(level, code)
    pseudo = (UNPLACED, NO_ZONE) if lv is Level.ZONE else (UNPLACED,)
    if code in pseudo or geography.exists(lv, code):
        return lv, code
    raise UnknownTerritory(f"territoire inconnu : {lv.value}:{code}")


def territory_name(geography: Geography, level: Level, code: str) -> tuple[str, str]:
    """(name, label) of a territory, pseudo-territories included."""
    if code in PSEUDO_TERRITORY_LABELS:
        return PSEUDO_TERRITORY_LABELS[code], PSEUDO_TERRITORY_LABELS[code]
    return geography.name(level, code), geography.label(level, code)
