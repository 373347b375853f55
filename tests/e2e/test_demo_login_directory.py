"""The demonstration login (demo mode only) against a live server: a territory typed by its name is
found at the role's level, and a refusal is French, naming neither a raw role code nor `niveau:code`."""

from __future__ import annotations

import html
import re

import httpx

from tests.support.api import LiveServer

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _enter(browser: httpx.Client, **fields: str) -> httpx.Response:
    found = CSRF.search(browser.get("/connexion").text)
    assert found, "no CSRF token on the login page"
    return browser.post("/connexion/demo", data={**fields, "csrf": found.group(1)}, follow_redirects=False)


def _me(browser: httpx.Client) -> dict:
    return browser.get("/api/v1/me").json()


def test_a_territory_is_found_by_its_name(services) -> None:
    with LiveServer(services) as server:
        for role, typed, expected in (("mayor", "Rennes", "commune:35238"),
                                      ("prefecture", "Ille-et-Vilaine", "departement:35"),
                                      ("sdis", "35", "departement:35"),
                                      ("mayor", "commune:35238", "commune:35238"),
                                      ("national", "FR", "national:FR")):
            with httpx.Client(base_url=server.url) as browser:
                entered = _enter(browser, role=role, territory=typed)
                assert entered.status_code == 303, (role, typed, html.unescape(entered.text)[:300])
                assert _me(browser)["territory"] == expected, (role, typed)
        with httpx.Client(base_url=server.url) as browser:
            refused = _enter(browser, role="mayor", territory="Nulle-Part-Sur-Rien")
            alert = re.search(r'role="alert"><p>(.*?)</p>', refused.text)
            assert refused.status_code == 400 and alert, refused.text[:300]
            text = html.unescape(alert.group(1))
            assert "aucun territoire « Nulle-Part-Sur-Rien » pour le rôle Maire (une commune)" in text
            assert "commune:" not in text and "mayor" not in text
            assert _enter(browser, role="pas-un-role", territory="Rennes").status_code == 400
