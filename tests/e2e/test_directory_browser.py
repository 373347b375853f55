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
