"""Territories as the views know them: the geography's, plus the case list's pseudo-territories."""

from __future__ import annotations

import unicodedata

from adapters.geography import Geography
from domain.geography import NATIONAL, Level, UnknownTerritory, territory
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


def typed_territory(text: str, geography: Geography) -> tuple[Level, str]:
    """A territory as a person types it: `niveau:code` (the one syntax, `commune:35238`), `FR`, or a
    name or code that names one territory only (« Rennes », « Ille-et-Vilaine », « 35238 »). Raises
    UnknownTerritory (in French) saying what to type when the text is unknown or ambiguous."""
    text = (text or "").strip()
    if ":" in text:
        level, _, code = text.partition(":")
        return known_territory(level, code, geography)
    if text.upper() == NATIONAL or _fold_name(text) == "france":
        return Level.NATIONAL, NATIONAL
    folded = _fold_name(text)
    exact = [(lv, code) for lv, code, label in geography.search(text, limit=50)
             if code.upper() == text.upper() or _fold_name(geography.name(lv, code)) == folded]
    if len(exact) == 1:
        return exact[0]
    if not exact:
        near = geography.search(text, limit=5)
        hint = "; ".join(f"{label} ({lv.value}:{code})" for lv, code, label in near)
        hint = f" ; peut-être : {hint}" if hint else ""
        raise UnknownTerritory(f"aucun territoire ne s'appelle {text!r} (attendu : niveau:code, ex. commune:35238,"
                               f" ou un nom){hint}")
    choices = ", ".join(f"{lv.value}:{code} ({geography.label(lv, code)})" for lv, code in exact[:8])
    raise UnknownTerritory(f"{text!r} désigne plusieurs territoires : précisez-le ({choices})")


def _fold_name(text: str) -> str:
    return " ".join(
        "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch))
        .replace("-", " ").replace("'", " ").split()
    )
