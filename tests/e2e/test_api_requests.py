"""Requests between authorities through the HTTP API: who may address whom, who sees a request (and who
gets a 404, like an unknown one), the lifecycle's acts and who may do each, the crisis they belong to; each
act an event of the request's stream, and the notice it raises an alert of mobilisation."""

from __future__ import annotations

from uuid import UUID

from pydantic import TypeAdapter

from adapters.crisis.requests import requests_of_crisis
from adapters.notify import alert_store
from api import schemas
from domain.identity import request_uuid
from tests.support.api import bearer, client_for

ASK = {"to": "mairie.35238", "kind": "information", "text": "Point de situation sur la crue", "deadline": "1H"}


def test_who_may_address_whom(services):
    with client_for(services) as (client, config):
        prefet = bearer(config, "prefecture", "departement:35")
        mayor = bearer(config, "mayor", "commune:35238")
        # Inside the issuer's territory, its parent territory's organisations, its parent authority: allowed.
        for headers, to, kind in ((prefet, "mairie.35238", "information"), (prefet, "sdis.35", "means"),
                                  (prefet, "coz.ouest", "means"), (mayor, "prefecture.35", "population_alert"),
                                  (mayor, "sdis.35", "information"),
                                  (bearer(config, "zone", "zone:ouest"), "prefecture.35", "action"),
                                  (bearer(config, "zone", "zone:ouest"), "cogic.FR", "means")):
            sent = client.post("/api/v1/requests", json={**ASK, "to": to, "kind": kind}, headers=headers)
            assert sent.status_code == 200, (to, sent.text)
        # Outside: another département's mairie, a neighbouring mairie, an SDIS asked for means by a mayor,
        # a role that acts for no organisation, oneself; unknown organisation, kind, deadline: 422.
        for headers, to, kind in ((prefet, "mairie.29019", "information"), (mayor, "mairie.35047", "information"),
                                  (mayor, "sdis.35", "means"), (mayor, "coz.ouest", "means"),
                                  (bearer(config, "analyst", "departement:35"), "mairie.35238", "information"),
                                  (prefet, "prefecture.35", "information")):
            refused = client.post("/api/v1/requests", json={**ASK, "to": to, "kind": kind}, headers=headers)
            assert refused.status_code == 403, (to, kind, refused.text)
        for body in ({**ASK, "to": "mairie.99999"}, {**ASK, "kind": "pizza"}, {**ASK, "deadline": "3J"},
                     {**ASK, "deadline": "2020-01-01T00:00:00+00:00"}, {**ASK, "text": " "}):
            assert client.post("/api/v1/requests", json=body, headers=prefet).status_code == 422, body

        # Numbered per issuing organisation.
        outbox = client.get("/api/v1/requests?box=outbox", headers=prefet).json()["items"]
        assert sorted(r["id"] for r in outbox) == [f"prefecture.35.request.{n}" for n in (1, 2, 3)]
        assert client.get("/api/v1/requests?box=outbox", headers=mayor).json()["items"][0]["id"] \
            == "mairie.35238.request.2"


def test_a_request_goes_through_its_lifecycle_and_stays_within_its_parties(services):
    with client_for(services) as (client, config):
        prefet = bearer(config, "prefecture", "departement:35")
        mayor = bearer(config, "mayor", "commune:35238")
        crisis = client.post("/api/v1/crises", json={"title": "Crue", "kind": "flood", "territory": "departement:35"},
                             headers=prefet).json()
        sent = client.post("/api/v1/requests", json={**ASK, "crisis_id": crisis["id"]}, headers=prefet)
        assert sent.status_code == 200, sent.text
        request = TypeAdapter(schemas.RequestItem).validate_python(sent.json())
        assert request.status == "issued" and request.status_label == "émise" and request.due_at
        assert request.time_zone == "Europe/Paris" and request.crisis_id == crisis["id"]

        # The addressee's people are alerted (rule `demande`, subject `demande:<id>`).
        alerts = {a.subject: a for a in alert_store.recent_alerts(services.store)}
        assert alerts[f"demande:{request.id}"].organisation_id == "mairie.35238"
        assert alerts[f"demande:{request.id}"].details["request_id"] == request.id

        # Outside the parties and their authorities: the same 404 as an unknown request, on every route.
        outsiders = (bearer(config, "mayor", "commune:35047"), bearer(config, "prefecture", "departement:29"),
                     bearer(config, "sdis", "departement:35"))
        for headers in outsiders:
            assert client.get(f"/api/v1/requests/{request.id}", headers=headers).status_code == 404
            assert client.get("/api/v1/requests", headers=headers).json()["items"] == []
            for what in ("answer", "cancel", "progress", "done", "close", "info-asked", "escalate"):
                body = {"answer": "ACCEPTEE"} if what == "answer" else {"text": "x"}
                assert client.post(f"/api/v1/requests/{request.id}/{what}", json=body, headers=headers
                                   ).status_code == 404, what
        assert client.get("/api/v1/requests/prefecture.35.request.99", headers=prefet).status_code == 404
        assert client.get("/api/v1/requests/pas-une-demande", headers=prefet).status_code == 404
        # Authorities above the parties see it; they do not answer for them.
        zone = bearer(config, "zone", "zone:ouest")
        assert client.get(f"/api/v1/requests/{request.id}", headers=zone).json()["status"] == "issued"
        assert client.post(f"/api/v1/requests/{request.id}/answer", json={"answer": "ACCEPTEE"}, headers=zone
                           ).status_code == 403

        # The issuer opening it records nothing; the addressee's first opening records « seen ».
        assert client.get(f"/api/v1/requests/{request.id}", headers=prefet).json()["seen_at"] is None
        seen = client.get(f"/api/v1/requests/{request.id}", headers=mayor).json()
        assert seen["status"] == "seen" and seen["seen_at"] and [h["act"] for h in seen["history"]] == [
            "issued", "seen"]
        assert client.get("/api/v1/requests?box=inbox", headers=mayor).json()["items"][0]["id"] == request.id
        assert client.get(f"/api/v1/requests?crisis_id={crisis['id']}", headers=mayor).json()["items"][0][
            "id"] == request.id

        # Only the addressee answers; a refusal needs a reason, a partial answer a deadline.
        url = f"/api/v1/requests/{request.id}"
        assert client.post(url + "/answer", json={"answer": "ACCEPTEE"}, headers=prefet).status_code == 403
        assert client.post(url + "/answer", json={"answer": "REFUSEE"}, headers=mayor).status_code == 422
        assert client.post(url + "/answer", json={"answer": "PARTIELLE"}, headers=mayor).status_code == 422
        assert client.post(url + "/answer", json={"answer": "OUI"}, headers=mayor).status_code == 422
        assert client.post(url + "/close", json={}, headers=prefet).status_code == 409  # not done yet
        asked = client.post(url + "/info-asked", json={"text": "Quelles rues ?"}, headers=mayor).json()
        assert asked["status"] == "info_asked"
        assert client.post(url + "/info-given", json={"text": "Quai Lamennais"}, headers=mayor).status_code == 403
        assert client.post(url + "/info-given", json={"text": "Quai Lamennais"}, headers=prefet
                           ).json()["status"] == "seen"
        answered = client.post(url + "/answer", json={"answer": "ACCEPTEE", "comment": "Point à 15 h"},
                               headers=mayor)
        assert answered.status_code == 200, answered.text
        assert answered.json()["answer"]["answer"] == "ACCEPTEE" and answered.json()["status_label"] == "acceptée"
        assert client.post(url + "/cancel", json={}, headers=mayor).status_code == 403  # only the issuer
        assert client.post(url + "/progress", json={}, headers=prefet).status_code == 403  # only the addressee
        assert client.post(url + "/progress", json={}, headers=mayor).json()["status"] == "in_progress"
        assert client.post(url + "/done", json={"text": "Envoyé"}, headers=mayor).json()["status"] == "done"
        closed = client.post(url + "/close", json={}, headers=prefet).json()
        assert closed["status"] == "closed"
        # Final: nothing more.
        for what in ("cancel", "done", "close"):
            assert client.post(url + "/" + what, json={}, headers=prefet).status_code in (403, 409), what
        assert client.post(url + "/cancel", json={}, headers=prefet).status_code == 409

        # The issuer was told of the answer (an alert to its organisation).
        told = [a for a in alert_store.recent_alerts(services.store) if a.subject.startswith(
            f"demande:{request.id}:answer:")]
        assert [a.organisation_id for a in told] == ["prefecture.35"]

        # Each act is in the crisis's log book, for those who may see the request.
        book = client.get(f"/api/v1/crises/{crisis['id']}/log", headers=prefet).json()["items"]
        acts = [i for i in book if i["source"] == "demande"]
        assert [i["details"]["act"] for i in acts] == ["issued", "seen", "info_asked", "info_given", "answered",
                                                       "started", "done", "closed"]
        assert "réponse : acceptée : Point à 15 h" in acts[4]["text"] and acts[4]["kind_label"] == "Demande"
        neighbour = client.get(f"/api/v1/crises/{crisis['id']}/log", headers=bearer(config, "mayor", "commune:35047"))
        assert neighbour.status_code == 200 and not [i for i in neighbour.json()["items"] if i["source"] == "demande"]

        # A closed crisis accepts no new request.
        assert client.post(f"/api/v1/crises/{crisis['id']}/close", json={}, headers=prefet).status_code == 200
        assert client.post("/api/v1/requests", json={**ASK, "crisis_id": crisis["id"]}, headers=prefet
                           ).status_code == 409
        assert client.post("/api/v1/requests", json={**ASK, "crisis_id": crisis["id"]},
                           headers=bearer(config, "prefecture", "departement:29")).status_code == 404

    assert [r.ref for r in requests_of_crisis(services.store, crisis["id"])] == [request.id]
    recorded = services.store.events.get(UUID(request.uuid))
    assert [type(e).__name__ for e in recorded] == ["Issued", "Seen", "InfoAsked", "InfoGiven", "Answered",
                                                    "Started", "Done", "Closed"]
    assert UUID(request.uuid) == request_uuid(request.id)


def test_escalated_to_the_parent_authority_and_back_one_owner_at_a_time(services):
    with client_for(services) as (client, config):
        mayor = bearer(config, "mayor", "commune:35238")
        prefet = bearer(config, "prefecture", "departement:35")
        zone = bearer(config, "zone", "zone:ouest")
        sent = client.post("/api/v1/requests", json={"to": "prefecture.35", "kind": "means", "text": "Pompes",
                                                     "deadline": "2H"}, headers=mayor).json()
        url = f"/api/v1/requests/{sent['id']}"
        assert client.post(url + "/escalate", json={}, headers=mayor).status_code == 403  # not the owner
        up = client.post(url + "/escalate", json={"text": "Moyens zonaux"}, headers=prefet).json()
        assert up["owner_organisation_id"] == "coz.ouest" and up["to_organisation_id"] == "prefecture.35"
        # One owner: the préfecture no longer answers, the zone does.
        assert client.post(url + "/answer", json={"answer": "ACCEPTEE"}, headers=prefet).status_code == 403
        assert client.get("/api/v1/requests?box=inbox", headers=zone).json()["items"][0]["id"] == sent["id"]
        back = client.post(url + "/return", json={"text": "Moyens départementaux suffisants"}, headers=zone).json()
        assert back["owner_organisation_id"] == "prefecture.35"
        assert client.post(url + "/return", json={}, headers=prefet).status_code == 409
        partial = client.post(url + "/answer", json={"answer": "PARTIELLE", "comment": "2 pompes sur 4",
                                                      "deadline": "2099-01-01T12:00:00+01:00"}, headers=prefet).json()
        assert partial["status"] == "partial" and partial["due_at"].startswith("2099-01-01T11:00")
        acts = [h["act"] for h in client.get(url, headers=mayor).json()["history"]]
        assert acts == ["issued", "seen", "escalated", "returned", "answered"]
        cancelled = client.post(url + "/cancel", json={"text": "Décrue"}, headers=mayor).json()
        assert cancelled["status"] == "cancelled" and cancelled["status_label"] == "annulée"


def test_a_crisis_requests_replayed_as_they_stood_and_their_delays_in_the_report(services):
    import time
    from datetime import UTC, datetime, timedelta

    with client_for(services) as (client, config):
        prefet = bearer(config, "prefecture", "departement:35")
        mayor = bearer(config, "mayor", "commune:35238")
        national = bearer(config, "national", "national:FR")
        start = datetime.now(UTC) - timedelta(minutes=1)
        crisis = client.post("/api/v1/crises", json={"title": "Crue", "kind": "flood", "territory": "departement:35"},
                             headers=prefet).json()
        sent = client.post("/api/v1/requests", json={**ASK, "crisis_id": crisis["id"]}, headers=prefet).json()
        client.get(f"/api/v1/requests/{sent['id']}", headers=mayor)  # seen
        time.sleep(0.05)
        between = datetime.now(UTC)
        time.sleep(0.05)
        client.post(f"/api/v1/requests/{sent['id']}/answer", json={"answer": "ACCEPTEE"}, headers=mayor)

        def replayed(at: datetime, headers: dict) -> list[dict]:
            got = client.get("/api/v1/replay/requests", params={"crisis_id": crisis["id"], "at": at.isoformat()},
                             headers=headers)
            assert got.status_code == 200, got.text
            return TypeAdapter(schemas.RequestList).validate_python(got.json()).model_dump()["items"]

        [then] = replayed(between, national)
        assert then["status"] == "seen" and [h["act"] for h in then["history"]] == ["issued", "seen"]
        assert replayed(start, national) == []
        [now] = replayed(datetime.now(UTC), national)
        assert now["status"] == "accepted"
        # Replay is for the roles that replay, within their perimeter.
        assert client.get("/api/v1/replay/requests", params={"crisis_id": crisis["id"], "at": between.isoformat()},
                          headers=prefet).status_code == 403
        elsewhere = bearer(config, "analyst", "departement:29")
        assert client.get("/api/v1/replay/requests", params={"crisis_id": crisis["id"], "at": between.isoformat()},
                          headers=elsewhere).status_code == 404

        report = client.get("/api/v1/replay/report", headers=national, params={
            "territory": "departement:35", "from": start.isoformat(), "to": datetime.now(UTC).isoformat()})
        assert report.status_code == 200, report.text
        assert "Demandes entre autorités : délais" in report.text and sent["id"] in report.text
        assert "Émission → réponse" in report.text


def test_request_events_reach_the_live_stream_of_its_parties_only(services):
    import threading

    import httpx

    from tests.e2e.test_alerts import _collect, wait_for
    from tests.support.api import LiveServer

    with LiveServer(services) as server:
        tokens = {"prefecture-35": bearer(server.config, "prefecture", "departement:35"),
                  "mayor-rennes": bearer(server.config, "mayor", "commune:35238"),
                  "mayor-betton": bearer(server.config, "mayor", "commune:35024"),
                  "sdis-35": bearer(server.config, "sdis", "departement:35")}
        received: dict[str, list] = {name: [] for name in tokens}
        stop = threading.Event()
        for name, headers in tokens.items():
            ready = threading.Event()
            threading.Thread(target=_collect, args=(server.url + "/api/v1/stream", headers, received[name], ready,
                                                    stop), daemon=True).start()
            assert ready.wait(10)
        with httpx.Client(base_url=server.url) as client:
            sent = client.post("/api/v1/requests", json=ASK, headers=tokens["prefecture-35"]).json()
            client.post(f"/api/v1/requests/{sent['id']}/answer", json={"answer": "DIFFEREE", "comment": "Ce soir"},
                        headers=tokens["mayor-rennes"])

        def answered(name: str) -> bool:
            return any(e == "request" and d["status"] == "deferred" for e, d in received[name])

        wait_for(lambda: answered("prefecture-35") and answered("mayor-rennes"))
        stop.set()
        [seen] = [d for e, d in received["prefecture-35"] if e == "request" and d["status"] == "deferred"]
        assert seen["answer"]["comment"] == "Ce soir" and seen["id"] == sent["id"]
        for outsider in ("mayor-betton", "sdis-35"):
            assert not [e for e, _ in received[outsider] if e == "request"], outsider
