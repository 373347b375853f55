"""The crises' pages against a live server: the form to open one only for the State's authorities, refusals in
French, forms refused without the session's CSRF token, a crisis outside one's territory answered like an
unknown one, and the start typed in the territory's own zone (an overseas département's)."""

from __future__ import annotations

import html
import re
from uuid import UUID

import httpx

from adapters.crisis.crises import get_crisis
from tests.support.api import LiveServer

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _browser(server: LiveServer, role: str, territory: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    client.cookies.set("tocsin_token", server.config.mint(role, territory))
    return client


def test_opening_attaching_and_closing_from_the_pages(services) -> None:
    with LiveServer(services) as server, _browser(server, "prefecture", "departement:35") as prefet, \
            _browser(server, "mayor", "commune:35238") as mayor, _browser(server, "mayor", "commune:29019") as brest:
        assert httpx.get(server.url + "/crises", follow_redirects=False).headers["location"] == "/connexion"
        assert 'href="/crises"' in mayor.get("/").text
        assert 'id="open-form"' not in mayor.get("/crises").text  # a mairie opens no crisis
        page = prefet.get("/crises").text
        assert 'id="open-form"' in page and "Inondation" in page and "(heure de Paris pour le vôtre)" in page
        csrf = _csrf(page)

        forged = prefet.post("/crises", data={"title": "x", "kind": "flood", "territory": "departement:35"})
        assert forged.status_code == 403 and "Formulaire expiré" in forged.text
        outside = prefet.post("/crises", data={"csrf": csrf, "title": "Crue", "kind": "flood",
                                               "territory": "departement:29"})
        assert outside.status_code == 403 and "hors de votre périmètre" in outside.text
        bad = prefet.post("/crises", data={"csrf": csrf, "title": "Crue", "kind": "flood",
                                           "territory": "departement:35", "start": "demain"})
        assert bad.status_code == 422 and "début illisible" in bad.text and 'value="Crue"' in bad.text

        opened = prefet.post("/crises", data={"csrf": csrf, "title": "Crue de la Vilaine", "kind": "flood",
                                              "territory": "departement:35", "start": "2026-12-07T14:30"},
                             follow_redirects=False)
        assert opened.status_code == 303, opened.text
        url = opened.headers["location"].split("?")[0]
        crisis = get_crisis(services.store, UUID(url.rsplit("/", 1)[1]))
        assert crisis is not None and crisis.start.isoformat() == "2026-12-07T14:30:00+01:00"  # Paris, winter
        shown = prefet.get(url).text
        assert "Crue de la Vilaine" in shown and "07/12/2026 14:30 (heure de Paris)" in shown
        assert 'id="attach-form"' in shown and 'id="close-form"' in shown

        # A mayor of the département reads it, without the forms; Brest's mayor gets the unknown crisis's 404.
        read = mayor.get(url)
        assert read.status_code == 200 and 'id="attach-form"' not in read.text
        assert brest.get(url).status_code == 404
        assert brest.get("/crises/pas-une-crise").status_code == 404
        assert "Crue" not in brest.get("/crises").text

        csrf = _csrf(shown)
        attached = prefet.post(f"{url}/rattachement", data={"csrf": csrf, "case_id": "FR.35.1"},
                               follow_redirects=False)
        assert attached.status_code == 303 and attached.headers["location"].endswith("fait=rattachee")
        again = prefet.post(f"{url}/rattachement", data={"csrf": csrf, "case_id": "FR.35.1"}, follow_redirects=False)
        assert again.headers["location"].endswith("fait=deja")
        missing = prefet.post(f"{url}/detachement", data={"csrf": csrf, "case_id": "FR.35.9", "reason": "x"})
        assert missing.status_code == 422 and "n'est pas rattachée" in html.unescape(missing.text)
        detached = prefet.post(f"{url}/detachement", data={"csrf": csrf, "case_id": "FR.35.1", "reason": "doublon"},
                               follow_redirects=False)
        assert detached.headers["location"].endswith("fait=detachee")
        closed = prefet.post(f"{url}/cloture", data={"csrf": csrf, "summary": "Décrue"}, follow_redirects=False)
        assert closed.headers["location"].endswith("fait=close")
        final = prefet.get(url).text
        assert "Décrue" in final and 'id="close-form"' not in final
        assert [type(e).__name__ for e in services.store.events.get(crisis.id)] == [
            "Opened", "CaseAttached", "CaseDetached", "Closed"]


def test_the_start_is_read_in_the_territorys_own_zone(services) -> None:
    with LiveServer(services) as server, _browser(server, "prefecture", "departement:974") as reunion:
        page = reunion.get("/crises").text
        assert "(heure de La Réunion pour le vôtre)" in page, page[page.find("Début"):][:300]
        opened = reunion.post("/crises", data={"csrf": _csrf(page), "title": "Cyclone", "kind": "storm",
                                               "territory": "departement:974", "start": "2026-12-07T14:30"},
                              follow_redirects=False)
        crisis = get_crisis(services.store, UUID(opened.headers["location"].split("?")[0].rsplit("/", 1)[1]))
        assert crisis is not None and crisis.start.isoformat() == "2026-12-07T14:30:00+04:00"
