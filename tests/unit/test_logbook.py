"""The log book (domain.logbook): amendments never lose what they correct, the visibility rule never shows
an organisation's own entry to another organisation, the aggregate's events rebuild the same log book,
situation reports are numbered per organisation; and the exports read back (CSV, XLSX, HTML)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.crisis import log_export
from domain.access import may_read_log_entry
from domain.logbook import KINDS, EntryRefused, LogBook, LogItem, SituationReports, log_book_id, merged

T0 = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
ORGS = ("prefecture.35", "mairie.35238", "sdis.35")
PARIS = ZoneInfo("Europe/Paris")


def author(org: str) -> dict:
    return {"person_id": f"p.{org}", "name": f"Agent {org}", "organisation_id": org, "grant_id": None,
            "role": "prefecture", "territory": "departement:35"}


# One act: (organisation, kind, visibility, text, amends: an index into the entries written so far, or None).
acts = st.lists(st.tuples(st.sampled_from(ORGS), st.sampled_from(sorted(KINDS)),
                          st.sampled_from(["organisation", "crisis"]), st.text(min_size=1, max_size=30),
                          st.none() | st.integers(min_value=0, max_value=40)), max_size=30)


def play(script: list) -> tuple[LogBook, list[tuple[str, str, str, str | None]]]:
    """Write the script; (id, organisation, text as written, amends) of each entry the book accepted."""
    book = LogBook("crisis:test")
    written: list[tuple[str, str, str, str | None]] = []
    for n, (org, kind, visibility, text, amends) in enumerate(script):
        target = written[amends % len(written)][0] if amends is not None and written else None
        try:
            entry_id = book.write(kind=kind, text=text, visibility=visibility, case_ids=[], author=author(org),
                                  organisation_id=org, at=T0 + timedelta(minutes=n), amends=target)
        except EntryRefused:
            continue
        written.append((entry_id, org, text.strip(), target))
    return book, written


@given(acts)
def test_amendments_never_lose_the_original(script):
    book, written = play(script)
    items = {i.id: i for i in book.items()}
    assert len(items) == len(written)
    for entry_id, org, text, amends in written:
        item = items[entry_id]
        assert item.text == text and item.organisation_id == org, "an entry is never changed"
        if amends is not None:
            original = items[amends]
            assert entry_id in original.amended_by
            assert original.organisation_id == org, "only its organisation corrects an entry"
            assert item.visibility == original.visibility, "a correction shows no wider than what it corrects"


@given(acts, st.sampled_from((*ORGS, None)))
def test_the_visibility_rule_never_shows_an_organisation_entry_to_another_one(script, reader):
    book, _ = play(script)
    seen = [i for i in book.items() if may_read_log_entry(reader, i.organisation_id, i.visibility)]
    assert all(i.visibility == "crisis" or i.organisation_id == reader for i in seen)
    assert {i.id for i in book.items() if i.visibility == "crisis"} <= {i.id for i in seen}


@given(acts)
def test_the_events_rebuild_the_same_log_book(script):
    book, _ = play(script)
    rebuilt = None
    for e in book.collect_events():
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None and rebuilt.id == log_book_id("crisis:test")
    assert [i.as_dict() for i in rebuilt.items()] == [i.as_dict() for i in book.items()]


def test_what_the_book_refuses():
    book = LogBook("crisis:x")
    common: dict[str, Any] = {"case_ids": [], "author": author(ORGS[0]), "organisation_id": ORGS[0], "at": T0}
    with pytest.raises(EntryRefused, match="type d'entrée inconnu"):
        book.write(kind="rumeur", text="x", visibility="crisis", **common)
    with pytest.raises(EntryRefused, match="vide"):
        book.write(kind="information", text="  ", visibility="crisis", **common)
    with pytest.raises(EntryRefused, match="visibilité inconnue"):
        book.write(kind="information", text="x", visibility="public", **common)
    first = book.write(kind="decision", text="Ouverture du CHU", visibility="crisis", case_ids=["FR.1", "FR.1"],
                       author=author(ORGS[0]), organisation_id=ORGS[0], at=T0)
    assert book.entries[first]["case_ids"] == ["FR.1"]
    with pytest.raises(EntryRefused, match="autre organisation"):
        book.write(kind="information", text="x", visibility="crisis", case_ids=[], author=author(ORGS[1]),
                   organisation_id=ORGS[1], at=T0, amends=first)
    with pytest.raises(EntryRefused, match="inconnue"):
        book.write(kind="information", text="x", visibility="crisis", amends="99", **common)


def test_reports_are_numbered_per_organisation_with_their_figures_frozen():
    reports = SituationReports("c1")
    figures = {"cases_active": 3}
    a1 = reports.write(organisation_id="mairie.35238", text="RAS", figures=figures, request_id=None,
                       author=author("mairie.35238"), at=T0)
    p1 = reports.write(organisation_id="prefecture.35", text="Crue", figures={}, request_id="prefecture.35.request.1",
                       author=author("prefecture.35"), at=T0)
    a2 = reports.write(organisation_id="mairie.35238", text="Décrue", figures={}, request_id=None,
                       author=author("mairie.35238"), at=T0)
    figures["cases_active"] = 9
    assert (a1["number"], p1["number"], a2["number"]) == (1, 1, 2)
    assert reports.reports[0]["figures"] == {"cases_active": 3}


def test_merged_orders_by_time_people_first_at_the_same_moment():
    auto = LogItem(at=T0, kind="message", text="msg", source="nexsis", visibility="crisis", id="FR.1#1")
    person = LogItem(at=T0, kind="action", text="act", source="personne", visibility="crisis", id="1")
    earlier = LogItem(at=T0 - timedelta(seconds=1), kind="alert", text="al", source="alerte", visibility="crisis")
    assert [i.text for i in merged([auto, earlier], [person])] == ["al", "act", "msg"]


# ---- exports read back -------------------------------------------------------------------------------

ITEMS = [
    LogItem(at=T0, kind="decision", text="Évacuation du quartier Saint-Hélier", source="personne",
            visibility="crisis", organisation_id="prefecture.35", author=author("prefecture.35"),
            case_ids=("FR.35.1",), id="1", amended_by=("2",)),
    LogItem(at=T0 + timedelta(minutes=5), kind="information", text="=HYPERLINK(\"http://x\")", source="personne",
            visibility="crisis", organisation_id="prefecture.35", author=author("prefecture.35"), id="2", amends="1"),
    LogItem(at=T0 + timedelta(minutes=7), kind="message", text="FR.35.1 — Appel reçu", source="nexsis",
            visibility="crisis", organisation_id="fr.fire.sis35", case_ids=("FR.35.1",), id="FR.35.1#1"),
]


def test_the_csv_reads_back_with_local_times_and_the_zone_in_its_heading():
    rows = list(csv.reader(io.StringIO(log_export.to_csv(ITEMS, PARIS))))
    assert rows[0][0] == "Heure (heure de Paris)"
    assert rows[1][:3] == ["07/12/2026 18:00", "Main courante", "Décision"]
    assert rows[1][6] == "Évacuation du quartier Saint-Hélier" and rows[1][9] == "2"
    assert rows[2][6].startswith("'="), "a formula stays text"
    assert rows[3][1] == "NexSIS" and rows[3][10] == ""


def test_the_xlsx_reads_back():
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(log_export.to_xlsx(ITEMS, PARIS, "Crue"))).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Main courante — Crue" and "heure de Paris" in values[1][0]
    assert values[3][0] == "07/12/2026 18:00" and values[3][6] == "Évacuation du quartier Saint-Hélier"
    assert values[4][6].startswith("'=") and sheet.cell(5, 7).data_type == "s"


def test_the_printable_page_states_the_zone_and_shows_reports_side_by_side():
    crisis = {"title": "Crue <Vilaine>", "kind_label": "Inondation", "territory": "departement:974",
              "status": "ouverte"}
    reports = [{"organisation_id": "mairie.97411", "number": 1, "text": "RAS", "figures": {"cases_active": 2},
                "request_id": None, "at": T0.isoformat()},
               {"organisation_id": "mairie.97411", "number": 2, "text": "Crue", "figures": {"cases_active": 5},
                "request_id": "x.request.1", "at": T0.isoformat()}]
    page = log_export.to_html(crisis, ITEMS, reports, ZoneInfo("Indian/Reunion"))
    assert "Toutes les heures sont en heure de La Réunion" in page
    assert "07/12/2026 21:00" in page, "18:00 in Paris is 21:00 in La Réunion"
    assert "Crue &lt;Vilaine&gt;" in page and "<Vilaine>" not in page
    assert "n° 1" in page and "n° 2" in page and "En réponse à la demande x.request.1" in page
    assert "@media print" in page
