"""The ProConnect-style login in a real browser (Debian's Chromium through Playwright): Tocsin sends it to
the provider (npm oidc-provider, configured like ProConnect), the person types their account in the
provider's form, comes back to the dashboard of their habilitation, switches to their other one, and
logs out at Tocsin and at the provider."""

from __future__ import annotations

from adapters.ingest.ingestion import Incoming
from domain.directory import OrganisationKind
from domain.geography import Level
from tests.e2e.test_dashboard_browser import FLAGS, ensure_chromium, save
from tests.support.api import BREST, RENNES, report_in, wait_for_views
from tests.support.oidc_harness import MARIE


def test_a_person_logs_in_at_the_provider_in_a_browser_and_lands_on_the_dashboard(oidc_stack, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    services = oidc_stack.services
    for case_id, insee, seed in (("fr.fire.oidc.rennes-1", RENNES, 1), ("fr.fire.oidc.brest-1", BREST, 2)):
        assert services.ingestor.ingest(Incoming(report_in(services.geography, insee, case_id, seed=seed))
                                        ).status == "accepted"
    wait_for_views(oidc_stack.server.app.state.read_model, services)
    oidc_stack.directory.grant("hab-maire", MARIE["email"], "mayor", Level.COMMUNE, RENNES,
                               organisation="Mairie de Rennes", person="Marie Dupont")
    oidc_stack.directory.grant("hab-pref", MARIE["email"], "prefecture", Level.DEPARTEMENT, "29",
                               kind=OrganisationKind.PREFECTURE, organisation="Préfecture du Finistère",
                               person="Marie Dupont")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR",
                                    timezone_id="Europe/Paris")
            page.set_default_timeout(10_000)
            page.goto(oidc_stack.url + "/")
            # At the provider: its own login form.
            assert page.url.startswith(oidc_stack.provider.issuer + "/interaction/"), page.url
            page.fill('input[name="login"]', "marie")
            page.fill('input[name="password"]', "peu-importe")
            page.click('button[type="submit"]')

            # Back at Tocsin: two habilitations, a choice.
            expect(page.locator("#habilitations")).to_be_visible()
            assert page.url == oidc_stack.url + "/connexion/habilitation"
            save(page, tmp_path, "connexion-choix-habilitation.png")
            page.click('button[data-grant="hab-maire"]')

            rows = page.locator("#cases tr[data-case]")
            expect(rows).to_have_count(1)
            assert rows.first.get_attribute("data-case") == "fr.fire.oidc.rennes-1"
            expect(page.locator("#title")).to_contain_text("Rennes")
            expect(page.locator("#user")).to_contain_text("Marie Dupont")
            expect(page.locator("#live")).to_contain_text("En direct")
            save(page, tmp_path, "connexion-proconnect-maire.png")

            # Switching: the préfecture of the Finistère sees Brest, not Rennes.
            page.locator("#switch-grant").first.click()
            page.click('button[data-grant="hab-pref"]')
            expect(page.locator("#title")).to_contain_text("Finistère")
            expect(rows).to_have_count(1)
            assert rows.first.get_attribute("data-case") == "fr.fire.oidc.brest-1"

            # Logging out: Tocsin, then the provider's confirmation, then Tocsin's page.
            page.locator("#logout").first.click()
            page.wait_for_url(oidc_stack.provider.issuer + "/session/end**")
            page.click("#logout-yes")
            page.wait_for_url(oidc_stack.url + "/deconnexion/fin**")
            expect(page.locator("main")).to_contain_text("Vous êtes déconnecté(e)")
            assert not [c for c in page.context.cookies() if c["name"] == "tocsin_session"]
            # Nothing to see now, and a new login asks the provider for the account again.
            page.goto(oidc_stack.url + "/")
            assert page.url.startswith(oidc_stack.provider.issuer + "/interaction/"), page.url
        finally:
            browser.close()
