"""Nomenclature loading (adapters/nomenclature.py) and the pure nature/phase rules (domain/nature.py)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.cisu.nomenclature import (
    NOMENCLATURE_DIR,
    Entry,
    Nomenclature,
    available_nomenclatures,
    location_kind_label,
    nature_label,
    nomenclature,
    resource_status_label,
    resource_type_label,
    risk_label,
    vehicle_type_label,
)
from domain.nature import (
    FAMILY_LABELS,
    PHASE_LABELS,
    RESOURCE_STATUS_ORDER,
    SUBFAMILY_BY_LEVEL2,
    SUBFAMILY_LABELS,
    NatureFamily,
    NatureSubfamily,
    ResourcePhase,
    family_of,
    phase_of,
    status_rank,
    subfamily_label,
    subfamily_of,
)

# --- adapters/nomenclature.py ---------------------------------------------------------------------


def test_every_shipped_list_loads_with_a_consistent_hierarchy():
    names = available_nomenclatures()
    assert {"HubSante.fait", "HubSante.lieu", "HubSante.risque", "HubSante.statutVecteur",
            "EMSI-EVENT.STATUS", "EMSI-MISSION.TYPE", "EMSI-RESOURCE.RTYPE.CLASS"} <= set(names)
    for name in names:
        codes = nomenclature(name)
        assert len(codes) > 0, name
        for entry in codes:
            assert entry.code == entry.code.strip() and entry.label == entry.label.strip()
            assert entry.label, (name, entry.code)
            if entry.parent is None:
                assert entry.level == 1, (name, entry)
            else:
                parent = codes.entry(entry.parent)
                assert parent is not None and parent.level < entry.level, (name, entry)


def known(list_name: str, code: str) -> Entry:
    entry = nomenclature(list_name).entry(code)
    assert entry is not None, code
    return entry


def test_labels_come_from_the_column_of_their_level():
    fait = nomenclature("HubSante.fait")
    assert fait.entry("C04.00.00") == Entry(
        "C04.00.00", "Incendie", 1, None,
        "En cas d’incendie et d’explosion, c’est le type d’explosion qui doit être saisi",
    )
    assert known("HubSante.fait", "C04.02.00").level == 2 and known("HubSante.fait", "C04.02.00").parent == "C04.00.00"
    assert fait.label("C04.02.01") == "Bâtiment d’habitation"
    assert known("HubSante.fait", "C04.02.01").parent == "C04.02.00"
    # "Libellé niveau 2" header variant, and a level-2 code whose shape has no numbered parent
    assert known("HubSante.typeVecteur", "SIS.VSAV").parent == "SIS"
    assert nomenclature("HubSante.statutVecteur").label("DEPART") == "Début d’intervention"
    # EMSI lists repeat the ancestors' labels in the shallower columns
    rclass = nomenclature("EMSI-RESOURCE.RTYPE.CLASS")
    assert rclass.entry("FAC/BUILDN/HOUSE") == Entry(
        "FAC/BUILDN/HOUSE", "Maison", 3, "FAC/BUILDN",
        "Un logement utilisé comme résidence pour une ou plusieurs personnes.")


def test_full_label_and_ancestors():
    fait = nomenclature("HubSante.fait")
    assert fait.full_label("C04.02.01") == "Incendie › Incendie d'un bâtiment / local › Bâtiment d’habitation"
    assert [a.code for a in fait.ancestors("C04.02.01")] == ["C04.00.00", "C04.02.00"]
    assert fait.ancestors("C04.00.00") == [] and fait.ancestors("nope") == []
    # C05 is only two levels deep although its codes have three segments
    assert fait.full_label("C05.00.03") == "Explosion › Explosion d’un silo / lieu de stockage"
    assert nomenclature("HubSante.motif").full_label("M02.04") == "Blessure › Brûlure grave"
    assert fait.full_label("C99.99.99") == "C99.99.99" and fait.full_label(None) == ""


def test_codes_with_trailing_blanks_and_lists_without_labels():
    position = nomenclature("EMSI-EVENT.POSITION.TYPE")
    assert "POINT" in position and "POINT " in position
    assert position.label(" POINT ") == "Point géographique unique"  # no label: the description
    assert "EMSI-EVENT.SOURCE" in available_nomenclatures()
    assert nomenclature("EMSI-EVENT.SOURCE").label("HUMOBS") == "Observation humaine"


def test_flat_list_with_short_and_long_wordings():
    entry = known("EMSI-MISSION.TYPE", "FFST/FR_FIRE")
    assert entry.level == 1 and entry.parent is None and entry.label == "LUTTE INCENDIE"


def test_duplicate_codes_keep_the_first_and_are_logged(tmp_path: Path, caplog):
    path = tmp_path / "Test.liste.csv"
    path.write_text(
        ",code,label_n1,Libellé niveau 2,description,commentaire\n"
        "0,A ,Premier,,desc A,\n"
        "1,A.X,,Enfant,,\n"
        "2,A,Doublon,,,erreur\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="adapters.cisu.nomenclature"):
        codes = Nomenclature.from_csv(path)
    assert codes.name == "Test.liste"
    assert codes.label("A") == "Premier" and len(codes) == 2
    assert codes.entry("A.X") == Entry("A.X", "Enfant", 2, "A", "")
    assert "duplicated" in caplog.text and "A" in caplog.text
    # the shipped lists with duplicates
    assert nomenclature("EMSI-CONTEXT.SECLASS").label("CONFID") == "Confidentiel"


def test_nomenclature_is_cached_and_unknown_names_fail():
    assert nomenclature("HubSante.fait") is nomenclature("HubSante.fait")
    with pytest.raises(KeyError):
        nomenclature("HubSante.inexistant")
    with pytest.raises(KeyError):
        nomenclature("../geo/communes")


def test_convenience_labels():
    assert nature_label("C08.05.00") == "Tempête"
    assert location_kind_label("L01.01.01") == "A l'intérieur"
    assert risk_label("R19") == "Risque électrique/ risque lié à une ligne HT ou THT"
    assert resource_type_label("SMUR.ADULT") == "Smur Généraliste"
    assert vehicle_type_label("SIS.VSAV") == "Véhicule de secours et d'assistance aux victimes"
    assert resource_status_label("REN-BASE") == "Rentrée à la base"
    assert nature_label("C42.00.00") is None and nature_label(None) is None


@given(st.text(max_size=12))
def test_lookups_never_raise(code):
    fait = nomenclature("HubSante.fait")
    assert (fait.label(code) is None) == (code not in fait)
    assert isinstance(fait.full_label(code), str)


# --- domain/nature.py -----------------------------------------------------------------------------


def _fait_rows() -> list[list[str]]:
    with (NOMENCLATURE_DIR / "HubSante.fait.csv").open(encoding="utf-8") as handle:
        return list(csv.reader(handle))[1:]


def test_every_nature_code_has_a_known_family():
    for row in _fait_rows():
        code = row[1].strip()
        family = family_of(code)
        assert family is not NatureFamily.UNKNOWN, code
        assert family is family_of(code[:3] + ".00.00")


def test_family_examples_and_garbage():
    assert family_of("C01.01.04") is NatureFamily.ROAD
    assert family_of("C04.05.00") is NatureFamily.FIRE
    assert family_of(" c08.01.00 ") is NatureFamily.NATURAL
    assert family_of("C11.06.00") is NatureFamily.OTHER
    for garbage in (None, "", "C12.00.00", "C00.00.00", "L01.00.00", "C4.2.1", "C04-02-01", 42):
        assert family_of(garbage) is NatureFamily.UNKNOWN
    assert set(FAMILY_LABELS) == set(NatureFamily)
    assert FAMILY_LABELS[NatureFamily.FIRE] == "Incendie"


@given(st.one_of(st.none(), st.text(max_size=15)))
def test_family_of_is_total(code):
    assert isinstance(family_of(code), NatureFamily)
    assert subfamily_label(code) is None or isinstance(subfamily_label(code), str)


def test_subfamilies_follow_the_list():
    fait = nomenclature("HubSante.fait")
    # every table key names a real level-2 entry (or the C08 root) of the list
    for (family, level2) in SUBFAMILY_BY_LEVEL2:
        assert f"C{family}.{level2}.00" in fait
    # every C08 code gets a subfamily, and no other natural family code does
    for entry in fait:
        if entry.code.startswith("C08."):
            assert subfamily_of(entry.code) is not None, entry.code
    assert subfamily_of("C08.05.00") is NatureSubfamily.STORM
    assert subfamily_of("C08.01.00") is NatureSubfamily.FLOOD
    assert subfamily_of("C04.05.00") is NatureSubfamily.WILDFIRE
    assert subfamily_of("C08.08.02") is NatureSubfamily.POLLUTION
    assert subfamily_of("C04.02.01") is None and subfamily_of("C08") is None
    assert subfamily_label("C08.09.00") == "Tempête / intempéries"
    assert set(SUBFAMILY_LABELS) == set(NatureSubfamily)


def test_resource_phases_cover_the_status_list_in_order():
    statuses = [entry.code for entry in nomenclature("HubSante.statutVecteur")]
    assert list(RESOURCE_STATUS_ORDER) == statuses
    assert all(phase_of(status) is not None for status in statuses)
    assert set(PHASE_LABELS) == set(ResourcePhase)
    assert {phase_of(s) for s in statuses} == set(ResourcePhase)
    assert phase_of("DECLENCHE") is ResourcePhase.ALERTED
    assert phase_of("depart ") is ResourcePhase.EN_ROUTE
    assert phase_of("ARRIVEE") is ResourcePhase.ON_SCENE
    assert phase_of("TRANSP") is ResourcePhase.TRANSPORT
    assert phase_of("RETOUR") is ResourcePhase.RELEASED
    assert phase_of("ANNULE") is ResourcePhase.CANCELLED
    assert phase_of("PARTI") is None and phase_of(None) is None
    def rank(status: str) -> int:
        found = status_rank(status)
        assert found is not None, status
        return found

    assert rank("DECLENCHE") < rank("DEPART") < rank("ARRIVEE") < rank("REN-BASE")
    assert status_rank("???") is None


def test_phases_never_go_backwards_along_the_lifecycle():
    order: list[ResourcePhase | None] = [ResourcePhase.ALERTED, ResourcePhase.EN_ROUTE, ResourcePhase.ON_SCENE,
                                         ResourcePhase.TRANSPORT, ResourcePhase.RELEASED]
    ranks = [order.index(phase_of(s)) for s in RESOURCE_STATUS_ORDER if phase_of(s) is not ResourcePhase.CANCELLED]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(("code", "label"), [
    ("C01.01.01", "Accident de la circulation — véhicule léger, fourgon"),
    ("C02.07.04", "Atteinte aux personnes — personne exposée à produits chimiques ou toxiques"
                  " / accident technologique / intervention à caractère NRBC"),
    ("C08.05.00", "Aléas naturels et météorologiques — tempête"),
    ("C04.02.01", "Incendie — bâtiment d’habitation"),
    ("C04.00.00", "Incendie"),
    ("C99.01.01", "Nature inconnue"),
    (None, "Nature inconnue"),
])
def test_a_nature_reads_as_its_family_and_its_nature(code, label):
    """Issue #22: « Véhicule léger, fourgon » alone did not say it was a road accident, and « à produits
    chimiques… » started mid-sentence."""
    from adapters.cisu.nomenclature import nature_display_label

    assert nature_display_label(code) == label


@given(st.sampled_from(nomenclature("HubSante.fait").codes()))
def test_every_nature_label_starts_with_its_family_and_never_mid_sentence(code):
    from adapters.cisu.nomenclature import nature_display_label

    label = nature_display_label(code)
    family = FAMILY_LABELS[family_of(code)]
    assert label == family or label.startswith(family + " — ")
    rest = label.removeprefix(family + " — ")
    assert not rest.startswith(("à ", "au ", "aux ", "de ", "d'", "par "))
