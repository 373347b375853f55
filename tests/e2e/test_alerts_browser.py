"""The dashboard's alerts in headless Chromium: a mayor gets a banner and the alert in the list when a case
opens in their commune, and acknowledges it from the list (recorded with the dashboard as channel)."""

from __future__ import annotations

from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.policy import AlertPolicy
from tests.e2e.test_alerts import wait_for
from tests.e2e.test_dashboard_browser import FLAGS, ensure_chromium, save
from tests.support.api import GUICHEN, LiveServer, report_in
from tests.support.recipients import DirectoryRecipients


def directory() -> DirectoryRecipients:
    d = DirectoryRecipients()
    d.add(f"mairie.{GUICHEN}", "p.maire", "Maire de Guichen", "maire@guichen.test")
    return d


def test_a_mayor_sees_the_banner_and_acknowledges_from_the_list(services, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    AlertPolicy(services.store, services.geography, directory()).close()  # the policy starts before the news
    with LiveServer(services, alerting=True, recipients=directory()) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR", timezone_id="Europe/Paris")
            page.set_default_timeout(15_000)
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(server.url + "/connexion")
            page.select_option("#role", "mayor")
            page.fill("#territory", f"commune:{GUICHEN}")
            page.click("#demo-submit")
            expect(page.locator("#live")).to_contain_text("En direct")
            expect(page.locator("#alerts-list")).to_contain_text("Aucune alerte")

            raw = report_in(services.geography, GUICHEN, "fr.fire.web.alert-1", seed=3)
            assert services.ingestor.ingest(Incoming(raw)).status == "accepted"
            expect(page.locator("#alert-banner")).to_be_visible()
            expect(page.locator("#alert-banner")).to_contain_text("Alerte : Nouvelle affaire dans la commune")
            item = page.locator("#alerts-list li[data-alert]")
            expect(item).to_have_count(1)
            expect(item).to_contain_text("(Europe/Paris)")
            save(page, tmp_path, "alerte.png")
            item.get_by_role("button", name="Accuser réception").click()
            expect(item).to_contain_text("Acquittée par")
            [alert] = alert_store.recent_alerts(services.store)
            assert wait_for(lambda: alert_store.recent_alerts(services.store)[0].acknowledged_by)["channel"] == (
                "tableau de bord")
            assert alert.organisation_id == f"mairie.{GUICHEN}"
            assert refused == []
        finally:
            browser.close()
