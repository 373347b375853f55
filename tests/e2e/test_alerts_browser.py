"""The dashboard's alerts in headless Chromium: a mayor gets a banner and the alert in the list when a case
opens in their commune, and acknowledges it from the list (recorded with the dashboard as channel); a
call-out's tally moves live and the person asked answers from the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.ingest.ingestion import Incoming
from adapters.notify import alert_store
from adapters.notify.policy import AlertPolicy
from tests.e2e.test_alerts import wait_for
from tests.e2e.test_dashboard_browser import FLAGS, ensure_chromium, save
from tests.support.api import GUICHEN, LiveServer, report_in
from tests.support.directory_grants import habilitate

MAIRE = {"maire": (f"mairie.{GUICHEN}", "Maire de Guichen", "maire@guichen.test")}


def test_a_mayor_sees_the_banner_and_acknowledges_from_the_list(services, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    recipients, _ = habilitate(services, MAIRE)  # the app asks the same directory
    AlertPolicy(services.store, services.geography, recipients).close()  # the policy starts before the news
    with LiveServer(services, alerting=True) as server, sync_playwright() as p:
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


def test_a_call_out_is_tallied_live_and_answered_from_the_dashboard(services, tmp_path):
    import httpx
    from playwright.sync_api import expect, sync_playwright

    recipients, ids = habilitate(services, {
        **MAIRE, "adjoint": (f"mairie.{GUICHEN}", "Adjointe de Guichen", "adjointe@guichen.test")})
    executable = ensure_chromium()
    AlertPolicy(services.store, services.geography, recipients).close()
    with LiveServer(services, alerting=True) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR",
                                          timezone_id="Europe/Paris")
            mayor = server.config.mint("mayor", f"commune:{GUICHEN}", subject=ids["maire"], name="Maire de Guichen")
            context.add_cookies([{"name": "tocsin_token", "value": mayor, "url": server.url}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(server.url + "/")
            expect(page.locator("#live")).to_contain_text("En direct")
            expect(page.locator("#callouts-list")).to_contain_text("Aucun appel en cours")

            prefet = {"Authorization": "Bearer " + server.config.mint("prefecture", "departement:35",
                                                                      subject="p.prefet", name="Préfet")}
            deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            with httpx.Client(base_url=server.url, timeout=10) as client:
                launched = client.post("/api/v1/callouts", headers=prefet, json={
                    "question": "Qui peut ouvrir le gymnase ?", "deadline": deadline,
                    "organisation_ids": [f"mairie.{GUICHEN}"]})
                assert launched.status_code == 200, launched.text
                item = page.locator("#callouts-list li[data-callout-item]")
                expect(item).to_contain_text("Qui peut ouvrir le gymnase ?")  # arrived by the stream
                expect(item.locator("[data-tally]")).to_contain_text("0 réponse(s) sur 2, 2 en attente")
                item.get_by_role("button", name="disponible", exact=True).click()
                expect(item.locator('[data-count="disponible"]')).to_contain_text("disponible : 1")
                expect(item.locator("[data-tally]")).to_contain_text("1 réponse(s) sur 2, 1 en attente")
                # Another person answers elsewhere: the tally moves on this page without reloading it.
                adjoint = {"Authorization": "Bearer " + server.config.mint(
                    "mayor", f"commune:{GUICHEN}", subject=ids["adjoint"], name="Adjointe de Guichen")}
                answered = client.post(f"/api/v1/callouts/{launched.json()['id']}/answers", headers=adjoint,
                                       json={"choice": "en route"})
                assert answered.status_code == 200, answered.text
                expect(item.locator('[data-count="en route"]')).to_contain_text("en route : 1")
                expect(item.locator("[data-tally]")).to_contain_text("2 réponse(s) sur 2, 0 en attente")
            save(page, tmp_path, "appel.png")
            [answer] = [a for a in answered.json()["answers"] if a["person_id"] == ids["maire"]]
            assert (answer["choice"], answer["channel"]) == ("disponible", "tableau de bord")
            assert refused == []
        finally:
            browser.close()
