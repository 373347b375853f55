"""`tocsin log …`, `tocsin report …` and `tocsin replay log` as the operator runs them, acting for
organisations of the directory; the after-action report with the crisis's log book."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from openpyxl import load_workbook

from tests.integration.test_cli import tocsin


def test_the_operator_keeps_the_log_book_and_reports_of_a_crisis(settings, tmp_path):
    crisis = json.loads(tocsin(settings, "crisis", "open", "--as", "prefecture.44", "--title", "Crue de la Loire",
                               "--kind", "flood", "--json").stdout)["id"]
    entry = json.loads(tocsin(settings, "log", "add", crisis, "--as", "mairie.44109", "--kind", "action", "--text",
                              "Gymnase ouvert", "--json").stdout)
    assert entry["organisation_id"] == "mairie.44109" and entry["author"]["person_id"].startswith("cli:")
    tocsin(settings, "log", "add", crisis, "--as", "prefecture.44", "--kind", "decision", "--text", "COD activé",
           "--visibility", "crisis")
    middle = datetime.now(UTC).isoformat()
    tocsin(settings, "log", "add", crisis, "--as", "prefecture.44", "--kind", "decision", "--text",
           "COD activé à 19 h", "--amends", "2")
    refused = tocsin(settings, "log", "add", crisis, "--as", "mairie.44109", "--kind", "rumeur", "--text", "x",
                     check=False)
    assert refused.returncode == 1 and "type d'entrée inconnu" in refused.stderr

    # With --as, what that organisation reads; without, everything.
    as_prefecture = [i["text"] for i in json.loads(tocsin(settings, "log", "list", crisis, "--as", "prefecture.44",
                                                          "--json").stdout)]
    assert as_prefecture == ["COD activé", "COD activé à 19 h"]
    text = tocsin(settings, "log", "list", crisis).stdout
    assert "heure de Paris" in text and "Gymnase ouvert" in text and "(corrige n° 2)" in text

    out = tmp_path / "mc.csv"
    tocsin(settings, "log", "export", crisis, "-o", str(out), "--as", "prefecture.44")
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))
    assert [r[6] for r in rows[1:]] == ["COD activé", "COD activé à 19 h"] and out.stat().st_mode & 0o077 == 0
    xlsx = tmp_path / "mc.xlsx"
    tocsin(settings, "log", "export", crisis, "-o", str(xlsx))
    sheet = load_workbook(xlsx).active
    assert sheet is not None and sheet.max_row == 3 + 3
    assert tocsin(settings, "log", "export", crisis, "-o", str(tmp_path / "mc.pdf"), check=False).returncode != 0

    report = json.loads(tocsin(settings, "report", "add", crisis, "--as", "mairie.44109", "--text", "RAS",
                               "--json").stdout)
    assert report["number"] == 1 and "cases_active" in report["figures"]
    assert "mairie.44109 n° 1" in tocsin(settings, "report", "list", crisis).stdout

    past = json.loads(tocsin(settings, "replay", "log", crisis, "--at", middle, "--json").stdout)
    assert [i["text"] for i in past["log"]] == ["Gymnase ouvert", "COD activé"] and past["reports"] == []

    tocsin(settings, "replay", "report", "--territory", "departement:44", "--from", "2026-01-01T00:00:00+00:00",
           "--to", datetime.now(UTC).isoformat(), "--out", str(tmp_path / "rex"), "--crisis", crisis)
    page = (tmp_path / "rex" / "rapport.html").read_text()
    assert "Main courante — Crue de la Loire" in page and "COD activé à 19 h" in page and "RAS" in page
    assert (tmp_path / "rex" / "main_courante.csv").exists()


def test_an_organisation_own_log_book_from_the_cli(settings):
    tocsin(settings, "log", "add", "--as", "mairie.44109", "--text", "Astreinte de nuit : adjoint")
    mine = json.loads(tocsin(settings, "log", "list", "--as", "mairie.44109", "--json").stdout)
    assert [(i["text"], i["visibility"]) for i in mine] == [("Astreinte de nuit : adjoint", "organisation")]
    assert json.loads(tocsin(settings, "log", "list", "--as", "prefecture.44", "--json").stdout) == []
