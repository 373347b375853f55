"""`tocsin population-alert …` as the operator runs it: a real process, a real database, a real gateway."""

from __future__ import annotations

import json
import os
import subprocess

from lxml import etree

from adapters.cap import schema
from tests.integration.test_cli import TOCSIN
from tests.support.cap_gateway import cap_gateway  # noqa: F401  (fixture)


def tocsin(settings, gateway_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOCSIN_DATABASE_URL": settings.database_url, "TOCSIN_DB_SCHEMA": settings.schema,
           "TOCSIN_DATA_DIR": str(settings.data_dir), "TOCSIN_CAP_GATEWAY_URL": gateway_url}
    return subprocess.run([TOCSIN, "population-alert", *args], env=env, capture_output=True, text=True, timeout=120)


def test_drafted_by_the_mairie_approved_by_the_prefecture_published_and_shown(settings, cap_gateway):  # noqa: F811
    mairie = ("--as", "mairie.35126")
    drafted = tocsin(settings, cap_gateway.url, "draft", *mairie, "--insee", "35126", "--event", "Inondation",
                     "--headline", "Crue de la Vilaine", "--description", "La Vilaine déborde.",
                     "--instruction", "Montez à l'étage.", "--category", "Met", "--severity", "Severe",
                     "--response-type", "Shelter", "--json")
    assert drafted.returncode == 0, drafted.stderr
    alert_id = json.loads(drafted.stdout)["id"]

    wrong = tocsin(settings, cap_gateway.url, "approve", alert_id, *mairie)
    assert wrong.returncode == 1 and "seule la préfecture" in wrong.stderr

    approved = tocsin(settings, cap_gateway.url, "approve", alert_id, "--as", "prefecture.35")
    assert approved.returncode == 0, approved.stderr
    assert "[publiée]" in approved.stdout and "CAP Alert" in approved.stdout and "heure de Paris" in approved.stdout
    [received] = cap_gateway.received
    assert schema.errors(received.body) == []

    shown = tocsin(settings, cap_gateway.url, "show", alert_id, "--xml")
    assert shown.returncode == 0 and etree.fromstring(shown.stdout.encode()).findtext(
        f"{{{schema.CAP_NS}}}identifier") == json.loads(
        tocsin(settings, cap_gateway.url, "list", "--json").stdout)[0]["messages"][0]["identifier"]
