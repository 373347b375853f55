"""One territory syntax where a person types one (`commune:35238`, `departement:35`), plain names and
codes accepted when they name one territory only (issue #22)."""

from __future__ import annotations

import pytest

from adapters.geography import get_geography
from domain.geography import Level, UnknownTerritory
from projections.read.territories import typed_territory


@pytest.mark.parametrize(("text", "expected"), [
    ("commune:35238", (Level.COMMUNE, "35238")),
    ("departement:35", (Level.DEPARTEMENT, "35")),
    ("zone:ouest", (Level.ZONE, "ouest")),
    ("FR", (Level.NATIONAL, "FR")),
    ("France", (Level.NATIONAL, "FR")),
    ("Rennes", (Level.COMMUNE, "35238")),
    ("ille-et-vilaine", (Level.DEPARTEMENT, "35")),
    ("Ille et Vilaine", (Level.DEPARTEMENT, "35")),
    ("35238", (Level.COMMUNE, "35238")),
    ("2A", (Level.DEPARTEMENT, "2A")),
    ("Guadeloupe", (Level.DEPARTEMENT, "971")),
])
def test_a_territory_is_typed_as_niveau_code_or_by_its_name(text, expected):
    assert typed_territory(text, get_geography()) == expected


def test_an_ambiguous_or_unknown_name_says_what_to_type_instead():
    with pytest.raises(UnknownTerritory, match="commune:75056") as ambiguous:
        typed_territory("Paris", get_geography())
    assert "departement:75" in str(ambiguous.value)
    with pytest.raises(UnknownTerritory, match="aucun territoire"):
        typed_territory("Atlantide", get_geography())
    with pytest.raises(UnknownTerritory, match="territoire inconnu"):
        typed_territory("commune:99999", get_geography())
