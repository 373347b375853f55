"""A territory typed by a person (CLI arguments, tests): checked once, then carried as a `Level`."""

from __future__ import annotations

from adapters.geography import Geography, get_geography
from domain.geography import NATIONAL, Level
from projections.case_list import NO_ZONE, UNPLACED
from projections.presentation import PSEUDO_TERRITORY_LABELS


class UnknownTerritory(ValueError):
    """The level or the code names no territory (message in French, for users)."""


_LEVEL_NAMES = {Level.COMMUNE: "commune", Level.DEPARTEMENT: "département", Level.ZONE: "zone de défense"}


def parse_territory(level: str, code: str, geography: Geography | None = None) -> tuple[Level, str]:
    """Check a (level, code) pair; codes are normalised (upper case département and national codes)."""
    try:
        lv = Level(level)
    except ValueError:
        raise UnknownTerritory(
            f"niveau inconnu : {level!r} (attendu : commune, departement, zone ou national)"
        ) from None
    code = code.strip()
    if lv is Level.NATIONAL:
        if code.upper() != NATIONAL:
            raise UnknownTerritory(f"code national attendu : {NATIONAL}")
        return lv, NATIONAL
    pseudo = (UNPLACED, NO_ZONE) if lv is Level.ZONE else (UNPLACED,)
    if code in pseudo:
        return lv, code
    geography = geography or get_geography()
    candidate = code.upper() if lv is Level.DEPARTEMENT else code
    if geography.exists(lv, candidate):
        return lv, candidate
    raise UnknownTerritory(f"{_LEVEL_NAMES[lv]} inconnu(e) : {code!r}")


def territory_name(geography: Geography, level: Level, code: str) -> tuple[str, str]:
    """(name, label) of a territory, pseudo-territories included."""
    if code in PSEUDO_TERRITORY_LABELS:
        return PSEUDO_TERRITORY_LABELS[code], PSEUDO_TERRITORY_LABELS[code]
    return geography.name(level, code), geography.label(level, code)
