"""`tocsin crisis …` as the operator runs it, acting for an organisation of the directory."""

from __future__ import annotations

import json

from tests.integration.test_cli import tocsin


def test_the_operator_opens_attaches_and_closes_a_crisis_for_a_prefecture(settings):
    opened = json.loads(tocsin(settings, "crisis", "open", "--as", "prefecture.44", "--title", "Crue de la Loire",
                               "--kind", "flood", "--json").stdout)
    assert opened["territory"] == "departement:44" and opened["organisation_id"] == "prefecture.44"
    assert opened["opened_by"]["person_id"].startswith("cli:")
    # A mairie does not open crises; an unknown organisation is named in the refusal.
    refused = tocsin(settings, "crisis", "open", "--as", "mairie.44109", "--title", "x", "--kind", "flood",
                     check=False)
    assert refused.returncode == 1 and "réservée" in refused.stderr
    unknown = tocsin(settings, "crisis", "open", "--as", "prefecture.00", "--title", "x", "--kind", "flood",
                     check=False)
    assert unknown.returncode != 0 and "organisation inconnue" in unknown.stderr

    tocsin(settings, "crisis", "attach", opened["id"], "FR.44.1", "--as", "prefecture.44")
    closed = json.loads(tocsin(settings, "crisis", "close", opened["id"], "--as", "prefecture.44", "--summary",
                               "Décrue", "--json").stdout)
    assert closed["status"] == "close" and [c["case_id"] for c in closed["cases"]] == ["FR.44.1"]
    text = tocsin(settings, "crisis", "list").stdout
    assert "Crue de la Loire (Inondation, departement:44) — close" in text and "(heure de Paris)" in text
