"""Geography: reference data, resolution rules (domain.geography) and the facade (adapters.geography).

All on the real reference files; one Geography per session (get_geography caches it).
"""

from __future__ import annotations

import math
import random
import threading

import orjson
import pytest
import shapely

from adapters.geography import Geography, get_geography
from domain.geography import (
    NATIONAL,
    Level,
    Placement,
    format_distance,
    haversine_m,
    resolve_placement,
    territories_of,
)

GUICHEN = (47.9657986, -1.7901215)  # the real message: inseeCode '35580' (Guichen's postal code)
PARIS_OPERA = (48.866667, 2.333333)
RENNES = (48.1113, -1.68)


@pytest.fixture(scope="module")
def geo() -> Geography:
    return get_geography()


# ---- reference data -----------------------------------------------------------------------------


def test_reference_counts(geo):
    assert len(geo.communes) == 34_969
    assert len(geo.departements) == 109
    assert len(geo.zones) == 12
    assert sum(geo.has_polygon(c) for c in geo.communes) == 34_868


def test_commune_fields_are_parsed(geo):
    guichen = geo.communes["35126"]
    assert (guichen.name, guichen.departement, guichen.postal_codes) == ("Guichen", "35", ("35580",))
    assert guichen.population > 0
    assert len(geo.communes["75056"].postal_codes) == 21  # space-separated list in the CSV
    assert all(len(p) == 5 and p.isdigit() for c in geo.communes.values() for p in c.postal_codes)
    assert all(c.departement in geo.departements for c in geo.communes.values())


def test_every_departement_has_a_zone_except_975_and_989(geo):
    zoneless = {d.code for d in geo.departements.values() if d.zone is None}
    assert zoneless == {"975", "989"}
    assert all(d.zone in geo.zones for d in geo.departements.values() if d.zone)
    assert all(z.seat_insee in geo.communes for z in geo.zones.values())
    assert all(d.prefecture_insee in geo.communes for d in geo.departements.values())


def test_every_prefecture_lies_in_its_departement_except_the_taaf_seat(geo):
    # The TAAF (984) have no commune: they are administered from Saint-Pierre, La Réunion.
    elsewhere = {
        d.code: geo.communes[d.prefecture_insee].departement
        for d in geo.departements.values()
        if geo.communes[d.prefecture_insee].departement != d.code
    }
    assert elsewhere == {"984": "974"}


# ---- resolution rules ---------------------------------------------------------------------------


def test_valid_insee_code(geo):
    p = geo.resolve("35126", None, None)
    assert (p.insee, p.departement, p.zone, p.method, p.notes) == ("35126", "35", "ouest", "insee", ())


def test_valid_insee_code_with_agreeing_point_has_no_note(geo):
    p = geo.resolve("35126", *GUICHEN)
    assert (p.insee, p.method, p.notes, p.point) == ("35126", "insee", (), GUICHEN)


def test_valid_insee_code_with_point_elsewhere_keeps_code_and_notes_both(geo):
    p = geo.resolve("35238", *GUICHEN)  # Rennes' code, point in Guichen
    assert (p.insee, p.method) == ("35238", "insee")
    (note,) = p.notes
    assert "Guichen (35126)" in note and "Rennes (35238)" in note and "13 km" in note


def test_insee_code_that_is_also_the_postal_code_of_the_points_commune(geo):
    # 35200 is Moutiers' INSEE code and a postal code of Rennes; the point is in Rennes: trust what agrees.
    assert "35238" in geo.communes_by_postal_code("35200")
    p = geo.resolve("35200", *RENNES)
    assert (p.insee, p.method) == ("35238", "postal-code")
    assert "Moutiers (35200)" in p.notes[0] and "Rennes (35238)" in p.notes[0]
    assert geo.resolve("35200", None, None).insee == "35200"  # without point the INSEE reading stands


def test_guichen_postal_code_with_point(geo):
    p = geo.resolve("35580", *GUICHEN)
    assert (p.insee, p.departement, p.zone, p.method) == ("35126", "35", "ouest", "postal-code")
    assert p.notes == (
        "35580 est un code postal, pas un code INSEE : commune retenue Guichen (35126) d'après le point",
    )
    assert p.given_code == "35580"


def test_shared_postal_code_without_point_is_unresolved(geo):
    assert len(geo.communes_by_postal_code("35580")) == 6
    p = geo.resolve("35580", None, None)
    assert (p.insee, p.departement, p.zone, p.method) == (None, None, None, "unresolved")
    assert "6 communes" in p.notes[0]


def test_shared_postal_code_with_point_outside_its_communes_follows_the_point(geo):
    p = geo.resolve("35580", *RENNES)
    assert (p.insee, p.method) == ("35238", "point")
    assert "aucune ne contient le point" in p.notes[0]


def test_single_commune_postal_code_without_point(geo):
    p = geo.resolve("35000", None, None)
    assert (p.insee, p.method) == ("35238", "postal-code")
    assert "seule commune" in p.notes[0]


def test_single_commune_postal_code_with_point_elsewhere_keeps_code(geo):
    p = geo.resolve("35000", *GUICHEN)
    assert (p.insee, p.method) == ("35238", "postal-code")
    assert len(p.notes) == 2 and "Guichen (35126)" in p.notes[1]


@pytest.mark.parametrize(
    "code, city",
    [("75101", "75056"), ("75120", "75056"), ("69381", "69123"), ("69389", "69123"), ("13201", "13055"),
     ("13216", "13055")],
)
def test_municipal_arrondissements(geo, code, city):
    p = geo.resolve(code, None, None)
    assert (p.insee, p.method) == (city, "arrondissement")
    assert "arrondissement municipal" in p.notes[0]


def test_lyon_arrondissement_with_point_in_paris(geo):
    p = geo.resolve("69382", *PARIS_OPERA)
    assert (p.insee, p.departement, p.zone, p.method) == ("69123", "69", "sud-est", "arrondissement")
    assert len(p.notes) == 2
    assert "Paris (75056)" in p.notes[1] and "Lyon (69123)" in p.notes[1]


def test_arrondissement_with_agreeing_point_only_notes_the_arrondissement(geo):
    p = geo.resolve("75108", 48.8738, 2.3150)
    assert (p.insee, p.method, len(p.notes)) == ("75056", "arrondissement", 1)


def test_unknown_code_with_point_uses_the_point(geo):
    # 56142 (Moustoir-Remungol) merged into Évellys (56144): no longer a code, nor a postal code.
    assert "56142" not in geo.communes and not geo.communes_by_postal_code("56142")
    lat, lon = geo.random_point_in("56144", random.Random(3))
    p = geo.resolve("56142", lat, lon)
    assert (p.insee, p.method) == ("56144", "point")
    assert "56142" in p.notes[0] and "inconnu" in p.notes[0]


def test_unknown_code_without_point_is_unresolved(geo):
    p = geo.resolve("56142", None, None)
    assert (p.insee, p.method) == (None, "unresolved")
    assert "inconnu" in p.notes[0]


def test_only_a_point(geo):
    p = geo.resolve(None, *GUICHEN)
    assert (p.insee, p.departement, p.zone, p.method, p.notes) == ("35126", "35", "ouest", "point", ())


def test_point_just_off_the_coast_goes_to_nearest_commune(geo):
    p = geo.resolve(None, 48.36, -4.8)  # in the sea off Le Conquet
    assert (p.insee, p.method) == ("29040", "nearest")
    assert "Le Conquet (29040)" in p.notes[0] and " m" in p.notes[0]


@pytest.mark.parametrize("point", [(48.3, -5.5), (45.0, -20.0), (-60.0, 100.0)])
def test_point_far_from_any_commune_is_unresolved(geo, point):
    p = geo.resolve(None, *point)
    assert (p.insee, p.departement, p.zone, p.method) == (None, None, None, "unresolved")
    assert p.point == point and p.notes


def test_nothing_is_unresolved(geo):
    for code in (None, "", "   "):
        p = geo.resolve(code, None, None)
        assert (p.insee, p.departement, p.zone, p.method) == (None, None, None, "unresolved")
        assert p.notes


@pytest.mark.parametrize(
    "lat, lon",
    [
        (math.nan, -1.79), (47.96, math.inf), (95.0, 2.0), (48.0, 200.0),
        (-math.inf, 0.0), (None, 2.0), ("abc", 2.0), (0, 0),
    ],
)
def test_invalid_point_is_dropped_with_a_note(geo, lat, lon):
    p = geo.resolve("35126", lat, lon)
    assert (p.insee, p.method, p.point) == ("35126", "insee", None)
    assert len(p.notes) == 1 and "ignoré" in p.notes[0]
    assert geo.resolve(None, lat, lon).method == "unresolved"


def test_code_normalisation(geo):
    assert geo.resolve(" 35126 ", None, None).insee == "35126"
    assert geo.resolve(35126, None, None).insee == "35126"
    assert geo.resolve("2a004", None, None).insee == "2A004"
    p = geo.resolve("1053", None, None)  # Bourg-en-Bresse with its leading zero lost
    assert p.insee == "01053" and "zéro initial" in p.notes[0]


def test_departement_and_zone_follow_the_commune(geo):
    assert (geo.resolve("97502", None, None).departement, geo.resolve("97502", None, None).zone) == ("975", None)
    assert geo.resolve("97105", None, None).zone == "antilles"
    assert geo.resolve("2B033", None, None).zone == "sud"


def test_resolve_placement_with_injected_locate(geo):
    # The pure rules only see what the adapter injects.
    p = resolve_placement("35580", GUICHEN, directory=geo, locate=lambda lat, lon: ("35126", "point"))
    assert (p.insee, p.method) == ("35126", "postal-code")
    p = resolve_placement(None, GUICHEN, directory=geo, locate=lambda lat, lon: None)
    assert p.method == "unresolved"


def test_placement_round_trips_through_json(geo):
    for p in (geo.resolve("69382", *PARIS_OPERA), geo.resolve(None, None, None), geo.resolve("x", math.nan, 1)):
        data = orjson.loads(orjson.dumps(p.as_dict()))
        assert Placement.from_dict(data) == p


def test_territories_of(geo):
    assert territories_of(geo.resolve("35580", *GUICHEN)) == [
        (Level.COMMUNE, "35126"),
        (Level.DEPARTEMENT, "35"),
        (Level.ZONE, "ouest"),
        (Level.NATIONAL, NATIONAL),
    ]
    assert territories_of(geo.resolve("97502", None, None)) == [
        (Level.COMMUNE, "97502"),
        (Level.DEPARTEMENT, "975"),
        (Level.NATIONAL, NATIONAL),
    ]
    assert territories_of(geo.resolve(None, None, None)) == [(Level.NATIONAL, NATIONAL)]


def test_distance_helpers():
    assert format_distance(850.4) == "850 m"
    assert format_distance(1234) == "1,2 km"
    assert format_distance(5000) == "5 km"
    assert format_distance(391_600) == "392 km"
    assert format_distance(None) == "distance inconnue"
    assert 390_000 < haversine_m(48.8566, 2.3522, 45.764, 4.8357) < 395_000  # Paris-Lyon


# ---- spatial facade -----------------------------------------------------------------------------


def test_locate(geo):
    assert geo.locate(*GUICHEN) == "35126"
    assert geo.locate(*PARIS_OPERA) == "75056"
    assert geo.locate(45.0, -20.0) is None
    assert geo.locate(math.nan, 0.0) is None


def test_locate_many_matches_locate(geo):
    rng = random.Random(7)
    lats = [rng.uniform(42, 51.5) for _ in range(2000)] + [math.nan, 95.0, 48.36]
    lons = [rng.uniform(-5.5, 9.5) for _ in range(2000)] + [0.0, 0.0, -4.8]
    many = geo.locate_many(lats, lons)
    assert many == [geo.locate(a, b) for a, b in zip(lats, lons, strict=True)]
    assert many[-3:] == [None, None, "29040"]
    assert geo.locate_many([], []) == []


def test_sliver_between_simplified_neighbours_goes_to_the_deepest(geo):
    sp = geo._index()
    inp, tr = sp.tree.query(sp.geoms[:3000], predicate="overlaps")
    a, b = int(inp[0]), int(tr[0])
    sliver = shapely.intersection(sp.geoms[a], sp.geoms[b])
    point = shapely.point_on_surface(sliver)
    depths = {i: shapely.distance(point, shapely.boundary(sp.geoms[i])) for i in (a, b)}
    expected = sp.codes[max(depths, key=lambda i: (depths[i], -i))]
    assert geo.locate(point.y, point.x) == expected
    assert geo.locate_many([point.y], [point.x]) == [expected]


def test_distance_m(geo):
    assert geo.distance_m("35126", *GUICHEN) == 0.0
    assert 12_000 < geo.distance_m("35238", *GUICHEN) < 14_000
    assert geo.distance_m("98818", -22.27, 166.45) is None  # Nouméa has no polygon


def test_random_point_in_is_inside_and_reproducible(geo):
    a = geo.random_point_in("35126", random.Random(42))
    assert a == geo.random_point_in("35126", random.Random(42))
    assert shapely.contains_xy(shapely.geometry.shape(geo.boundary(Level.COMMUNE, "35126")), a[1], a[0])
    with pytest.raises(ValueError):
        geo.random_point_in("98818", random.Random(1))
    with pytest.raises(KeyError):
        geo.random_point_in("00000", random.Random(1))


def test_boundaries(geo):
    territories = [(Level.COMMUNE, "35126"), (Level.DEPARTEMENT, "35"), (Level.ZONE, "ouest"), (Level.NATIONAL, "FR")]
    for level, code in territories:
        shape = geo.boundary(level, code)
        assert shape["type"] in ("Polygon", "MultiPolygon")
        orjson.dumps(shape)
    assert geo.boundary("departement", "35")["type"] in ("Polygon", "MultiPolygon")  # plain strings accepted
    assert geo.boundary(Level.COMMUNE, "98818") is None
    assert geo.boundary(Level.DEPARTEMENT, "00") is None
    assert geo.boundary(Level.NATIONAL, "XX") is None


# ---- hierarchy ----------------------------------------------------------------------------------


def test_children_and_parent_are_consistent(geo):
    national = (Level.NATIONAL, NATIONAL)
    assert geo.parent(*national) is None
    seen: dict[Level, int] = {level: 0 for level in Level}
    todo = [national]
    while todo:
        node = todo.pop()
        seen[node[0]] += 1
        for child in geo.children(*node):
            assert geo.parent(*child) == node
            assert geo.contains(node, child) and not geo.contains(child, node)
            todo.append(child)
    # The tree covers every territory exactly once.
    assert seen == {Level.NATIONAL: 1, Level.ZONE: 12, Level.DEPARTEMENT: 109, Level.COMMUNE: len(geo.communes)}
    assert (Level.DEPARTEMENT, "975") in geo.children(*national)  # in no zone
    assert len(geo.children(Level.ZONE, "ouest")) == 20  # Bretagne, Normandie, Pays de la Loire, Centre-Val de Loire
    assert geo.children(Level.COMMUNE, "35126") == [] and geo.children(Level.ZONE, "nowhere") == []


def test_contains(geo):
    assert geo.contains((Level.DEPARTEMENT, "35"), (Level.COMMUNE, "35238"))
    assert geo.contains((Level.ZONE, "ouest"), (Level.COMMUNE, "35238"))
    assert geo.contains((Level.NATIONAL, "FR"), (Level.COMMUNE, "35238"))
    assert geo.contains((Level.NATIONAL, "FR"), (Level.DEPARTEMENT, "989"))
    assert geo.contains(("departement", "35"), ("commune", "35238"))  # as read back from JSON
    assert geo.contains((Level.COMMUNE, "35238"), (Level.COMMUNE, "35238"))  # reflexive
    assert not geo.contains((Level.DEPARTEMENT, "35"), (Level.COMMUNE, "75056"))
    assert not geo.contains((Level.COMMUNE, "35238"), (Level.DEPARTEMENT, "35"))
    assert not geo.contains((Level.DEPARTEMENT, "35"), (Level.COMMUNE, "99999"))
    assert not geo.contains(("nowhere", "35"), (Level.COMMUNE, "35238"))


def test_contains_agrees_with_territories_of(geo):
    rng = random.Random(5)
    for insee in rng.sample(sorted(geo.communes), 300):
        territories = territories_of(geo.resolve(insee, None, None))
        for outer in territories:
            assert geo.contains(outer, territories[0])


def test_names(geo):
    assert geo.name(Level.COMMUNE, "35126") == "Guichen"
    assert geo.name(Level.DEPARTEMENT, "35") == "Ille-et-Vilaine"
    assert geo.name(Level.ZONE, "ouest") == "Ouest"
    assert geo.name(Level.NATIONAL, "FR") == "France"
    with pytest.raises(KeyError):
        geo.name(Level.COMMUNE, "99999")


# ---- search -------------------------------------------------------------------------------------


def test_search_by_name_is_accent_and_case_insensitive(geo):
    assert geo.search("GUICHEN")[0][:2] == (Level.COMMUNE, "35126")
    assert geo.search("evellys")[0][:2] == (Level.COMMUNE, "56144")
    assert geo.search("ille et vilaine")[0] == (Level.DEPARTEMENT, "35", "Ille-et-Vilaine (35)")


def test_search_puts_exact_then_prefix_first(geo):
    codes = [code for _, code, _ in geo.search("st malo", limit=5)]
    assert codes[0] == "35288"  # Saint-Malo before Saint-Malo-de-Guersac…
    results = geo.search("paris", limit=10)
    assert {(Level.ZONE, "paris"), (Level.DEPARTEMENT, "75"), (Level.COMMUNE, "75056")} == {r[:2] for r in results[:3]}
    # Saint-Pierre: the larger commune (La Réunion) first.
    assert [c for lvl, c, _ in geo.search("saint-pierre", limit=2)] == ["97416", "97502"]


def test_search_by_code(geo):
    assert geo.search("35")[0] == (Level.DEPARTEMENT, "35", "Ille-et-Vilaine (35)")
    assert geo.search("35126")[0] == (Level.COMMUNE, "35126", "Guichen (35)")
    assert (Level.COMMUNE, "35126", "Guichen (35)") in geo.search("35580")  # postal code
    assert geo.search("75108")[0][:2] == (Level.COMMUNE, "75056")
    assert geo.search("2a")[0][:2] == (Level.DEPARTEMENT, "2A")
    assert len(geo.search("a", limit=7)) == 7
    assert geo.search("") == [] and geo.search("zzzzqqq") == []


# ---- process-wide instance ----------------------------------------------------------------------


def test_get_geography_is_shared_across_threads():
    seen: list[Geography] = []
    threads = [threading.Thread(target=lambda: seen.append(get_geography())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g is seen[0] for g in seen)
