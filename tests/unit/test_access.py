"""The access policy (domain.access) and the one territory parser (domain.geography), without I/O."""

from __future__ import annotations

import pytest

from domain.access import (
    OPERATOR,
    ROLES,
    Act,
    Denied,
    Principal,
    UnknownRole,
    check_holds,
    check_role,
    refusal,
    role_named,
)
from domain.geography import Level, UnknownTerritory, level_of_code, parse_territory, territory

C, D, Z, N = Level.COMMUNE, Level.DEPARTEMENT, Level.ZONE, Level.NATIONAL

# A small tree: two communes in 35, one in 29 (zone ouest), one in 69 (zone sud-est).
PARENT = {(C, "35238"): (D, "35"), (C, "35126"): (D, "35"), (C, "29019"): (D, "29"), (C, "69123"): (D, "69"),
          (D, "35"): (Z, "ouest"), (D, "29"): (Z, "ouest"), (D, "69"): (Z, "sud-est"),
          (Z, "ouest"): (N, "FR"), (Z, "sud-est"): (N, "FR")}


class Tree:
    """A Hierarchy over PARENT (the adapter's Geography does the same over the real files)."""

    def exists(self, level: Level, code: str) -> bool:
        return (level, code) in PARENT or (level, code) == (N, "FR")

    def contains(self, outer: tuple[Level, str], inner: tuple[Level, str]) -> bool:
        node: tuple[Level, str] | None = inner
        if not self.exists(*outer) or not self.exists(*inner):
            return False
        while node is not None:
            if node == outer:
                return True
            node = PARENT.get(node)
        return False

    def label(self, level: Level, code: str) -> str:
        if not self.exists(level, code):
            raise KeyError(code)
        return f"{level.value} {code}"


TREE = Tree()


def principal(role: str, level: Level, code: str) -> Principal:
    return Principal(f"{role}@{code}", ROLES[role], level, code, TREE)


# ---- the parser -----------------------------------------------------------------------------------

def test_level_and_code_are_parsed_and_normalised():
    assert parse_territory("commune:35238") == (C, "35238")
    assert parse_territory(" Departement : 2a ") == (D, "2A")
    assert parse_territory("national:fr") == (N, "FR")
    assert parse_territory("zone:ouest") == (Z, "ouest")
    assert territory("departement", "2b") == (D, "2B")
    assert territory(Level.ZONE, "ouest") == (Z, "ouest")


@pytest.mark.parametrize(("text", "message"), [
    ("35238", "territoire mal formé"),
    ("", "territoire mal formé"),
    ("region:53", "niveau de territoire inconnu"),
    ("national:35", "code national attendu"),
    ("commune:", "code de commune manquant"),
])
def test_malformed_territories_are_refused_with_a_precise_message(text, message):
    with pytest.raises(UnknownTerritory, match=message):
        parse_territory(text)


def test_a_bare_code_takes_the_default_level_and_fr_is_always_the_nation():
    assert parse_territory("35238", default=C) == (C, "35238")
    assert parse_territory("35", default=D) == (D, "35")
    assert parse_territory("FR") == parse_territory("fr", default=C) == parse_territory("national") == (N, "FR")


def test_existence_is_checked_only_against_the_given_hierarchy():
    assert parse_territory("commune:99999") == (C, "99999")
    with pytest.raises(UnknownTerritory, match="territoire inconnu : commune:99999"):
        parse_territory("commune:99999", known=TREE)
    assert territory("zone", "ouest", known=TREE) == (Z, "ouest")


def test_the_level_of_a_bare_code_is_guessed_only_by_level_of_code():
    assert [level_of_code(c) for c in ("FR", "35238", "2A004", "35", "2A", "971", "ouest")] == [N, C, C, D, D, D, Z]


# ---- roles ----------------------------------------------------------------------------------------

def test_roles_hold_territories_of_their_levels_only():
    check_holds(ROLES["mayor"], C)
    with pytest.raises(Denied, match="ne peut pas porter un territoire de niveau departement"):
        check_holds(ROLES["mayor"], D)
    assert all(ROLES["analyst"].may_hold(level) for level in Level)
    assert ROLES["mayor"].default_level is C and ROLES["national"].default_level is N
    with pytest.raises(UnknownRole, match="rôles : mayor, prefecture"):
        role_named("roi")


def test_what_each_role_may_do():
    may = {act: {code for code in ROLES if principal(code, N, "FR").may(act)} for act in Act}
    readers = set(ROLES) - {"nexsis", "admin"}
    assert may[Act.READ] == readers
    assert may[Act.REPLAY] == {"analyst", "auditor", "national"}
    assert may[Act.READ_ACCESS_LOG] == may[Act.READ_AUDIT_HISTORY] == may[Act.READ_QUARANTINE] == {"auditor"}
    assert may[Act.POST_MESSAGES] == {"nexsis"}
    assert {code for code, role in ROLES.items() if role.personal} == {"prefecture", "sdis", "national"}


def test_the_quarantine_needs_a_national_perimeter():
    assert principal("auditor", N, "FR").may(Act.READ_QUARANTINE)
    with pytest.raises(Denied, match="quarantaine"):
        principal("auditor", Z, "ouest").check(Act.READ_QUARANTINE)


def test_refusals_name_the_roles_that_may():
    assert refusal(ROLES["mayor"], Act.REPLAY) == (
        "le rejeu est réservé à : Niveau national (COGIC) (national), Analyste (analyst), Auditeur (auditor)")
    assert refusal(ROLES["nexsis"], Act.READ) == "le rôle nexsis ne donne pas accès aux données"


def test_the_audit_history_is_checked_on_the_role_alone():
    check_role(OPERATOR, Act.READ_AUDIT_HISTORY)
    check_role("auditor", Act.READ_AUDIT_HISTORY)
    for role in ("prefect", "national"):
        with pytest.raises(PermissionError):
            check_role(role, Act.READ_AUDIT_HISTORY)


# ---- territories ----------------------------------------------------------------------------------

def test_a_principal_sees_its_territory_and_what_is_inside():
    zone = principal("zone", Z, "ouest")
    assert zone.can_see(C, "35238") and zone.can_see("departement", "29") and zone.can_see(Z, "ouest")
    assert not zone.can_see(D, "69") and not zone.can_see(N, "FR") and not zone.can_see("region", "53")
    assert not principal("nexsis", N, "FR").can_see(C, "35238")  # a service account reads nothing


def test_cases_are_judged_on_their_narrowest_known_territory():
    prefecture = principal("prefecture", D, "35")
    assert prefecture.can_see_placement({"insee": "35238", "departement": "35", "zone": "ouest"})
    assert not prefecture.can_see_placement({"insee": None, "departement": "29", "zone": "ouest"})
    assert not prefecture.can_see_placement({})  # not placed: national level only
    assert principal("national", N, "FR").can_see_placement(None)
    assert not principal("analyst", Z, "ouest").can_see_placement({"zone": None})


def test_visible_parses_checks_existence_then_perimeter():
    mayor = principal("mayor", C, "35238")
    assert mayor.visible("commune", "35238") == (C, "35238")
    with pytest.raises(UnknownTerritory):
        mayor.visible("commune", "00000")
    with pytest.raises(UnknownTerritory):
        mayor.visible("canton", "35")
    with pytest.raises(Denied, match="hors de votre périmètre"):
        mayor.visible("departement", "35")


def test_the_access_log_scope_follows_the_territory():
    assert principal("auditor", N, "FR").access_log_scope() == {}
    assert principal("auditor", Z, "ouest").access_log_scope() == {"zone": "ouest"}
    me = principal("auditor", D, "35").as_dict()
    assert (me["territory"], me["territory_name"], me["audits"], me["may_see_personal"]) == (
        "departement:35", "departement 35", True, False)


# ---- what every role reads of a case, and what only some may (issue #22, item 3) ----

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from domain.access import case_description, personal_details  # noqa: E402

LECCIA = {
    "caller_name": "Christine Michel",
    "caller_phone": "+33612345678",
    "callback_phone": "06 12 34 56 78",
    "caller_relation": "Voisine",
    "health_motive": {"code": "M01.00", "label": "Arrêt cardiaque", "official": True},
    "victims_details": "Jeune femme d'une trentaine d'années, inanimée, a priori Raymonde LECCIA",
    "notes": ["Christine MICHEL a déclaré un incendie chez sa voisine Raymonde LECCIA ; rappeler au 06 12 34 56 78",
              "Arbre tombé en travers de la chaussée RD 675, circulation impossible"],
    "location_details": "Première maison au croisement avec le chemin qui descend vers le lotissement",
    "access": "Portail vert",
    "situation_details": "Point de situation Guichen : 3 moyen(s) engagé(s)",
}


def test_the_description_of_what_happens_is_for_every_role_without_names_or_phone_numbers():
    text = " ".join(line for _, line in case_description(LECCIA, personal=False))
    assert "Arbre tombé en travers de la chaussée RD 675, circulation impossible" in text
    assert "Première maison au croisement" in text and "Portail vert" in text and "Point de situation" in text
    for secret in ("MICHEL", "Michel", "LECCIA", "Raymonde", "Christine", "06 12 34 56 78", "+336"):
        assert secret not in text
    assert "[nom masqué]" in text and "[numéro masqué]" in text


def test_personal_data_is_labelled_in_french_for_the_roles_that_may_see_it_and_nothing_for_others():
    assert personal_details(LECCIA, personal=False) == []
    details = dict(personal_details(LECCIA, personal=True))
    assert details == {
        "Appelant": "Christine Michel", "Téléphone de l'appelant": "+33612345678",
        "Numéro de rappel": "06 12 34 56 78", "Lien de l'appelant avec les lieux ou la victime": "Voisine",
        "Motif de recours médical": "Arrêt cardiaque",
        "Victimes (identité, état)": "Jeune femme d'une trentaine d'années, inanimée, a priori Raymonde LECCIA",
    }
    full = " ".join(line for _, line in case_description(LECCIA, personal=True))
    assert "Christine MICHEL a déclaré" in full  # who may see personal data reads the notes as written
    assert all("_" not in label and "[" not in value for label, value in personal_details(LECCIA, personal=True))


@given(st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=200))
def test_masking_never_lets_a_known_name_or_a_phone_number_through(text):
    personal = {"caller_name": "Christine Michel", "notes": [f"{text} Christine Michel {text} 0612345678"]}
    masked = " ".join(line for _, line in case_description(personal, personal=False))
    assert "Christine Michel" not in masked and "0612345678" not in masked
