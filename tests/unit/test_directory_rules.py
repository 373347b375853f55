"""The directory's pure rules: kinds, ids, positions, validation, who may grant and who sees whom."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.access import ROLES, check_holds
from domain.directory import (
    KINDS,
    DirectoryError,
    Organisation,
    OrganisationKind,
    check_email,
    check_phone,
    check_role_in,
    kind_named,
    mairie_name,
    may_grant,
    may_read_directory,
    organisation_id,
    organisation_territory,
    position_role,
    roles_in,
    seeded_organisation_id,
    seeded_organisations,
    slug,
)
from domain.geography import Level
from tests.unit.test_access import TREE

C, D, Z, N = Level.COMMUNE, Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL
K = OrganisationKind


def org(kind: K, level: Level, code: str, name: str = "X") -> Organisation:
    return Organisation(organisation_id(kind, level, code, name), kind, name, level, code)


def test_every_kind_gives_a_role_it_may_hold_at_its_levels() -> None:
    for info in KINDS.values():
        for level in info.levels:
            check_holds(ROLES[info.role], level)
        for role in roles_in(info.kind):
            for level in info.levels:
                check_holds(ROLES[role], level)


def test_seeded_ids_are_deterministic_and_named_by_kind_and_code() -> None:
    assert organisation_id(K.MAIRIE, C, "35238") == "mairie.35238"
    assert organisation_id(K.PREFECTURE, D, "35") == "prefecture.35"
    assert organisation_id(K.COZ, Z, "ouest") == "coz.ouest"
    assert organisation_id(K.EPCI, D, "35", "Rennes Métropole") == "epci.35.rennes-metropole"
    with pytest.raises(DirectoryError, match="doit avoir un nom"):
        organisation_id(K.PARTENAIRE, N, "FR", " ")


def test_a_bearer_token_acts_for_its_territorys_seeded_organisation() -> None:
    assert seeded_organisation_id("mayor", C, "35238") == "mairie.35238"
    assert seeded_organisation_id("prefecture", D, "35") == "prefecture.35"
    assert seeded_organisation_id("sdis", D, "2A") == "sdis.2A"
    assert seeded_organisation_id("zone", Z, "ouest") == "coz.ouest"
    assert seeded_organisation_id("national", N, "FR") == "cogic.FR"
    assert seeded_organisation_id("nexsis", N, "FR") == "nexsis.FR"
    assert seeded_organisation_id("analyst", D, "35") is None


def test_seeding_covers_every_territory_once() -> None:
    orgs = seeded_organisations([("35238", "Rennes"), ("72181", "Le Mans")], [("35", "Ille-et-Vilaine")],
                                [("ouest", "Ouest")])
    ids = [o.id for o in orgs]
    assert len(ids) == len(set(ids))
    assert set(ids) == {"cogic.FR", "nexsis.FR", "coz.ouest", "prefecture.35", "sdis.35", "mairie.35238",
                        "mairie.72181"}
    assert next(o for o in orgs if o.id == "sdis.35").nexsis_id == "fr.fire.sdis35"


def test_mairie_names_follow_french_contractions() -> None:
    assert mairie_name("Rennes") == "Mairie de Rennes"
    assert mairie_name("Angers") == "Mairie d'Angers"
    assert mairie_name("Le Mans") == "Mairie du Mans"
    assert mairie_name("Les Sables-d'Olonne") == "Mairie des Sables-d'Olonne"
    assert mairie_name("Évreux") == "Mairie d'Évreux"


def test_positions_map_to_roles_and_belong_to_their_kinds() -> None:
    assert position_role(K.MAIRIE, "maire") == ("mayor", "Maire")
    assert position_role(K.PREFECTURE, "Chef du SIDPC") == ("prefecture", "Chef du SIDPC")
    assert position_role(K.SDIS, "chef de salle codis") == ("sdis", "Chef de salle CODIS")
    assert position_role(K.PREFECTURE, "Analyste") == ("analyst", "Analyste")
    assert position_role(K.COGIC, "Administrateur de l’annuaire") == ("admin", "Administrateur de l'annuaire")
    assert position_role(K.MAIRIE, "Responsable  sécurité") == ("mayor", "Responsable sécurité")
    with pytest.raises(DirectoryError, match="n'existe pas"):
        position_role(K.SDIS, "Maire")
    with pytest.raises(DirectoryError, match="fonction manquante"):
        position_role(K.MAIRIE, "")
    with pytest.raises(DirectoryError):
        check_role_in(K.MAIRIE, "admin")


def test_validation_messages_are_french() -> None:
    assert check_email(" Marie.Dupont@Rennes.FR ") == "marie.dupont@rennes.fr"
    with pytest.raises(DirectoryError, match="adresse électronique invalide"):
        check_email("marie")
    assert check_phone("+33 2 99 00 00 00") == "+33 2 99 00 00 00"
    with pytest.raises(DirectoryError, match="téléphone invalide"):
        check_phone("appelez-moi")
    with pytest.raises(DirectoryError, match="type d'organisation inconnu"):
        kind_named("mairie-annexe")
    assert organisation_territory(K.MAIRIE, "commune:35238", TREE) == (C, "35238")
    assert organisation_territory(K.MAIRIE, "35238", TREE) == (C, "35238")
    with pytest.raises(DirectoryError, match="niveau commune"):
        organisation_territory(K.MAIRIE, "departement:35", TREE)
    with pytest.raises(DirectoryError, match="territoire inconnu"):
        organisation_territory(K.SDIS, "departement:99", TREE)


def test_who_may_grant_for_whom() -> None:
    assert may_grant("prefecture", D, "35", org(K.MAIRIE, C, "35238"), TREE)
    assert may_grant("prefecture", D, "35", org(K.SDIS, D, "35"), TREE)  # its own SDIS
    assert not may_grant("prefecture", D, "35", org(K.SDIS, D, "29"), TREE)
    assert may_grant("prefecture", D, "35", org(K.PARTENAIRE, D, "35"), TREE)
    assert may_grant("prefecture", D, "35", org(K.EPCI, D, "35"), TREE)
    assert not may_grant("prefecture", D, "35", org(K.EPCI, D, "29"), TREE)
    assert not may_grant("prefecture", D, "35", org(K.MAIRIE, C, "29019"), TREE)
    assert not may_grant("prefecture", D, "35", org(K.PREFECTURE, D, "35"), TREE)
    assert may_grant("zone", Z, "ouest", org(K.PREFECTURE, D, "29"), TREE)
    assert not may_grant("zone", Z, "ouest", org(K.PREFECTURE, D, "69"), TREE)
    assert not may_grant("zone", Z, "ouest", org(K.MAIRIE, C, "35238"), TREE)
    assert may_grant("national", N, "FR", org(K.COZ, Z, "sud-est"), TREE)
    assert not may_grant("national", N, "FR", org(K.PREFECTURE, D, "35"), TREE)
    assert not may_grant("mayor", C, "35238", org(K.MAIRIE, C, "35238"), TREE)
    assert may_grant("admin", N, "FR", org(K.COGIC, N, "FR"), TREE)


def test_directory_visibility_is_own_territory_and_above() -> None:
    assert may_read_directory("mayor", True, C, "35238", (D, "35"), TREE)
    assert may_read_directory("mayor", True, C, "35238", (N, "FR"), TREE)
    assert not may_read_directory("mayor", True, C, "35238", (C, "35126"), TREE)
    assert may_read_directory("prefecture", True, D, "35", (C, "35126"), TREE)
    assert not may_read_directory("nexsis", False, N, "FR", (N, "FR"), TREE)
    assert may_read_directory("admin", False, N, "FR", (C, "69123"), TREE)


@given(st.text(max_size=60))
def test_slug_is_ascii_and_stable(text: str) -> None:
    s = slug(text)
    assert s == slug(s) and all(c.isascii() and (c.isalnum() or c == "-") for c in s)
    assert not s.startswith("-") and not s.endswith("-")


@given(st.text(max_size=80))
def test_position_parsing_never_raises_anything_but_a_directory_error(text: str) -> None:
    for kind in K:
        try:
            role, label = position_role(kind, text)
        except DirectoryError:
            continue
        assert role in roles_in(kind) and label.strip() == label and label


@given(st.text(max_size=40))
def test_email_check_normalises_or_refuses(text: str) -> None:
    try:
        e = check_email(text)
    except DirectoryError:
        return
    assert e == e.strip().lower() and "@" in e and check_email(e) == e
