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


def test_the_demonstration_login_enters_as_a_person_of_the_directory(services) -> None:
    from adapters.directory.demo import DEMO_PEOPLE, seed_demo_people

    assert seed_demo_people(services) == len(DEMO_PEOPLE)
    seed_demo_people(services)  # again, as at each `tocsin run`: nothing new
    with LiveServer(services) as server, httpx.Client(base_url=server.url) as browser:
        page = html.unescape(browser.get("/connexion").text)
        assert 'id="demo-person-form"' in page
        for person in DEMO_PEOPLE:
            assert person.name in page
        options = dict((name, value) for value, name in re.findall(
            r'<option value="([^"]+)">([^<]+?) —', browser.get("/connexion").text))
        entered = _enter(browser, person=options["Claire Lefèvre"])
        assert entered.status_code == 303
        me = _me(browser)
        assert me["role"] == "prefecture" and me["territory"] == "departement:35"
        assert me["name"] == "Claire Lefèvre (Directeur de cabinet)" and me["organisation_id"] == "prefecture.35"
        # The directory page then shows her département and above, and how to call them; not the mayors.
        directory = html.unescape(browser.get("/annuaire").text)
        assert "Hugo Bernard" in directory and 'href="tel:0299000003"' in directory
        assert "Sophie Moreau" in directory and "Camille Martin" not in directory
    with LiveServer(services) as server, httpx.Client(base_url=server.url) as browser:
        mayor = _enter(browser, person=options["Camille Martin"])
        assert mayor.status_code == 303 and _me(browser)["territory"] == "commune:35238"
    # Only the demonstration people: not a real person's habilitation, nor an unknown one.
    from adapters.directory.use_cases import grant

    real = grant(services, None, organisation_id="mairie.35238", email="vraie.personne@rennes.fr",
                 name="Vraie Personne", position="Adjoint au maire")
    with LiveServer(services) as server, httpx.Client(base_url=server.url) as browser:
        for refused in (real.grant_id, "inconnue"):
            answer = _enter(browser, person=refused)
            assert answer.status_code == 400 and "personne de démonstration" in html.unescape(answer.text)


def test_tocsin_serve_demo_offers_the_directory_people_too(settings) -> None:
    """`tocsin serve --demo` seeds the same fictitious people as `tocsin run` (it offered bare roles only)."""
    import os
    import signal
    import subprocess
    import time

    from adapters.directory.demo import DEMO_PEOPLE
    from adapters.embedded import free_port
    from tests.support.nats_harness import ROOT, environment, tocsin_command

    port = free_port()
    process = subprocess.Popen(tocsin_command("serve", "--demo", "--port", str(port)), cwd=ROOT,
                               env=environment(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/connexion", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        text = html.unescape(page.text)
        assert 'id="demo-person-form"' in text
        assert all(person.name in text for person in DEMO_PEOPLE)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)
