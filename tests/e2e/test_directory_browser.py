"""The directory's pages in headless Chromium (Debian's, see test_dashboard_browser): a demonstration
person enters from the login page, reaches « Annuaire » from the dashboard's header, searches it, and a
préfecture reaches « Habilitations »; nothing refused by the content security policy, and axe-core finds
no serious violation on either page."""

from __future__ import annotations

from adapters.directory.demo import seed_demo_people
from tests.e2e.test_dashboard_browser import FLAGS, _axe_serious, ensure_chromium
from tests.support.api import LiveServer


def test_a_demonstration_person_reaches_the_directory_and_habilitations(services, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    seed_demo_people(services)
    with LiveServer(services) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR",
                                    timezone_id="Europe/Paris")
            page.set_default_timeout(10_000)
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(server.url + "/connexion")
            claire = page.locator("#person option", has_text="Claire Lefèvre").get_attribute("value")
            assert claire
            page.select_option("#person", claire)
            page.click("#demo-person-submit")
            page.locator("#directory-link").first.click()
            expect(page.locator("h1")).to_have_text("Annuaire")
            expect(page.locator('a[href="tel:0299000003"]')).to_be_visible()  # the CODIS, tap to call
            page.fill("#q", "codis")
            page.press("#q", "Enter")
            expect(page.locator("section[data-organisation]")).to_have_count(1)
            expect(page.locator('section[data-organisation="sdis.35"]')).to_be_visible()
            page.click('#pages a[href="/habilitations"]')
            expect(page.locator("#grant-form")).to_be_visible()
            page.screenshot(path=str(tmp_path / "habilitations.png"), full_page=True)
            assert refused == []
            # axe-core is injected as a script: only this context bypasses the policy, with the same login.
            axe = browser.new_context(locale="fr-FR", bypass_csp=True, storage_state=page.context.storage_state())
            checked = axe.new_page()
            for path in ("/annuaire", "/habilitations"):
                checked.goto(server.url + path)
                assert _axe_serious(checked) == [], path
        finally:
            browser.close()


def test_a_mayor_tunes_the_mairies_alert_rules_on_a_phone(services, tmp_path):
    """Issue #19 at phone size: the mayor adds a rule of the mairie's own by ticking natures, a looser tuning
    is refused with its French reason, and axe-core finds no serious violation on the page with its forms."""
    from playwright.sync_api import ViewportSize, expect, sync_playwright

    from adapters.directory.use_cases import import_csv
    from adapters.notify.alert_settings import describe
    from tests.e2e.test_directory_pages import CSV

    executable = ensure_chromium()
    import_csv(services, CSV)
    with LiveServer(services) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            phone: ViewportSize = {"width": 390, "height": 844}
            context = browser.new_context(viewport=phone, device_scale_factor=2, is_mobile=True, has_touch=True,
                                          locale="fr-FR", timezone_id="Europe/Paris")
            context.add_cookies([{"name": "tocsin_token", "value": server.config.mint("mayor", "commune:35238"),
                                  "url": server.url}])
            page = context.new_page()
            page.set_default_timeout(10_000)
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(server.url + "/annuaire")
            rules = page.locator('[data-alert-rules="mairie.35238"]')
            expect(rules.locator("h3")).to_have_text("Règles d'alerte")
            form = rules.locator("form.own-rule-form")
            form.get_by_label("Intitulé").fill("Inondations")
            form.get_by_text("Aléas naturels et météorologiques").click()  # DSFR: the label is what one taps
            expect(form.get_by_label("Aléas naturels et météorologiques")).to_be_checked()
            form.locator('button[type="submit"]').click()
            expect(page.locator(".fr-alert--success")).to_contain_text("Règles d'alerte enregistrées.")
            expect(page.locator('[data-own-rule]')).to_contain_text("Inondations")
            assert [r["label"] for r in describe(services.store, "mairie.35238")["own_rules"]] == ["Inondations"]

            tuning = page.locator('[data-alert-rules="mairie.35238"] form.alert-tuning')
            tuning.get_by_label("Escalader plus tôt (minutes)", exact=False).fill("40")
            tuning.locator('button[type="submit"]').click()
            expect(page.locator(".fr-alert--error")).to_contain_text("exige une escalade au plus tard après 15 min")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
            page.screenshot(path=str(tmp_path / "regles-alerte.png"), full_page=True)
            assert refused == []
            axe = browser.new_context(viewport=phone, is_mobile=True, locale="fr-FR", bypass_csp=True,
                                      storage_state=context.storage_state())
            checked = axe.new_page()
            checked.goto(server.url + "/annuaire")
            assert _axe_serious(checked) == []
        finally:
            browser.close()
