"""The real dashboard in headless Chromium: a mayor sees only its commune, a new case appears live, and
the header says when the NexSIS feed has gone quiet.

Chromium is Debian's package (installed here when missing, as root); Playwright's Python package drives
it through `executable_path`, so no browser is downloaded. Screenshots (desktop and phone) are saved in
the test's tmp dir, and also in TOCSIN_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from adapters.ingest.ingestion import Incoming
from tests.support.api import (
    GUICHEN,
    RENNES,
    LiveServer,
    bearer,
    fold_views_then_stop,
    report_in,
    wait_for_views,
)

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def ensure_chromium() -> str:
    if not CHROMIUM.exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900)
    return str(CHROMIUM)


def save(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("TOCSIN_SCREENSHOT_DIR"):
        target = Path(os.environ["TOCSIN_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def expect_cases_on_map(page, count: int, timeout: float = 10_000) -> None:
    """Until the map shows `count` cases, each as its own marker or counted in a cluster."""
    page.wait_for_function("""n => {
        let seen = document.querySelectorAll('#map .t-marker[data-case]').length;
        document.querySelectorAll('#map .t-cluster[data-count]').forEach(c => { seen += Number(c.dataset.count); });
        return seen === n;
    }""", arg=count, timeout=timeout)


def test_a_mayor_sees_its_commune_live(services, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    geography = services.geography
    for case_id, insee, seed in (("fr.fire.web.rennes-1", RENNES, 1), ("fr.fire.web.guichen-1", GUICHEN, 2)):
        raw = report_in(geography, insee, case_id, seed=seed, victims="PLUSIEURS")
        assert services.ingestor.ingest(Incoming(raw)).status == "accepted"

    with LiveServer(services) as server, sync_playwright() as p:
        wait_for_views(_read_model(server), services)
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR", timezone_id="Europe/Paris")
            page.set_default_timeout(10_000)
            refused: list[str] = []  # what the content security policy blocked (issue #17): nothing
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(server.url + "/")
            assert page.url.endswith("/connexion")
            expect(page.get_by_text("Mode démonstration")).to_be_visible()
            page.select_option("#role", "mayor")
            page.fill("#territory", "commune:35238")
            page.click("#demo-submit")

            rows = page.locator("#cases tr[data-case]")
            expect(rows).to_have_count(1)
            assert rows.first.get_attribute("data-case") == "fr.fire.web.rennes-1"
            expect(page.locator("#title")).to_contain_text("Rennes")
            expect(page.locator("#live")).to_contain_text("En direct")
            expect(page.locator("#feed")).to_contain_text("Dernier message NexSIS il y a")
            expect(page.locator("#f-active")).to_have_text("1")
            expect_cases_on_map(page, 1)
            # Issue #22: the victims of Rennes' open cases (declared at the call, no triage yet, and said so),
            # the evacuated and displaced, and the opening time in Paris time, stated.
            expect(page.locator("#f-victims")).to_have_text("1")
            expect(page.locator("#f-victims-label")).to_contain_text("signalant des victimes")
            expect(page.locator("#f-triage")).to_contain_text("« plusieurs victimes » : 1")
            expect(page.locator("#f-triage")).to_contain_text("sans bilan des secours")
            expect(page.locator("#f-triage")).to_contain_text("évacués 0 · déplacés 0")
            expect(rows.first).to_contain_text("plusieurs victimes (déclaré à l'appel)")
            expect(rows.first).to_contain_text("(heure de Paris)")
            expect(rows.first).to_contain_text("Incendie — bâtiment d’habitation")

            nexsis = bearer(server.config, "nexsis", "national:FR")
            with httpx.Client(base_url=server.url, headers={**nexsis, "content-type": "application/json"}) as client:
                started = time.monotonic()
                response = client.post("/api/v1/messages",
                                       content=report_in(geography, RENNES, "fr.fire.web.rennes-2", seed=3))
                assert response.headers["x-tocsin-outcome"] == "accepted"
                page.wait_for_selector('#cases tr[data-case="fr.fire.web.rennes-2"]', timeout=2_000)
                appeared = time.monotonic() - started
                expect(page.locator("#f-active")).to_have_text("2", timeout=1_000)
                expect_cases_on_map(page, 2, timeout=1_000)

                response = client.post("/api/v1/messages",
                                       content=report_in(geography, GUICHEN, "fr.fire.web.guichen-2", seed=4))
                assert response.headers["x-tocsin-outcome"] == "accepted"
                page.wait_for_timeout(1_500)
                assert page.locator('#cases tr[data-case="fr.fire.web.guichen-2"]').count() == 0
                assert page.locator('#cases tr[data-case^="fr.fire.web.guichen"]').count() == 0
                expect(page.locator("#f-active")).to_have_text("2")
            assert appeared < 2.0, appeared
            save(page, tmp_path, "tableau-de-bord-maire.png")

            # The detail and its timeline; a mayor reads what is happening, not who called nor who is hurt.
            page.locator('#cases tr[data-case="fr.fire.web.rennes-1"]').click()
            drawer = page.locator("#drawer")
            expect(drawer).to_contain_text("Chronologie")
            expect(drawer).to_contain_text("masquées pour votre rôle")
            expect(drawer).to_contain_text("a déclaré un incendie chez sa voisine")
            expect(drawer).to_contain_text("Première maison au croisement")
            expect(drawer).to_contain_text("Appel reçu, affaire créée")
            expect(drawer).to_contain_text("(heure de Paris)")
            shown = drawer.inner_text()
            for secret in ("LECCIA", "MICHEL", "Christine", "Raymonde"):
                assert secret not in shown, secret
            _no_english_nor_jargon(page)
            save(page, tmp_path, "detail-affaire.png")
            page.keyboard.press("Escape")
            assert not refused, refused
            dot = page.locator("#cases .t-dot").first.evaluate("e => getComputedStyle(e).backgroundColor")
            assert dot not in {"", "transparent", "rgba(0, 0, 0, 0)"}, dot  # the family's colour, by class

            # On a phone.
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                     has_touch=True, locale="fr-FR", timezone_id="Europe/Paris")
            # Copied into the mapping add_cookies takes (a read Cookie is not a SetCookieParam for mypy).
            phone.context.add_cookies([{**cookie} for cookie in page.context.cookies()])
            phone.clock.install()  # the browser's clock, moved on below
            phone.goto(server.url + "/")
            expect(phone.locator("#cases tr[data-case]")).to_have_count(2)
            expect_cases_on_map(phone, 2)
            save(phone, tmp_path, "tableau-de-bord-telephone.png")
            # Twenty minutes without a NexSIS message (the default quiet delay is 15): the dashboard warns.
            expect(phone.locator("#feed")).not_to_have_class("t-feed is-quiet")
            phone.clock.fast_forward("20:00")
            expect(phone.locator("#feed")).to_have_text("Aucun message NexSIS depuis 20 min")
            expect(phone.locator("#feed")).to_have_class("t-feed is-quiet")
            save(phone, tmp_path, "flux-silencieux-telephone.png")

            # A mayor cannot drill outside its commune, even by typing the address.
            page.goto(server.url + "/#/departement/35")
            expect(page.locator("#title")).to_contain_text("Accès impossible")
            expect(page.locator("#back-home")).to_be_visible()
            assert page.locator('#cases tr[data-case^="fr.fire.web.guichen"]').count() == 0

            # National staff: the map of France, shaded by zone; drill down to a zone, a département, and back.
            national = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR",
                                           timezone_id="Europe/Paris").new_page()
            national.goto(server.url + "/connexion")
            national.select_option("#role", "national")
            national.fill("#territory", "national:FR")
            national.click("#demo-submit")
            expect(national.locator("#cases tr[data-case]")).to_have_count(4)
            expect(national.locator('#map path.child[data-code="ouest"]')).to_have_count(1)
            save(national, tmp_path, "tableau-de-bord-national.png")
            # National staff may read personal data: labelled in French, never a key or a JSON array.
            national.locator('#cases tr[data-case="fr.fire.web.rennes-1"]').click()
            expect(national.locator("#drawer")).to_contain_text("Appelant")
            expect(national.locator("#drawer")).to_contain_text("Christine MICHEL a déclaré")
            _no_english_nor_jargon(national)
            save(national, tmp_path, "detail-affaire-national.png")
            national.keyboard.press("Escape")
            national.locator('#map path.child[data-code="ouest"]').dispatch_event("click")
            expect(national.locator("#title")).to_contain_text("Ouest")
            national.locator('#map path.child[data-code="35"]').dispatch_event("click")
            expect(national.locator("#title")).to_contain_text("Ille-et-Vilaine")
            expect(national.locator("#cases tr[data-case]")).to_have_count(4)
            expect_cases_on_map(national, 4)
            expect(national.locator('#map path.child[data-code="35238"]')).to_have_count(1)
            save(national, tmp_path, "tableau-de-bord-departement.png")
            national.locator("#breadcrumb a", has_text="France").click()
            expect(national.locator("#title")).to_contain_text("France")
        finally:
            browser.close()
    assert (tmp_path / "tableau-de-bord-maire.png").stat().st_size > 10_000


def test_the_header_says_when_the_figures_are_late_on_the_messages_received(services, tmp_path):
    """Messages keep arriving but nobody folds the views (worker stopped): the figures stand still,
    and the header says since when, once it is more than 30 s."""
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, "fr.fire.web.folded", seed=1)))
    fold_views_then_stop(services)
    services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, "fr.fire.web.waiting", seed=2)))

    with LiveServer(services, projections_worker=False) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR", timezone_id="Europe/Paris")
            page.set_default_timeout(10_000)
            page.clock.install()
            page.goto(server.url + "/connexion")
            page.select_option("#role", "mayor")
            page.fill("#territory", "commune:35238")
            page.click("#demo-submit")
            expect(page.locator("#cases tr[data-case]")).to_have_count(1)  # only the folded case
            expect(page.locator("#feed")).to_contain_text("Dernier message NexSIS il y a")
            expect(page.locator("#views-late")).to_be_hidden()

            page.clock.fast_forward("01:00")
            expect(page.locator("#views-late")).to_be_visible()
            expect(page.locator("#views-late")).to_have_text("Chiffres en retard de 1 min")
            expect(page.locator("#feed")).to_have_text("Dernier message NexSIS il y a 1 min")
            save(page, tmp_path, "chiffres-en-retard.png")
        finally:
            browser.close()


# What a person must never read on the dashboard: English keys, raw data, or acronyms left unexplained.
ENGLISH_OR_JARGON = ("caller", "notes", "victims_details", "health_motive", "undefined", "null", "[object", '["',
                     "RC-EDA", "RC-RI", "RC-REF", "EMSI", "Case.", "UA ", "UR ", "Usage")


def _no_english_nor_jargon(page) -> None:
    text = page.locator("body").inner_text()
    for word in ENGLISH_OR_JARGON:
        assert word not in text, (word, text)


def _read_model(server: LiveServer):
    return server.app.state.read_model


def test_a_configured_tile_server_lies_under_the_boundaries(services, tmp_path):
    """With TOCSIN_MAP_TILES, the map asks the tile server for the tiles under the commune, in Web
    Mercator: the tile holding the case's point is among those requested."""
    import dataclasses
    import math
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import expect, sync_playwright

    requested: list[tuple[int, int, int]] = []
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c63f8cfc0f01f0005000201c3a7c8a50000000049454e44ae426082")

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            z, x, y = (int(part) for part in self.path.strip("/").removesuffix(".png").split("/"))
            requested.append((z, x, y))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    tile_server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=tile_server.serve_forever, daemon=True).start()
    template = f"http://127.0.0.1:{tile_server.server_port}/{{z}}/{{x}}/{{y}}.png"
    settings = dataclasses.replace(services.settings, map_tiles=template, map_attribution="tuiles de test")
    with_tiles = dataclasses.replace(services, settings=settings)
    raw = report_in(services.geography, RENNES, "fr.fire.tiles.rennes-1", seed=5)
    assert services.ingestor.ingest(Incoming(raw)).status == "accepted"
    lat, lon = services.geography.random_point_in(RENNES, __import__("random").Random(5))

    try:
        with LiveServer(with_tiles) as server, sync_playwright() as p:
            wait_for_views(_read_model(server), services)
            browser = p.chromium.launch(executable_path=ensure_chromium(), args=FLAGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
                page.goto(server.url + "/connexion")
                page.select_option("#role", "mayor")
                page.fill("#territory", "commune:35238")
                page.click("#demo-submit")
                expect_cases_on_map(page, 1)
                expect(page.get_by_text("Fond de carte : tuiles de test")).to_be_visible()
                expect(page.locator("#map img.leaflet-tile-loaded").first).to_be_visible()
                page.wait_for_timeout(500)
                save(page, tmp_path, "carte-avec-tuiles.png")
            finally:
                browser.close()
    finally:
        tile_server.shutdown()

    assert requested
    zooms = {z for z, _, _ in requested}
    assert len(zooms) == 1 and 9 <= min(zooms) <= 16, zooms  # a commune: a city-scale zoom
    z = zooms.pop()
    n = 2 ** z
    expected_x = int((lon + 180) / 360 * n)
    expected_y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    assert (z, expected_x, expected_y) in requested, (expected_x, expected_y, sorted(requested))


# ---- Each role, desktop and phone: the design system, the map, accessibility, nothing fetched elsewhere ----

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SAINT_DENIS_REUNION = "97411"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _keep_to_localhost(context, attempts: list[str]) -> None:
    """Every request that would leave 127.0.0.1 is aborted and remembered: the test fails on any."""
    from urllib.parse import urlsplit

    def handle(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            attempts.append(route.request.url)
            route.abort()

    context.route("**/*", handle)


def _demo_login(page, url: str, role: str, territory: str) -> None:
    page.goto(url + "/connexion")
    page.select_option("#role", role)
    page.fill("#territory", territory)
    page.click("#demo-submit")


def _axe_serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page, as 'rule: target' lines."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(' | '));
    }""")
    return list(result)


def _cases_on_map(page) -> tuple[int, list[int]]:
    """(separate case markers, counts of the clusters) drawn on the map now."""
    markers = page.locator("#map .leaflet-marker-icon.t-marker[data-case]").count()
    clusters = [int(c) for c in page.locator("#map .leaflet-marker-icon.t-cluster").evaluate_all(
        "els => els.map(e => e.dataset.count)")]
    return markers, clusters


def test_each_role_on_desktop_and_phone(services, tmp_path):
    """The mayor of Rennes, the préfecture of Ille-et-Vilaine and national staff, each on a desktop and a
    phone: DSFR pages, Leaflet map with the cases told apart, axe-core finds no serious violation, and no
    request leaves the machine."""
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    geography = services.geography
    cases = [("fr.fire.roles.rennes-fire", RENNES, None, 11), ("fr.fire.roles.rennes-road", RENNES, "C01.01.01", 12),
             ("fr.fire.roles.rennes-persons", RENNES, "C02.00.00", 13),
             ("fr.fire.roles.guichen-storm", GUICHEN, "C08.00.00", 14),
             ("fr.fire.roles.reunion-fire", SAINT_DENIS_REUNION, None, 15)]
    for case_id, insee, nature, seed in cases:
        raw = report_in(geography, insee, case_id, nature=nature, seed=seed)
        assert services.ingestor.ingest(Incoming(raw)).status == "accepted"
    attempts: list[str] = []
    refused: list[str] = []
    errors: list[str] = []  # uncaught exceptions in the pages' scripts (DSFR, Leaflet, ours)

    with LiveServer(services) as server, sync_playwright() as p:
        wait_for_views(_read_model(server), services)
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            def context(device: dict, *, axe: bool = False):
                # axe-core is injected as a script tag: only in the contexts that run it is the page's
                # policy bypassed; the phone contexts keep it, and report what it refused.
                ctx = browser.new_context(**device, locale="fr-FR", timezone_id="Europe/Paris", bypass_csp=axe)
                _keep_to_localhost(ctx, attempts)
                page = ctx.new_page()
                page.set_default_timeout(10_000)
                page.on("pageerror", lambda e: errors.append(str(e)))
                if not axe:
                    page.on("console",
                            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
                return page

            # The login page: DSFR, accessible.
            login = context(DESKTOP, axe=True)
            login.goto(server.url + "/connexion")
            expect(login.locator("header.fr-header")).to_be_visible()
            save(login, tmp_path, "connexion-bureau.png")
            assert _axe_serious(login) == []
            login.context.close()

            # The mayor of Rennes: three open cases in Rennes, three families, told apart on the map.
            mayor = context(DESKTOP, axe=True)
            _demo_login(mayor, server.url, "mayor", "commune:35238")
            expect(mayor.locator("#cases tr[data-case]")).to_have_count(3)
            expect(mayor.locator("#map .leaflet-marker-icon").first).to_be_visible()
            save(mayor, tmp_path, "maire-rennes-bureau.png")
            markers, clusters = _cases_on_map(mayor)
            assert (markers, clusters) in ((3, []), (0, [3])), (markers, clusters)  # three markers or a cluster of 3
            if markers == 3:
                families = mayor.locator("#map .t-marker[data-case]").evaluate_all(
                    "els => els.map(e => e.dataset.family)")
                assert sorted(families) == ["accident-circulation", "atteinte-personnes", "incendie"], families
            colours = mayor.locator("#legend .t-glyph").evaluate_all(
                "els => els.map(e => getComputedStyle(e).backgroundColor)")
            assert len(colours) == 3 and len(set(colours)) == 3, colours  # one legend entry, one colour, per family
            box = mayor.locator("#map .leaflet-marker-icon").first.bounding_box()
            assert box and box["width"] >= 24 and box["height"] >= 24, box  # a finger's target
            expect(mayor.locator("#map .t-area-label").first).to_contain_text("Rennes")
            assert _axe_serious(mayor) == []
            if markers == 3:  # a case opens from its marker, by keyboard as by touch
                mayor.locator('#map .t-marker[data-case="fr.fire.roles.rennes-road"]').focus()
                mayor.keyboard.press("Enter")
                expect(mayor.locator("#drawer")).to_have_attribute("aria-hidden", "false")
                expect(mayor.locator("#drawer")).to_contain_text("Rennes")
                assert _axe_serious(mayor) == []
                mayor.keyboard.press("Escape")

            # Out of its territory: a clear message and the way back, not an empty map waiting.
            mayor.goto(server.url + "/#/departement/35")
            expect(mayor.locator("#out-of-territory")).to_contain_text("en dehors de votre périmètre")
            expect(mayor.locator("#app")).to_be_hidden()
            expect(mayor.locator("#live")).not_to_contain_text("Reconnexion")
            save(mayor, tmp_path, "hors-territoire-bureau.png")
            assert _axe_serious(mayor) == []
            mayor.click("#back-home")
            expect(mayor.locator("#title")).to_contain_text("Rennes")
            expect(mayor.locator("#cases tr[data-case]")).to_have_count(3)

            # The same mayor on a phone: a short header, victims and resources in the list, the map usable.
            phone = context(PHONE)
            phone.context.add_cookies([{**cookie} for cookie in mayor.context.cookies()])
            phone.goto(server.url + "/")
            expect(phone.locator("#cases tr[data-case]")).to_have_count(3)
            save(phone, tmp_path, "maire-rennes-telephone.png")
            header = phone.locator("header.fr-header").bounding_box()
            assert header and header["height"] <= 120, header
            first = phone.locator("#cases tr[data-case]").first
            expect(first.locator("td").nth(2)).to_be_visible()  # victims
            expect(first.locator("td").nth(3)).to_be_visible()  # resources
            expect(phone.locator("#map .leaflet-marker-icon").first).to_be_visible()
            # Who one is and the logout wait behind the menu button (the DSFR's phone header).
            expect(phone.locator("#logout")).to_be_hidden()
            phone.click("#menu-button")
            expect(phone.locator("#menu-modal")).to_contain_text("Maire — Rennes")
            expect(phone.locator("#menu-modal button", has_text="Se déconnecter")).to_be_visible()
            save(phone, tmp_path, "maire-rennes-telephone-menu.png")
            phone.click("#menu-modal .fr-btn--close")

            # The préfecture of Ille-et-Vilaine: its communes, the filters apply to the map too.
            prefecture = context(DESKTOP, axe=True)
            _demo_login(prefecture, server.url, "prefecture", "departement:35")
            expect(prefecture.locator("#cases tr[data-case]")).to_have_count(4)
            expect(prefecture.locator('#map path.child[data-code="35238"]')).to_have_count(1)
            markers, clusters = _cases_on_map(prefecture)
            assert markers + sum(clusters) == 4, (markers, clusters)
            save(prefecture, tmp_path, "prefecture-35-bureau.png")
            assert _axe_serious(prefecture) == []
            rennes = prefecture.locator('#map .t-cluster[data-count="3"]')
            expect(rennes).to_have_count(1)  # Rennes' three cases, one cluster at this scale: Enter opens it up
            rennes.focus()
            prefecture.keyboard.press("Enter")
            expect(prefecture.locator('#map .t-marker[data-case^="fr.fire.roles.rennes"]')).to_have_count(3)
            prefecture.select_option("#family-filter", "incendie")
            expect(prefecture.locator("#cases tr[data-case]")).to_have_count(1)
            expect(prefecture.locator("#map .leaflet-marker-icon.t-marker[data-case]")).to_have_count(1)
            expect(prefecture.locator('#map .t-marker[data-case="fr.fire.roles.rennes-fire"]')).to_have_count(1)
            prefecture.context.close()
            phone_prefecture = context(PHONE)
            _demo_login(phone_prefecture, server.url, "prefecture", "departement:35")
            expect(phone_prefecture.locator("#cases tr[data-case]")).to_have_count(4)
            save(phone_prefecture, tmp_path, "prefecture-35-telephone.png")

            # National staff: metropolitan France, and the overseas territories one button away.
            national = context(DESKTOP, axe=True)
            _demo_login(national, server.url, "national", "national:FR")
            expect(national.locator("#cases tr[data-case]")).to_have_count(5)
            expect(national.locator('#map path.child[data-code="ouest"]')).to_have_count(1)
            overseas = national.locator("#map-areas button[data-area]").filter(has_text="La Réunion")
            expect(overseas).to_have_count(1)
            save(national, tmp_path, "national-bureau.png")
            assert _axe_serious(national) == []
            overseas.click()
            expect(national.locator('#map .t-marker[data-case="fr.fire.roles.reunion-fire"]')).to_be_visible()
            save(national, tmp_path, "national-outre-mer-bureau.png")
            # Down to a subdivision by keyboard (the list beside the map), as by touching the area.
            national.select_option("#area-go", "zone/ouest")
            expect(national.locator("#title")).to_contain_text("Ouest")
            national.context.close()
            phone_national = context(PHONE)
            _demo_login(phone_national, server.url, "national", "national:FR")
            expect(phone_national.locator("#cases tr[data-case]")).to_have_count(5)
            save(phone_national, tmp_path, "national-telephone.png")
        finally:
            browser.close()
    assert not attempts, attempts
    assert not refused, refused
    assert not errors, errors
