"""Alerts to the population through the API, as people would use it: a mayor drafts for their commune, the
préfecture of its département approves (CAP 1.2 to the gateway) or refuses; updates and cancels follow
CAP's rules. The role × territory matrix of every route: outside one's perimeter, 404 like an unknown
alert; inside it, an act one's role may not do, 403; an act the state refuses, 409; bad input, 422."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree
from pydantic import TypeAdapter

from adapters.cap import schema
from adapters.cap.gateway import NO_GATEWAY
from api import schemas
from tests.support.api import GUICHEN, RENNES, client_for
from tests.support.cap_gateway import cap_gateway  # noqa: F401  (fixture)
from tests.support.smtp import smtp_server  # noqa: F401  (fixture)

CONTENT = {"event": "Inondation", "headline": "Crue de la Vilaine", "description": "La Vilaine déborde <vite> & fort.",
           "instruction": "Montez à l'étage.", "category": "Met", "urgency": "Immediate", "severity": "Severe",
           "certainty": "Observed", "response_type": "Shelter"}
PREFIX = "/api/v1/population-alerts"
DETAIL = TypeAdapter(schemas.PopulationAlertDetail)


def h(config, role: str, territory: str, subject: str) -> dict:
    return {"Authorization": f"Bearer {config.mint(role, territory, subject=subject, name=subject)}"}


@pytest.fixture
def api(services, cap_gateway):  # noqa: F811
    services.settings = replace(services.settings, cap_gateway_url=cap_gateway.url)
    with client_for(services, alerting=False) as (client, config):
        people = {
            "maire": h(config, "mayor", f"commune:{GUICHEN}", "maire.guichen"),
            "maire_rennes": h(config, "mayor", f"commune:{RENNES}", "maire.rennes"),
            "prefet": h(config, "prefecture", "departement:35", "prefet.35"),
            "prefet_29": h(config, "prefecture", "departement:29", "prefet.29"),
            "sdis": h(config, "sdis", "departement:35", "sdis.35"),
            "zone": h(config, "zone", "zone:ouest", "coz.ouest"),
            "zone_sud": h(config, "zone", "zone:sud", "coz.sud"),
            "national": h(config, "national", "national:FR", "cogic"),
        }
        yield client, people, cap_gateway


def test_the_role_and_territory_matrix_of_every_route(api):
    client, p, gateway = api
    crisis = client.post("/api/v1/crises", json={"title": "Crue de la Vilaine", "kind": "flood",
                                                 "territory": "departement:35"}, headers=p["prefet"]).json()["id"]
    elsewhere = client.post("/api/v1/crises", json={"title": "Tempête", "kind": "storm",
                                                    "territory": "departement:29"}, headers=p["prefet_29"]).json()["id"]
    body = {**CONTENT, "insee": GUICHEN, "crisis_id": crisis}
    # The crisis it belongs to: one the mairie takes part in, open.
    for wrong in (elsewhere, "crise-35-crue"):
        refused = client.post(PREFIX, json={**body, "crisis_id": wrong}, headers=p["maire"])
        assert refused.status_code == 422 and "crise inconnue" in refused.json()["detail"], refused.text
    # Drafting: only the commune's mairie.
    for who in ("maire_rennes", "prefet", "sdis", "national"):
        assert client.post(PREFIX, json=body, headers=p[who]).status_code == 403, who
    assert client.post(PREFIX, json={**body, "insee": "99999"}, headers=p["maire"]).status_code == 422
    bad = client.post(PREFIX, json={**body, "severity": "Grave"}, headers=p["maire"])
    assert bad.status_code == 422 and "valeurs CAP" in bad.json()["detail"]
    drafted = client.post(PREFIX, json=body, headers=p["maire"])
    assert drafted.status_code == 200, drafted.text
    item = DETAIL.validate_python(drafted.json())
    assert item.state == "à valider" and item.crisis_id == crisis and item.messages == []
    assert (item.history[0].by or {}).get("person_id") == "maire.guichen" and item.history[0].label == "rédigée"
    url = f"{PREFIX}/{item.id}"

    # Seeing it: the commune and every authority above it; nobody else, and they learn nothing.
    for who in ("maire", "prefet", "sdis", "zone", "national"):
        assert client.get(url, headers=p[who]).status_code == 200, who
    for who in ("maire_rennes", "prefet_29", "zone_sud"):
        answer = client.get(url, headers=p[who])
        assert answer.status_code == 404 and answer.json() == client.get(
            f"{PREFIX}/00000000-0000-0000-0000-000000000000", headers=p[who]).json(), who
        assert client.get(PREFIX, headers=p[who]).json()["items"] == []
        for act, payload in (("approve", None), ("refuse", {"reason": "non"}), ("update", CONTENT),
                             ("cancel", {"reason": "non"}), ("publish", None)):
            assert client.post(f"{url}/{act}", json=payload, headers=p[who]).status_code == 404, (who, act)
    assert [i["id"] for i in client.get(PREFIX, headers=p["prefet"]).json()["items"]] == [item.id]

    # Deciding: only the département's préfecture.
    for who in ("maire", "sdis", "zone", "national"):
        assert client.post(f"{url}/approve", headers=p[who]).status_code == 403, who
        assert client.post(f"{url}/refuse", json={"reason": "non"}, headers=p[who]).status_code == 403, who
    assert client.post(f"{url}/update", json=CONTENT, headers=p["prefet"]).status_code == 403
    assert client.post(f"{url}/refuse", json={"reason": "  "}, headers=p["prefet"]).status_code == 422
    approved = client.post(f"{url}/approve", headers=p["prefet"])
    assert approved.status_code == 200, approved.text
    item = DETAIL.validate_python(approved.json())
    assert item.state == "publiée" and item.messages[0].status == "publié"
    assert item.versions[0]["decided_by"]["person_id"] == "prefet.35"
    [received] = gateway.received
    assert schema.errors(received.body) == [] and received.body.decode() == item.messages[0].xml
    assert etree.fromstring(received.body).findtext(f"{{{schema.CAP_NS}}}info/{{{schema.CAP_NS}}}description") \
        == CONTENT["description"]
    assert client.post(f"{url}/approve", headers=p["prefet"]).status_code == 409  # nothing waits any more

    # Cancelling: the mairie or the préfecture, with a reason; then nothing more.
    assert client.post(f"{url}/cancel", json={"reason": "fin"}, headers=p["sdis"]).status_code == 403
    cancelled = client.post(f"{url}/cancel", json={"reason": "Décrue"}, headers=p["prefet"])
    assert cancelled.status_code == 200
    item = DETAIL.validate_python(cancelled.json())
    assert item.state == "annulée" and item.messages[-1].msg_type == "Cancel"
    assert item.messages[-1].references == [f"{m.sender},{m.identifier},{m.sent}" for m in item.messages[:1]]
    assert [h.label for h in item.history] == ["rédigée", "validée", "publiée", "annulée", "publiée"]
    assert client.post(f"{url}/update", json=CONTENT, headers=p["maire"]).status_code == 409
    assert client.post(f"{url}/cancel", json={"reason": "encore"}, headers=p["maire"]).status_code == 409

    # A closed crisis takes no new alert.
    assert client.post(f"/api/v1/crises/{crisis}/close", json={}, headers=p["prefet"]).status_code == 200
    closed = client.post(PREFIX, json=body, headers=p["maire"])
    assert closed.status_code == 422 and "close" in closed.json()["detail"]


def test_refused_with_a_reason_and_without_a_gateway_never_published(services):
    with client_for(services, alerting=False) as (client, config):
        maire = h(config, "mayor", f"commune:{GUICHEN}", "maire.guichen")
        prefet = h(config, "prefecture", "departement:35", "prefet.35")
        first = client.post(PREFIX, json={**CONTENT, "insee": GUICHEN}, headers=maire).json()
        refused = client.post(f"{PREFIX}/{first['id']}/refuse", json={"reason": "Vigilance déjà diffusée"},
                              headers=prefet).json()
        assert refused["state"] == "refusée" and refused["versions"][0]["reason"] == "Vigilance déjà diffusée"
        assert refused["history"][-1]["reason"] == "Vigilance déjà diffusée"

        second = client.post(PREFIX, json={**CONTENT, "insee": GUICHEN}, headers=maire).json()
        approved = client.post(f"{PREFIX}/{second['id']}/approve", headers=prefet).json()
        assert approved["state"] == "validée, à publier"
        assert approved["messages"][0]["attempts"][0]["reason"] == NO_GATEWAY
        assert all(a["outcome"] != "publié" for a in approved["messages"][0]["attempts"])
        again = client.post(f"{PREFIX}/{second['id']}/publish", headers=prefet).json()
        assert again["state"] == "validée, à publier"


def test_the_page_drafts_for_the_mairie_and_the_prefecture_decides_by_form(services, cap_gateway):  # noqa: F811
    import re

    import httpx

    from tests.support.api import LiveServer

    services.settings = replace(services.settings, cap_gateway_url=cap_gateway.url)
    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    with LiveServer(services) as server:
        def browser(role: str, territory: str) -> httpx.Client:
            client = httpx.Client(base_url=server.url)
            client.cookies.set("tocsin_token", server.config.mint(role, territory, subject=role, name=role))
            return client

        with browser("mayor", f"commune:{GUICHEN}") as maire, browser("prefecture", "departement:35") as prefet, \
                browser("mayor", f"commune:{RENNES}") as voisin:
            assert 'href="/alertes-population"' in maire.get("/").text
            page = maire.get("/alertes-population")
            assert page.status_code == 200 and 'id="draft-form"' in page.text and "<script>" not in page.text
            token = csrf.findall(page.text)[0]
            form = {**CONTENT, "insee": GUICHEN, "csrf": token, "description": "<b>Crue</b> & boue"}
            assert maire.post("/alertes-population", data={**form, "csrf": "forgé"}).status_code == 403
            drafted = maire.post("/alertes-population", data=form, follow_redirects=True)
            assert drafted.status_code == 200 and "la préfecture est alertée" in drafted.text
            assert "&lt;b&gt;Crue&lt;/b&gt; &amp; boue" in drafted.text and "<b>Crue</b>" not in drafted.text
            assert "Valider et publier" not in drafted.text  # a mairie does not decide
            assert "Aucune alerte" in voisin.get("/alertes-population").text

            seen = prefet.get("/alertes-population").text
            assert 'id="draft-form"' not in seen and "Valider et publier" in seen
            alert_id = re.search(r'data-alert="([^"]+)"', seen).group(1)  # type: ignore[union-attr]
            done = prefet.post(f"/alertes-population/{alert_id}/valider", data={"csrf": csrf.findall(seen)[0]},
                               follow_redirects=True)
            assert done.status_code == 200 and "Alerte validée." in done.text and "CAP Alert : publié" in done.text
            assert len(cap_gateway.received) == 1


def test_the_prefecture_is_alerted_by_email_when_a_draft_waits_for_it(services, smtp_server):  # noqa: F811
    import httpx

    from adapters.notify.policy import AlertPolicy
    from tests.e2e.test_alerts import wait_for
    from tests.support.api import LiveServer
    from tests.support.directory_grants import habilitate

    cab = "cab@ille-et-vilaine.test"
    directory, ids = habilitate(services, {"cab": ("prefecture.35", "Cadre de permanence", cab),
                                           "cab29": ("prefecture.29", "Cadre du Finistère", "cab@finistere.test")})
    services.settings = replace(services.settings, smtp_url=smtp_server.url, public_url="https://tocsin.example.fr")
    AlertPolicy(services.store, services.geography, directory).close()
    with LiveServer(services, alerting=True) as server, \
            httpx.Client(base_url=server.url, timeout=10) as client:
        maire = {"Authorization": f"Bearer {server.config.mint('mayor', f'commune:{GUICHEN}', subject='m')}"}
        drafted = client.post(PREFIX, json={**CONTENT, "insee": GUICHEN}, headers=maire)
        assert drafted.status_code == 200, drafted.text
        [mail] = wait_for(lambda: smtp_server.mailbox.to(cab))
        text = mail.get_body(("plain",)).get_content()
        assert "Alerte à la population à valider (Guichen) : Crue de la Vilaine" in text
        assert "Guichen (35126)" in text
        assert smtp_server.mailbox.to("cab@finistere.test") == []  # another département's préfecture: nothing
        prefet = {"Authorization": f"Bearer {server.config.mint('prefecture', 'departement:35', subject=ids['cab'])}"}
        alerts = client.get("/api/v1/alerts", headers=prefet).json()["items"]
        assert [a["rule"] for a in alerts] == ["alerte-population-a-valider"]
