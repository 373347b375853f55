"""`tocsin request …` as the operator runs it, acting for organisations of the directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.integration.test_cli import tocsin


def test_the_operator_sends_answers_and_closes_a_request(settings):
    crisis = json.loads(tocsin(settings, "crisis", "open", "--as", "prefecture.44", "--title", "Crue de la Loire",
                               "--kind", "flood", "--json").stdout)
    sent = json.loads(tocsin(settings, "request", "send", "--as", "prefecture.44", "--to", "mairie.44109",
                             "--kind", "information", "--text", "Point de situation", "--deadline", "2H",
                             "--crisis", crisis["id"], "--json").stdout)
    assert sent["id"] == "prefecture.44.request.1" and sent["status"] == "issued"
    refused = tocsin(settings, "request", "send", "--as", "mairie.44109", "--to", "mairie.35238", "--kind",
                     "information", "--text", "x", check=False)
    assert refused.returncode == 1 and "hors de votre périmètre" in refused.stderr

    inbox = json.loads(tocsin(settings, "request", "list", "--as", "mairie.44109", "--box", "inbox",
                              "--json").stdout)
    assert [r["id"] for r in inbox] == [sent["id"]]
    seen = json.loads(tocsin(settings, "request", "show", sent["id"], "--as", "mairie.44109", "--json").stdout)
    assert seen["status"] == "seen"
    not_theirs = tocsin(settings, "request", "answer", sent["id"], "--as", "prefecture.44", "--answer", "ACCEPTEE",
                        check=False)
    assert not_theirs.returncode == 1 and "destinataire" in not_theirs.stderr
    tocsin(settings, "request", "answer", sent["id"], "--as", "mairie.44109", "--answer", "ACCEPTEE",
           "--comment", "Point à 15 h")
    tocsin(settings, "request", "done", sent["id"], "--as", "mairie.44109", "--text", "Transmis")
    closed = json.loads(tocsin(settings, "request", "close", sent["id"], "--as", "prefecture.44", "--json").stdout)
    assert closed["status"] == "closed"
    text = tocsin(settings, "request", "show", sent["id"]).stdout
    assert "réponse : acceptée — Point à 15 h" in text and "(Europe/Paris)" in text and "réalisée" in text

    # The crisis's requests replayed now: as they stand.
    replayed = tocsin(settings, "replay", "requests", "--crisis", crisis["id"], "--at",
                      datetime.now(UTC).isoformat()).stdout
    assert f"{sent['id']}  Demande d'information" in replayed and "close" in replayed
