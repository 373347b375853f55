"""Access by territory: every role, against territories inside and outside its own, on every route."""

from __future__ import annotations

import pytest

from adapters.ingest.ingestion import Incoming
from tests.support.api import BREST, GUICHEN, LYON, RENNES, bearer, client_for, report_in

CASES = {RENNES: "fr.fire.test.rennes-1", GUICHEN: "fr.fire.test.guichen-1", BREST: "fr.fire.test.brest-1",
         LYON: "fr.fire.test.lyon-1"}
PLACE = {RENNES: ("35", "ouest"), GUICHEN: ("35", "ouest"), BREST: ("29", "ouest"), LYON: ("69", "sud-est")}

# role, territory of the token, communes whose cases it must see (the others it must not).
MATRIX = [
    ("mayor", "commune:35238", {RENNES}),
    ("mayor", "commune:69123", {LYON}),
    ("prefecture", "departement:35", {RENNES, GUICHEN}),
    ("sdis", "departement:29", {BREST}),
    ("zone", "zone:ouest", {RENNES, GUICHEN, BREST}),
    ("zone", "zone:sud-est", {LYON}),
    ("national", "national:FR", {RENNES, GUICHEN, BREST, LYON}),
    ("analyst", "departement:69", {LYON}),
    ("analyst", "national:FR", {RENNES, GUICHEN, BREST, LYON}),
    ("auditor", "zone:ouest", {RENNES, GUICHEN, BREST}),
]
PERSONAL = {"mayor": False, "prefecture": True, "sdis": True, "zone": False, "national": True, "analyst": False,
            "auditor": False}


def territories_of(insee: str) -> list[tuple[str, str]]:
    dep, zone = PLACE[insee]
    return [("commune", insee), ("departement", dep), ("zone", zone)]


@pytest.fixture
def world(services):
    for i, (insee, case_id) in enumerate(CASES.items()):
        raw = report_in(services.geography, insee, case_id, seed=i)
        assert services.ingestor.ingest(Incoming(raw, "application/json")).status == "accepted"
    with client_for(services) as (client, config):
        yield client, config


def visible(territory: str, level: str, code: str, geography) -> bool:
    own_level, own_code = territory.split(":")
    return geography.contains((own_level, own_code), (level, code))


@pytest.mark.parametrize(("role", "territory", "sees"), MATRIX, ids=[f"{r}-{t}" for r, t, _ in MATRIX])
def test_each_role_sees_its_territory_and_nothing_else(world, services, role, territory, sees):
    client, config = world
    headers = bearer(config, role, territory)
    geography = services.geography
    level, code = territory.split(":")

    # Views and territory detail, map and children counts: own and inside -> 200, outside -> 403.
    candidates = {t for insee in CASES for t in territories_of(insee)} | {("national", "FR")}
    for lvl, c in sorted(candidates):
        expected = 200 if visible(territory, lvl, c, geography) else 403
        for path in (f"/api/v1/views/{lvl}/{c}", f"/api/v1/territories/{lvl}/{c}",
                     f"/api/v1/territories/{lvl}/{c}/map", f"/api/v1/views/{lvl}/{c}/children",
                     f"/api/v1/cases?level={lvl}&code={c}", f"/api/v1/nexsis/requests?level={lvl}&code={c}"):
            response = client.get(path, headers=headers)
            assert response.status_code == expected, (path, response.text)
            if expected == 403:
                assert "hors de votre périmètre" in response.json()["detail"]
                assert "fr.fire" not in response.text

    # The view of its own territory counts only its cases.
    view = client.get(f"/api/v1/views/{level}/{code}", headers=headers).json()
    assert view["cases_total"] == len(sees)
    assert view["cases_active"] == len(sees)

    # The case list (default: own territory) lists exactly the visible cases.
    listed = client.get("/api/v1/cases", headers=headers).json()
    assert {c["case_id"] for c in listed["items"]} == {CASES[i] for i in sees}
    assert listed["total"] == len(sees)

    # Case detail: inside -> 200 (with or without personal data), outside -> the same 404 as unknown.
    for insee, case_id in CASES.items():
        response = client.get(f"/api/v1/cases/{case_id}", headers=headers)
        if insee in sees:
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["personal_included"] is PERSONAL[role]
            assert ("personal" in body["state"]) is PERSONAL[role]
            reports = [e for e in body["events"] if e["type"] == "Case.Reported"]
            assert all(("personal" in e["facts"]) is PERSONAL[role] for e in reports)
            if not PERSONAL[role]:
                assert "06" not in str(body["state"].get("personal", ""))
        else:
            assert response.status_code == 404
            unknown = client.get("/api/v1/cases/fr.unknown.case", headers=headers)
            assert response.json()["detail"] == unknown.json()["detail"]

    # Territory search only returns visible territories.
    for q in ("Rennes", "Lyon", "Brest", "Guichen", "35", "Finistère"):
        for t in client.get("/api/v1/territories", params={"q": q}, headers=headers).json():
            assert visible(territory, t["level"], t["code"], geography), (q, t)


@pytest.mark.parametrize(("role", "territory", "sees"), MATRIX, ids=[f"{r}-{t}" for r, t, _ in MATRIX])
def test_the_live_stream_is_scoped_too(world, services, role, territory, sees):
    client, config = world
    headers = bearer(config, role, territory)
    for insee in CASES:
        for lvl, c in territories_of(insee):
            if not visible(territory, lvl, c, services.geography):
                response = client.get("/api/v1/stream", params={"level": lvl, "code": c}, headers=headers)
                assert response.status_code == 403
    # What the hub would deliver to this client: exactly the visible cases.
    hub = client.app.state.live
    level, code = territory.split(":")
    from api.auth import AuthConfig  # noqa: F401 - the principal comes from the token, as for a request
    from api.routes.live import Subscriber

    principal = config.principal(headers["Authorization"].split()[1], services.geography)
    sub = Subscriber(principal, principal.level, principal.code)
    changed = hub.read_model.changed_cases(0)  # the case rows the hub reads from the views
    assert {summary["case_id"] for summary in changed.rows} == set(CASES.values())
    delivered = set()
    for summary in changed.rows:
        if sub.wants(summary):
            delivered.add(summary["case_id"])
    assert delivered == {CASES[i] for i in sees}
    assert hub is not None


def test_no_token_no_data_and_bad_tokens_are_refused(world):
    client, config = world
    for path in ("/api/v1/views/national/FR", "/api/v1/cases", f"/api/v1/cases/{CASES[RENNES]}",
                 "/api/v1/territories", "/api/v1/stream", "/api/v1/access-log", "/api/v1/me",
                 "/api/v1/nexsis/requests"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer not.a.token"}).status_code == 401, path
    other = type(config)(secret=b"another-key-another-key-another-key-another")
    forged = other.mint("national", "national:FR")
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = config.mint("national", "national:FR", ttl=-3600)
    response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expiré" in response.json()["detail"]


def test_the_nexsis_service_account_posts_messages_but_reads_nothing(world, services):
    client, config = world
    raw = report_in(services.geography, RENNES, "fr.fire.test.rennes-2", seed=7)
    assert client.post("/api/v1/messages", content=raw, headers={"content-type": "application/json"}).status_code == 401
    mayor = bearer(config, "mayor", "commune:35238")
    refused = client.post("/api/v1/messages", content=raw, headers={"content-type": "application/json", **mayor})
    assert refused.status_code == 403
    nexsis = bearer(config, "nexsis", "national:FR")
    response = client.post("/api/v1/messages", content=raw, headers={"content-type": "application/json", **nexsis})
    assert response.status_code == 200 and response.headers["x-tocsin-outcome"] == "accepted", response.text
    assert client.get("/api/v1/cases", headers=nexsis).status_code == 403
    assert client.get("/api/v1/nexsis/requests", headers=nexsis).status_code == 403
    assert client.get("/api/v1/views/national/FR", headers=nexsis).status_code == 403
    assert client.get(f"/api/v1/cases/{CASES[RENNES]}", headers=nexsis).status_code == 403


def test_case_reads_are_logged_for_auditors_and_the_log_is_append_only(world, services):
    from adapters.store import access_log

    client, config = world
    client.get(f"/api/v1/cases/{CASES[RENNES]}", headers=bearer(config, "mayor", "commune:35238"))
    client.get(f"/api/v1/cases/{CASES[LYON]}", headers=bearer(config, "sdis", "departement:69"))
    client.get(f"/api/v1/cases/{CASES[LYON]}", headers=bearer(config, "mayor", "commune:35238"))  # refused: not logged

    auditor = bearer(config, "auditor", "national:FR")
    rows = client.get("/api/v1/access-log", headers=auditor).json()
    assert [(r["role"], r["case_id"], r["personal"]) for r in rows] == [
        ("sdis", CASES[LYON], True), ("mayor", CASES[RENNES], False)]
    assert rows[1]["territory"] == "commune:35238" and rows[1]["at"]
    # An auditor of zone Ouest sees the reads of its zone's cases only.
    ouest = client.get("/api/v1/access-log", headers=bearer(config, "auditor", "zone:ouest")).json()
    assert [r["case_id"] for r in ouest] == [CASES[RENNES]]
    # Only auditors read the log.
    assert client.get("/api/v1/access-log", headers=bearer(config, "national", "national:FR")).status_code == 403
    with pytest.raises(Exception, match="ajout seul"), services.store.connect() as conn:
        conn.execute(f'DELETE FROM "{services.settings.schema}".{access_log.TABLE}')


def test_quarantine_is_for_national_auditors(world):
    client, config = world
    assert client.get("/api/v1/quarantine", headers=bearer(config, "auditor", "national:FR")).status_code == 200
    assert client.get("/api/v1/quarantine", headers=bearer(config, "auditor", "zone:ouest")).status_code == 403
    assert client.get("/api/v1/quarantine", headers=bearer(config, "mayor", "commune:35238")).status_code == 403


# Who sees a request from the préfecture of Ille-et-Vilaine to the mairie of Rennes: its parties and the State's
# authorities above them (zone, national); everyone else gets the 404 of an unknown request, on every route.
SEES_REQUEST = {("mayor", "commune:35238"), ("prefecture", "departement:35"), ("zone", "zone:ouest"),
                ("national", "national:FR")}


@pytest.mark.parametrize(("role", "territory", "sees"), MATRIX, ids=[f"{r}-{t}" for r, t, _ in MATRIX])
def test_requests_are_seen_by_their_parties_and_the_authorities_above(world, role, territory, sees):
    client, config = world
    sent = client.post("/api/v1/requests", headers=bearer(config, "prefecture", "departement:35"), json={
        "to": "mairie.35238", "kind": "information", "text": "Point de situation", "deadline": "1H"})
    assert sent.status_code == 200, sent.text
    request_id = sent.json()["id"]
    headers = bearer(config, role, territory)
    party = (role, territory) in SEES_REQUEST
    assert client.get(f"/api/v1/requests/{request_id}", headers=headers).status_code == (200 if party else 404)
    listed = [r["id"] for r in client.get("/api/v1/requests", headers=headers).json()["items"]]
    assert listed == ([request_id] if party else [])
    answer = client.post(f"/api/v1/requests/{request_id}/answer", json={"answer": "ACCEPTEE"}, headers=headers)
    assert answer.status_code == (200 if (role, territory) == ("mayor", "commune:35238") else 403 if party else 404)
    cancel = client.post(f"/api/v1/requests/{request_id}/cancel", json={}, headers=headers)
    assert cancel.status_code == (200 if role == "prefecture" else 403 if party else 404)
    assert client.get("/api/v1/requests").status_code == 401
