"""Requests in headless Chromium, as people use them: a prefect opens a crisis and sends a request to a mayor
from the « Demandes » page; the mayor, on a phone, finds it in their inbox, opens it (« vue ») and answers;
the prefect's page shows the answer live, without reloading."""

from __future__ import annotations

import httpx

from tests.e2e.test_dashboard_browser import FLAGS, ensure_chromium, save
from tests.support.api import LiveServer, bearer

NANTES = "44109"


def login(context, url: str, role: str, territory: str):
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(url + "/connexion")
    page.select_option("#role", role)
    page.fill("#territory", territory)
    page.click("#demo-submit")
    page.wait_for_url(url + "/")
    return page


def test_a_prefect_sends_a_request_a_mayor_answers_on_a_phone_and_the_prefect_sees_it_live(services, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    with LiveServer(services) as server, sync_playwright() as p:
        prefet = bearer(server.config, "prefecture", "departement:44")
        crisis = httpx.post(server.url + "/api/v1/crises", headers=prefet,
                            json={"title": "Crue de la Loire", "kind": "flood", "territory": "departement:44"}).json()
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            refused: list[str] = []
            desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR",
                                       timezone_id="Europe/Paris")
            prefect = login(desk, server.url, "prefecture", "departement:44")
            prefect.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            prefect.click("#requests-link")
            expect(prefect.locator("h1")).to_contain_text("Demandes")
            prefect.locator("#send-panel > summary").click()
            prefect.select_option("#request-to", f"mairie.{NANTES}")
            prefect.select_option("#request-kind", "information")
            prefect.fill("#request-text", "Point de situation sur les quais inondés")
            prefect.select_option("#request-deadline", "2H")
            prefect.select_option("#request-crisis", crisis["id"])
            prefect.click("#request-send")
            expect(prefect.locator("#request-success")).to_contain_text("Demande envoyée")
            expect(prefect.locator("#request-status")).to_contain_text("émise")
            expect(prefect.locator("#requests-live")).to_contain_text("(heure de Paris)")
            expect(prefect.locator("#requests-live")).to_have_attribute("data-following", "1")
            save(prefect, tmp_path, "demande-envoyee.png")

            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                        locale="fr-FR", timezone_id="Europe/Paris")
            mayor = login(phone, server.url, "mayor", f"commune:{NANTES}")
            mayor.goto(server.url + "/demandes")
            received = mayor.locator("#inbox li[data-request]")
            expect(received).to_have_count(1)
            expect(received).to_contain_text("Point de situation sur les quais inondés")
            expect(received).to_contain_text("(heure de Paris)")
            save(mayor, tmp_path, "demandes-recues-telephone.png")
            received.get_by_role("link").click()
            expect(mayor.locator("#request-status")).to_contain_text("vue")
            # The prefect's page follows: seen, live.
            expect(prefect.locator("#request-status")).to_contain_text("vue")

            mayor.check("#answer-ACCEPTEE", force=True)
            mayor.fill("#answer-comment", "Point transmis à 15 h, quai de la Fosse fermé")
            assert mayor.locator("#answer-send").bounding_box()["width"] <= 390
            mayor.click("#answer-send")
            expect(mayor.locator("#request-status")).to_contain_text("acceptée")
            save(mayor, tmp_path, "demande-repondue-telephone.png")

            # The prefect did not reload: the answer arrives on the open page.
            expect(prefect.locator("#request-status")).to_contain_text("acceptée")
            expect(prefect.locator("#request-answer")).to_contain_text("quai de la Fosse fermé")
            expect(prefect.locator("#request-history")).to_contain_text("réponse : acceptée")
            assert prefect.locator("#request-success").count() == 1, "the page was not reloaded"
            # The acts now possible follow too: the mayor reports it done, the prefect may close it.
            mayor.locator("#form-finish button").click()
            expect(mayor.locator("#request-status")).to_contain_text("réalisée")
            expect(prefect.locator("#form-close")).to_be_visible()
            expect(prefect.locator("#form-cancel")).to_have_count(0)
            save(prefect, tmp_path, "demande-reponse-en-direct.png")
            # The crisis's page lists it, answered, with a link to the request.
            prefect.goto(server.url + f"/crises/{crisis['id']}")
            listed = prefect.locator("#requests li[data-request]")
            expect(listed).to_contain_text("réalisée")
            listed.get_by_role("link").click()
            expect(prefect.locator("#request-answer")).to_contain_text("quai de la Fosse fermé")
            assert refused == []
        finally:
            browser.close()
