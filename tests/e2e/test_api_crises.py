"""Crises through the HTTP API: who may open one, who takes part in it (and who gets a 404, like an unknown
one), closing, attaching and detaching by hand; each act an event of the audit chain."""

from __future__ import annotations

from pydantic import TypeAdapter

from api import schemas
from tests.support.api import bearer, client_for

BODY = {"title": "Crue de la Vilaine", "kind": "flood", "territory": "departement:35"}


def test_a_prefecture_opens_a_crisis_that_its_mayors_see_and_others_do_not(services):
    with client_for(services) as (client, config):
        prefet = bearer(config, "prefecture", "departement:35")
        # Not a role that opens crises, or outside one's territory: refused.
        assert client.post("/api/v1/crises", json=BODY, headers=bearer(config, "mayor", "commune:35238")
                           ).status_code == 403
        assert client.post("/api/v1/crises", json=BODY, headers=bearer(config, "sdis", "departement:35")
                           ).status_code == 403
        assert client.post("/api/v1/crises", json={**BODY, "territory": "departement:29"}, headers=prefet
                           ).status_code == 403
        assert client.post("/api/v1/crises", json={**BODY, "kind": "earthquake"}, headers=prefet).status_code == 422
        assert client.post("/api/v1/crises", json={**BODY, "title": " "}, headers=prefet).status_code == 422

        opened = client.post("/api/v1/crises", json=BODY, headers=prefet)
        assert opened.status_code == 200, opened.text
        crisis = TypeAdapter(schemas.CrisisItem).validate_python(opened.json())
        assert crisis.status == "ouverte" and crisis.organisation_id == "prefecture.35"
        assert crisis.opened_by["role"] == "prefecture" and crisis.time_zone == "Europe/Paris"

        # Those inside the département and those above take part; others get the same 404 as an unknown id.
        for role, territory in (("mayor", "commune:35238"), ("zone", "zone:ouest"), ("national", "national:FR"),
                                ("sdis", "departement:35")):
            seen = client.get(f"/api/v1/crises/{crisis.id}", headers=bearer(config, role, territory))
            assert seen.status_code == 200, (role, seen.text)
            listed = client.get("/api/v1/crises", headers=bearer(config, role, territory)).json()["items"]
            assert [c["id"] for c in listed] == [crisis.id]
        brest = bearer(config, "mayor", "commune:29019")
        assert client.get(f"/api/v1/crises/{crisis.id}", headers=brest).status_code == 404
        assert client.get("/api/v1/crises/00000000-0000-0000-0000-000000000000", headers=brest).status_code == 404
        assert client.get("/api/v1/crises/pas-un-id", headers=prefet).status_code == 404
        assert client.get("/api/v1/crises", headers=brest).json()["items"] == []
        assert client.post(f"/api/v1/crises/{crisis.id}/close", json={}, headers=brest).status_code == 404

        # A mayor takes part but does not run the crisis.
        mayor = bearer(config, "mayor", "commune:35238")
        assert client.post(f"/api/v1/crises/{crisis.id}/cases", json={"case_id": "FR.35.1"}, headers=mayor
                           ).status_code == 403
        attached = client.post(f"/api/v1/crises/{crisis.id}/cases", json={"case_id": "FR.35.1"}, headers=prefet)
        assert attached.status_code == 200 and attached.json()["cases"][0]["how"] == "manuel"
        detached = client.post(f"/api/v1/crises/{crisis.id}/cases/FR.35.1/detach", json={"reason": "hors sujet"},
                               headers=prefet).json()
        assert detached["cases"] == [] and detached["detached"][0]["reason"] == "hors sujet"

        closed = client.post(f"/api/v1/crises/{crisis.id}/close", json={"summary": "Décrue"}, headers=prefet)
        assert closed.status_code == 200 and closed.json()["status"] == "close"
        again = client.post(f"/api/v1/crises/{crisis.id}/cases", json={"case_id": "FR.35.2"}, headers=prefet)
        assert again.status_code == 409 and "close" in again.json()["detail"]
        assert client.get("/api/v1/crises?closed=false", headers=prefet).json()["items"] == []

    # Every act is an event of the crisis's stream, in order.
    from uuid import UUID

    recorded = services.store.events.get(UUID(crisis.id))
    assert [type(e).__name__ for e in recorded] == ["Opened", "CaseAttached", "CaseDetached", "Closed"]
