"""The directory's CSV: every bad row named by its line, the file refused whole; what `write` writes,
`parse` reads back; nothing but FileRefused for any text."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.directory.csv_file import COLUMNS, PARIS, FileRefused, parse, until_text, write
from domain.directory import OrganisationKind
from domain.geography import Level
from tests.unit.test_access import TREE

HEADER = ",".join(COLUMNS)


def test_rows_are_read_with_their_role_and_territory() -> None:
    text = "\ufeff" + HEADER + ",until\n" + "\n".join([
        "mairie,commune:35238,,Marie Maire,maire,Marie@Rennes.example,02 99 00 00 00|06 00 00 00 00,2027-01-31",
        "",
        "epci,departement:35,Rennes Métropole,,,,,",
    ]) + "\n"
    first, epci = parse(text, TREE)
    assert (first.line, first.kind, first.level, first.code, first.role, first.position) == (
        2, OrganisationKind.MAIRIE, Level.COMMUNE, "35238", "mayor", "Maire")
    assert first.email == "marie@rennes.example" and first.phones == ("02 99 00 00 00", "06 00 00 00 00")
    assert first.until == datetime(2027, 2, 1, tzinfo=PARIS) and until_text(first.until) == "2027-01-31"
    assert epci.line == 4 and epci.email is None and epci.organisation_name == "Rennes Métropole"


def test_semicolons_and_any_column_order() -> None:
    text = "email;position;person_name;organisation_kind;territory;organisation_name;phone\n" \
           "a@b.example;Préfet;Le Préfet;prefecture;35;;\n"
    [row] = parse(text, TREE)
    assert row.role == "prefecture" and row.code == "35"


def test_every_bad_row_is_named_by_its_line() -> None:
    text = HEADER + "\n" + "\n".join([
        "mairie,commune:35238,,Marie,Maire,marie@rennes.example,",
        "mairie-annexe,commune:35238,,A,Maire,a@b.example,",
        "sdis,departement:35,,B,Maire,b@b.example,",
        "mairie,commune:99999,,C,Maire,c@b.example,",
        "prefecture,departement:35,,D,Préfet,pas-une-adresse,",
        "mairie,commune:35126,,Marie Autre,Maire,marie@rennes.example,",
        "mairie,commune:35238,,E,Maire",
        "partenaire,national:FR,,,,,",
    ])
    with pytest.raises(FileRefused) as refused:
        parse(text, TREE)
    lines = [n for n, _ in refused.value.errors]
    assert lines == [3, 4, 5, 6, 7, 8, 9]
    reasons = dict(refused.value.errors)
    assert "type d'organisation inconnu" in reasons[3] and "n'existe pas" in reasons[4]
    assert "territoire inconnu" in reasons[5] and "adresse électronique invalide" in reasons[6]
    assert "ligne 2" in reasons[7] and "colonnes au lieu de" in reasons[8] and "nom" in reasons[9]


def test_a_bad_header_is_line_one() -> None:
    with pytest.raises(FileRefused) as refused:
        parse("kind,territory\nmairie,35238\n", TREE)
    assert refused.value.errors[0][0] == 1 and "colonnes manquantes" in refused.value.errors[0][1]
    with pytest.raises(FileRefused):
        parse("", TREE)


@given(st.text(max_size=300))
def test_any_text_is_rows_or_a_refusal(text: str) -> None:
    try:
        parse(HEADER + "\n" + text, TREE)
    except FileRefused as e:
        assert e.errors and all(n >= 1 and reason for n, reason in e.errors)


names = st.text(st.characters(codec="utf-8", exclude_categories=("C", "Z")) | st.just(" "), min_size=1,
                max_size=30).filter(lambda s: s.strip())


@given(st.lists(st.tuples(names, st.sampled_from(["Maire", "Adjoint au maire", "Secrétaire de mairie"]),
                          st.integers(0, 999)), max_size=8, unique_by=lambda t: t[2]))
def test_what_write_writes_parse_reads_back(people: list) -> None:
    rows = [("mairie", "commune:35238", "Mairie de Rennes", name, position, f"p{n}@rennes.example", "", "")
            for name, position, n in people]
    parsed = parse(write(rows), TREE)
    assert [(" ".join((r.person_name or "").split()), r.position, r.email) for r in parsed] == [
        (" ".join(name.split()), position, f"p{n}@rennes.example") for name, position, n in people]
