"""The case drawer in headless Chromium shows the requests the emergency services exchanged on the case,
in words, read-only, on a phone too."""

from __future__ import annotations

import json

from adapters.ingest.ingestion import Incoming
from tests.e2e.test_dashboard_browser import FLAGS, ensure_chromium, save
from tests.support.api import LiveServer, wait_for_views
from tests.support.paths import NEXSIS_FIXTURES
from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire

SAMU, SDIS = "fr.health.samu35", "fr.fire.sis35.cgo-35"


def fixture(name: str) -> tuple[str, dict]:
    (kind, use_case), = json.loads((NEXSIS_FIXTURES / f"{name}.json").read_text(encoding="utf-8")).items()
    return kind, use_case


def test_the_case_drawer_lists_the_requests_between_services(services, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable = ensure_chromium()
    messages = [
        as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=SDIS)),
        as_xml(wire(*fixture("RS-DR"), sender_id=SAMU, recipient_id=SDIS, sent_at="2024-08-13T10:25:00+02:00")),
        as_json(wire(*fixture("RS-RR"), sender_id=SDIS, sent_at="2024-08-13T10:29:00+02:00")),
    ]
    for raw in messages:
        assert services.ingestor.ingest(Incoming(raw)).status == "accepted"

    with LiveServer(services) as server, sync_playwright() as p:
        wait_for_views(server.app.state.read_model, services)
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR", timezone_id="Europe/Paris")
            page.set_default_timeout(10_000)
            page.goto(server.url + "/")
            page.select_option("#role", "sdis")
            page.fill("#territory", "departement:35")
            page.click("#demo-submit")
            page.locator(f'#cases tr[data-case="{FIRE_CASE}"]').click()
            drawer = page.locator("#drawer")
            expect(drawer).to_contain_text("Demandes entre services (NexSIS)")
            expect(drawer).to_contain_text("Demande de ressource (RS-DR) — SAMU 35 → SDIS 35")
            expect(drawer).to_contain_text("Délai demandé : sous 30 minutes")
            expect(drawer).to_contain_text("Réponse : acceptée en partie (SDIS 35), délai engagé : sous 45 minutes")
            expect(drawer).to_contain_text("répondue : acceptée en partie, le 13/08/2024")
            expect(drawer).to_contain_text("Demande de ressource entre services")  # the chronology's line
            # Read-only: nothing in the section to answer or cancel with.
            assert drawer.locator(".t-requests button, .t-requests form").count() == 0
            assert "Carence ambulancière" not in drawer.inner_text()  # free text: personal data
            drawer.locator(".t-requests").scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "demandes-entre-services-ecran.png"))  # the drawer as seen
            save(page, tmp_path, "demandes-entre-services.png")
        finally:
            browser.close()
