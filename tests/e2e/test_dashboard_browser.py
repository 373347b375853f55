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
            expect(page.locator("#map circle.case")).to_have_count(1)
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
                expect(page.locator("#map circle.case")).to_have_count(2, timeout=1_000)

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
            expect(phone.locator("#map circle.case")).to_have_count(2)
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
            national.locator('#map path.child[data-code="ouest"]').click()
            expect(national.locator("#title")).to_contain_text("Ouest")
            national.locator('#map path.child[data-code="35"]').click()
            expect(national.locator("#title")).to_contain_text("Ille-et-Vilaine")
            expect(national.locator("#cases tr[data-case]")).to_have_count(4)
            expect(national.locator("#map circle.case")).to_have_count(4)
            expect(national.locator('#map path.child[data-code="35238"]')).to_have_count(1)
            save(national, tmp_path, "tableau-de-bord-departement.png")
            national.locator("#breadcrumb button", has_text="France").click()
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
                expect(page.locator("#map circle.case")).to_have_count(1)
                expect(page.get_by_text("Fond de carte : tuiles de test")).to_be_visible()
                assert page.locator("#map image").count() >= 1
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
