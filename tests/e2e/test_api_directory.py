"""The directory's HTTP routes: reads scoped by territory, contacts only for the roles that reach people,
grants and revocations only by the parent authority, and a bearer token acting for its seeded organisation
(recorded in the access log)."""

from __future__ import annotations

from adapters.directory.use_cases import import_csv
from adapters.ingest.ingestion import Incoming
from tests.support.api import RENNES, bearer, client_for, report_in

CSV = """organisation_kind,territory,organisation_name,person_name,position,email,phone
mairie,commune:35238,,Maire Rennes,Maire,maire@rennes.example,02 23 62 10 10
prefecture,departement:35,,Chef Sidpc,Chef du SIDPC,sidpc@ille.example,
mairie,commune:29019,,Maire Brest,Maire,maire@brest.example,
"""


def test_directory_reads_are_scoped_and_contacts_guarded(services) -> None:
    import_csv(services, CSV)
    with client_for(services) as (client, config):
        mayor = bearer(config, "mayor", "commune:35238")
        # Default: my organisations and those above me, not my neighbours'.
        ids = {o["id"] for o in client.get("/api/v1/organisations", headers=mayor).json()}
        assert {"mairie.35238", "prefecture.35", "sdis.35", "coz.ouest", "cogic.FR"} <= ids
        assert "mairie.35126" not in ids
        answer = client.get("/api/v1/organisations", params={"territory": "commune:35238"}, headers=mayor).json()
        assert answer == [{"id": "mairie.35238", "kind": "mairie", "name": "Mairie de Rennes",
                           "territory": "commune:35238", "siret": None, "nexsis_id": None}]
        refused = client.get("/api/v1/organisations", params={"territory": "commune:29019"}, headers=mayor)
        assert refused.status_code == 403 and "périmètre" in refused.json()["detail"]
        assert client.get("/api/v1/organisations", params={"territory": "commune:nowhere"},
                          headers=mayor).status_code == 422
        [sidpc] = client.get("/api/v1/people", params={"organisation": "prefecture.35"}, headers=mayor).json()
        assert sidpc["email"] == "sidpc@ille.example" and sidpc["role"] == "prefecture"
        analyst = bearer(config, "analyst", "departement:35")
        [seen] = client.get("/api/v1/people", params={"organisation": "prefecture.35"}, headers=analyst).json()
        assert seen["name"] == "Chef Sidpc" and seen["email"] is None and seen["phones"] is None
        assert client.get("/api/v1/people", params={"organisation": "mairie.29019"},
                          headers=mayor).status_code == 404
        nexsis = bearer(config, "nexsis", "national:FR")
        assert client.get("/api/v1/organisations", headers=nexsis).json() == []


def test_grants_and_revocations_by_the_parent_authority(services) -> None:
    with client_for(services) as (client, config):
        prefecture = bearer(config, "prefecture", "departement:35")
        body = {"organisation_id": "mairie.35238", "email": "Adjoint@Rennes.example", "name": "Paul Adjoint",
                "position": "Adjoint au maire", "phones": ["06 00 00 00 00"]}
        granted = client.post("/api/v1/habilitations", json=body, headers=prefecture)
        assert granted.status_code == 200, granted.text
        grant_id = granted.json()["grant_id"]
        assert services.directory.active(grant_id).email == "adjoint@rennes.example"
        other = client.post("/api/v1/habilitations", json={**body, "organisation_id": "mairie.29019"},
                            headers=prefecture)
        assert other.status_code == 403 and "habilitations" in other.json()["detail"]
        bad = client.post("/api/v1/habilitations", json={**body, "position": "Préfet"}, headers=prefecture)
        assert bad.status_code == 422 and "n'existe pas" in bad.json()["detail"]
        mayor = bearer(config, "mayor", "commune:35238")
        assert client.post(f"/api/v1/habilitations/{grant_id}/revocation", headers=mayor).status_code == 403
        # The dashboard's cookie never carries a write.
        client.cookies.set("tocsin_token", config.mint("prefecture", "departement:35"))
        assert client.post(f"/api/v1/habilitations/{grant_id}/revocation").status_code == 401
        client.cookies.clear()
        revoked = client.post(f"/api/v1/habilitations/{grant_id}/revocation", headers=prefecture)
        assert revoked.json() == {"grant_id": grant_id, "revoked": True}
        assert services.directory.active(grant_id) is None
        invited = client.post("/api/v1/invitations", headers=prefecture, json={
            "organisation_id": "sdis.35", "email": "codis@sdis35.example", "position": "Chef de salle CODIS"})
        assert invited.status_code == 200 and len(invited.json()["token"]) >= 40


def test_a_bearer_token_acts_for_its_seeded_organisation_and_the_access_log_says_so(services) -> None:
    raw = report_in(services.geography, RENNES, "fr.fire.test.dir-1")
    assert services.ingestor.ingest(Incoming(raw, "application/json")).status == "accepted"
    with client_for(services) as (client, config):
        assert client.get("/api/v1/cases/fr.fire.test.dir-1",
                          headers=bearer(config, "sdis", "departement:35")).status_code == 200
        [entry] = client.get("/api/v1/access-log", headers=bearer(config, "auditor", "national:FR")).json()
        assert entry["organisation_id"] == "sdis.35" and entry["grant_id"] is None
