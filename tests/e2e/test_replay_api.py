"""Replay over HTTP: views as of a past moment and timelines, for analysts, auditors and national staff,
within their territory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.ingest.ingestion import Incoming
from replay.as_of import replay_view
from replay.checkpoints.build import build_checkpoints
from replay.event_log import HAPPENED_BY, KNOWN_AT
from tests.support.api import BREST, LYON, RENNES, bearer, client_for, report_in

CASES = {RENNES: "fr.fire.test.rennes-1", BREST: "fr.fire.test.brest-1", LYON: "fr.fire.test.lyon-1"}


@pytest.fixture
def world(services):
    for i, (insee, case_id) in enumerate(CASES.items()):
        raw = report_in(services.geography, insee, case_id, seed=i)
        assert services.ingestor.ingest(Incoming(raw, "application/json")).status == "accepted"
        if i == 1:
            build_checkpoints(services.store, every=1)
    with client_for(services) as (client, config):
        yield client, config


def test_replayed_views_by_role_and_territory(world, services):
    client, config = world
    now = datetime.now(UTC) + timedelta(seconds=1)
    params = {"at": now.isoformat(), "sense": KNOWN_AT}
    national = bearer(config, "national", "national:FR")
    got = client.get("/api/v1/replay/views/departement/35", params=params, headers=national)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["checkpoint"] is not None and body["view"]["figures"]["cases:total"] == 1
    assert body["view"] == _jsonable(replay_view(services.store, "departement", "35", now, use_checkpoints=False).view)
    assert [c["case_id"] for c in body["view"]["most_serious"]] == [CASES[RENNES]]

    analyst = bearer(config, "analyst", "zone:ouest")
    assert client.get("/api/v1/replay/views/zone/ouest", params=params, headers=analyst).status_code == 200
    cases = client.get("/api/v1/replay/views/cases/ouest", params=params, headers=analyst).json()["view"]["cases"]
    assert sorted(c["case_id"] for c in cases) == sorted([CASES[RENNES], CASES[BREST]])
    assert client.get("/api/v1/replay/views/departement/69", params=params, headers=analyst).status_code == 403
    assert client.get("/api/v1/replay/views/national/FR", params=params, headers=analyst).status_code == 403
    assert client.get("/api/v1/replay/views/cases/69", params=params, headers=analyst).status_code == 403
    assert client.get(f"/api/v1/replay/views/case/{CASES[BREST]}", params=params, headers=analyst).status_code == 200
    # A case outside the perimeter answers exactly as an unknown one: nothing says that it exists (issue #17).
    outside = client.get(f"/api/v1/replay/views/case/{CASES[LYON]}", params=params, headers=analyst)
    unknown = client.get("/api/v1/replay/views/case/fr.fire.none", params=params, headers=analyst)
    assert outside.status_code == unknown.status_code == 404
    assert outside.json() == unknown.json()

    auditor = bearer(config, "auditor", "departement:29")
    assert client.get("/api/v1/replay/views/commune/29019", params=params, headers=auditor).status_code == 200
    assert client.get("/api/v1/replay/views/departement/35", params=params, headers=auditor).status_code == 403
    for role, territory in (("prefecture", "departement:35"), ("mayor", "commune:35238"), ("zone", "zone:ouest")):
        denied = client.get("/api/v1/replay/views/departement/35", params=params,
                            headers=bearer(config, role, territory))
        assert denied.status_code == 403 and "rejeu" in denied.json()["detail"]
    assert client.get("/api/v1/replay/views/departement/35", params=params).status_code == 401
    # The happened-by sense, and a moment before everything.
    sent = client.get("/api/v1/replay/views/national/FR", params={**params, "sense": HAPPENED_BY}, headers=national)
    assert sent.json()["sense"] == HAPPENED_BY and sent.json()["view"]["figures"]["cases:total"] == 3
    early = client.get("/api/v1/replay/views/national/FR", params={"at": "2001-01-01T00:00:00+00:00"}, headers=national)
    assert early.status_code == 200 and early.json()["view"] is None
    assert client.get("/api/v1/replay/views/national/FR", params={**params, "sense": "later"},
                      headers=national).status_code == 422


def test_timeline_over_http(world, services):
    client, config = world
    now = datetime.now(UTC)
    window = {"territory": "zone:ouest", "from": (now - timedelta(days=3650)).isoformat(),
              "to": (now + timedelta(hours=1)).isoformat(), "interval": "30j"}
    got = client.get("/api/v1/replay/timeline", params=window, headers=bearer(config, "auditor", "zone:ouest"))
    assert got.status_code == 200, got.text
    assert got.json()["summary"]["cases_opened"] == 2 and got.json()["territory"] == "zone:ouest"
    analyst69 = bearer(config, "analyst", "departement:69")
    assert client.get("/api/v1/replay/timeline", params=window, headers=analyst69).status_code == 403
    bad = client.get("/api/v1/replay/timeline", params={**window, "interval": "bientôt"},
                     headers=bearer(config, "national", "national:FR"))
    assert bad.status_code == 422 and "intervalle invalide" in bad.json()["detail"]
    naive = client.get("/api/v1/replay/timeline", params={**window, "from": "2025-01-01T00:00:00"},
                       headers=bearer(config, "national", "national:FR"))
    assert naive.status_code == 422 and "fuseau" in naive.json()["detail"]


def _jsonable(value):
    import orjson

    return orjson.loads(orjson.dumps(value, default=str))


def test_report_download_over_http(world):
    """The after-action report of `tocsin replay report`, downloaded from the dashboard: same refusals as the
    timeline (role, perimeter, bad window)."""
    client, config = world
    now = datetime.now(UTC)
    window = {"territory": "zone:ouest", "from": (now - timedelta(days=3650)).isoformat(),
              "to": (now + timedelta(hours=1)).isoformat(), "interval": "30j"}
    got = client.get("/api/v1/replay/report", params=window, headers=bearer(config, "analyst", "zone:ouest"))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/html")
    assert got.headers["content-disposition"] == 'attachment; filename="rapport-zone-ouest.html"'
    assert "Retour d'expérience — Zone Ouest" in got.text and "heure de Paris" in got.text
    assert "<svg" in got.text
    mayor = client.get("/api/v1/replay/report", params=window, headers=bearer(config, "mayor", "commune:35238"))
    assert mayor.status_code == 403 and "rejeu" in mayor.json()["detail"]
    for path in ("/api/v1/quarantine", "/api/v1/access-log"):  # the dashboard's audit panels' sources
        assert client.get(path, headers=bearer(config, "mayor", "commune:35238")).status_code == 403
    outside = client.get("/api/v1/replay/report", params=window, headers=bearer(config, "analyst", "departement:69"))
    assert outside.status_code == 403
    naive = client.get("/api/v1/replay/report", params={**window, "to": "2025-01-01T00:00:00"},
                       headers=bearer(config, "national", "national:FR"))
    assert naive.status_code == 422 and "fuseau" in naive.json()["detail"]
    assert client.get("/api/v1/replay/report", params=window).status_code == 401


def test_dashboard_panels_by_role(world):
    """The replay panel for the roles that may replay, the quarantine for national auditors, the access log
    for auditors; none for a mayor (whose API calls would be refused anyway)."""
    client, config = world

    def page(role: str, territory: str) -> str:
        client.cookies.set("tocsin_token", config.mint(role, territory))
        try:
            got = client.get("/")
        finally:
            client.cookies.clear()
        assert got.status_code == 200, got.text
        return got.text

    analyst = page("analyst", "zone:ouest")
    assert 'id="replay"' in analyst and "heure de Paris" in analyst and 'data-territory="zone:ouest"' in analyst
    assert 'id="quarantine"' not in analyst and 'id="access-log"' not in analyst
    assert '<script src="/static/analyse.js" defer></script>' in analyst
    auditor = page("auditor", "national:FR")
    assert 'id="replay"' in auditor and 'id="quarantine"' in auditor and 'id="access-log"' in auditor
    local_auditor = page("auditor", "departement:974")
    assert 'id="quarantine"' not in local_auditor and 'id="access-log"' in local_auditor
    assert "heure de La Réunion" in local_auditor
    mayor = page("mayor", "commune:35238")
    assert 'id="replay"' not in mayor and 'id="quarantine"' not in mayor and 'id="access-log"' not in mayor
