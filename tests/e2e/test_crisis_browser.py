"""A crisis in headless Chromium (Debian's, see test_dashboard_browser): a prefect opens one from the page, a
case arrives in the territory and appears attached, live, on the crisis's page (figures, map, list); the
prefect detaches it with a reason, attaches it again by hand, and closes the crisis with a summary; a mayor
of the département reads its commune's share, without the forms. The sections whose APIs this Tocsin does
not have yet say « non disponible »; nothing is refused by the content security policy, and axe-core finds
no serious violation on either page."""

from __future__ import annotations

import time

import httpx

from tests.e2e.test_dashboard_browser import (
    FLAGS,
    _axe_serious,
    _demo_login,
    ensure_chromium,
    expect_cases_on_map,
    save,
)
from tests.support.api import RENNES, LiveServer, bearer, report_in

CASE = "fr.fire.crise.rennes-1"


def test_a_prefect_opens_a_crisis_and_sees_a_new_case_attached_live(services, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    with LiveServer(services) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR",
                                          timezone_id="Europe/Paris")
            page = context.new_page()
            page.set_default_timeout(10_000)
            refused: list[str] = []
            errors: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            _demo_login(page, server.url, "prefecture", "departement:35")
            page.locator("#crises-link").first.click()
            expect(page.locator("h1")).to_have_text("Crises")
            expect(page.locator("#crises")).to_contain_text("Aucune crise")
            save(page, tmp_path, "crises-prefet.png")
            page.fill("#title", "Feux de landes des monts d'Arrée")
            page.select_option("#kind", "wildfire")
            expect(page.locator("#territory")).to_have_value("departement:35")
            page.check("#exercise", force=True)  # the DSFR draws the box over the input
            page.click("#open-submit")

            expect(page.locator("#title")).to_have_text("Feux de landes des monts d'Arrée")
            expect(page.locator("#badges")).to_contain_text("Ouverte")
            expect(page.locator("#badges")).to_contain_text("Exercice")
            expect(page.locator("#crisis-meta")).to_contain_text("Feu de forêt — Ille-et-Vilaine")
            expect(page.locator("#crisis-meta")).to_contain_text("(heure de Paris)")
            expect(page.locator("#live")).to_contain_text("En direct")
            expect(page.locator("#cases")).to_contain_text("Aucune affaire rattachée")
            expect(page.locator("#log")).to_contain_text("La main courante est vide.")
            expect(page.locator("#reports")).to_contain_text("Aucun point de situation.")
            crisis_url = page.url.split("?")[0]

            # A case arrives in the territory: attached by the rule, it appears without reloading the page.
            nexsis = bearer(server.config, "nexsis", "national:FR")
            with httpx.Client(base_url=server.url, headers={**nexsis, "content-type": "application/json"}) as client:
                started = time.monotonic()
                # An exercise's case: an exercise crisis takes those only.
                posted = client.post("/api/v1/messages", content=report_in(services.geography, RENNES, CASE, seed=7,
                                                                          victims="PLUSIEURS", status="Exercise"))
                assert posted.headers["x-tocsin-outcome"] == "accepted"
                row = page.locator(f'#cases tr[data-case="{CASE}"]')
                expect(row).to_be_visible(timeout=15_000)
                appeared = time.monotonic() - started
            expect(row).to_contain_text("à son arrivée")
            expect(row).to_contain_text("(heure de Paris)")
            expect(page.locator("#f-active")).to_have_text("1")
            expect(page.locator("#families")).to_contain_text("Incendie : 1 en cours sur 1")
            expect_cases_on_map(page, 1)
            save(page, tmp_path, "crise-prefet.png")
            print(f"case attached and shown after {appeared:.1f} s")
            assert appeared < 10, appeared

            # Detached with a reason, then attached again by hand.
            row.locator('input[name="reason"]').fill("Feu de cheminée, sans lien")
            row.locator("button", has_text="Détacher").click()
            expect(page.locator("main")).to_contain_text("Affaire détachée de la crise.")
            expect(page.locator(f'#cases tr[data-case="{CASE}"]')).to_have_count(0)
            page.fill("#attach-case", CASE)
            page.click("#attach-submit")
            expect(page.locator(f'#cases tr[data-case="{CASE}"]')).to_contain_text("à la main")

            # A mayor of the département takes part: its commune's share, no forms.
            mayor = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR",
                                        timezone_id="Europe/Paris", is_mobile=True, has_touch=True).new_page()
            _demo_login(mayor, server.url, "mayor", f"commune:{RENNES}")
            mayor.goto(server.url + "/crises")
            expect(mayor.locator("#crises")).to_contain_text("Exercice")
            save(mayor, tmp_path, "crises-maire-telephone.png")
            mayor.locator("#crises a", has_text="Feux de landes").click()
            expect(mayor.locator(f'#cases tr[data-case="{CASE}"]')).to_be_visible()
            expect(mayor.locator("#scope")).to_contain_text("dans votre périmètre seulement")
            assert mayor.locator("#attach-form, #close-form, #cases form").count() == 0
            save(mayor, tmp_path, "crise-maire-telephone.png")

            # Checked by axe-core (injected: only this context bypasses the policy, with the same login).
            axe = browser.new_context(locale="fr-FR", bypass_csp=True, storage_state=context.storage_state())
            checked = axe.new_page()
            for path in ("/crises", crisis_url.removeprefix(server.url)):
                checked.goto(server.url + path)
                checked.wait_for_selector("#cases tr[data-case]" if path != "/crises" else "#crises")
                assert _axe_serious(checked) == [], path
            axe.close()

            # Closed with a summary: the page says so, and offers no act any more.
            page.fill("#summary", "Feux éteints, surveillance levée.")
            page.click("#close-submit")
            expect(page.locator("#badges")).to_contain_text("Close")
            expect(page.locator("#closed-note")).to_contain_text("Feux éteints, surveillance levée.")
            assert page.locator("#attach-form, #close-form").count() == 0
            assert refused == [] and errors == [], (refused, errors)
        finally:
            browser.close()
