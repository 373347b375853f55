"""A crisis's log book and situation reports through the HTTP API, role by territory: who writes, who reads
which entry (an organisation's own entry stays in it; a crisis entry reaches everyone in the crisis), the
NexSIS messages of the crisis's cases with personal data for the roles that need it only, 404 outside the
perimeter, the exports read back, a past moment, a closed crisis."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime

from openpyxl import load_workbook
from pydantic import TypeAdapter

from adapters.ingest.ingestion import Incoming
from api import schemas
from domain.access import NAME_MASK
from tests.support.api import BREST, GUICHEN, RENNES, bearer, client_for, report_in

CASE = "fr.fire.test.rennes-1"


def _checked(model, body):
    """The body validates against its model, which names every field it has."""
    TypeAdapter(model).validate_python(body)
    fields = set(model.model_fields)
    assert set(body) <= fields, set(body) - fields
    return body


def test_the_log_book_by_role_and_territory(services):
    assert services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, CASE), "application/json")
                                    ).status == "accepted"
    with client_for(services) as (client, config):
        prefet = bearer(config, "prefecture", "departement:35")
        rennes = bearer(config, "mayor", f"commune:{RENNES}")
        guichen = bearer(config, "mayor", f"commune:{GUICHEN}")
        brest = bearer(config, "mayor", f"commune:{BREST}")
        analyst = bearer(config, "analyst", "departement:35")
        crisis = client.post("/api/v1/crises", json={"title": "Crue de la Vilaine", "kind": "other",
                                                     "territory": "departement:35"}, headers=prefet).json()
        cid = crisis["id"]
        assert client.post(f"/api/v1/crises/{cid}/cases", json={"case_id": CASE}, headers=prefet).status_code == 200
        log = f"/api/v1/crises/{cid}/log"

        own = client.post(log, json={"kind": "action", "text": "Gymnase ouvert", "case_ids": [CASE]}, headers=rennes)
        assert own.status_code == 200, own.text
        own_body = _checked(schemas.LogEntryItem, own.json())
        assert own_body["visibility"] == "organisation" and own_body["organisation_id"] == f"mairie.{RENNES}"
        assert own_body["source"] == "personne" and own_body["kind_label"] == "Action"
        shared = client.post(log, json={"kind": "information", "text": "Route D177 coupée", "visibility": "crisis"},
                             headers=rennes).json()
        between = datetime.now(UTC)
        time.sleep(0.05)
        fixed = client.post(log, json={"kind": "information", "text": "Route D177 rouverte à 20 h",
                                       "amends": shared["id"]}, headers=rennes).json()
        assert fixed["amends"] == shared["id"] and fixed["visibility"] == "crisis"

        # Bad input: clear French 422; writing is for the organisations acting in the crisis.
        for body in ({"kind": "rumeur", "text": "x"}, {"kind": "action", "text": "  "},
                     {"kind": "action", "text": "x", "visibility": "public"},
                     {"kind": "action", "text": "x", "amends": "99"}):
            refused = client.post(log, json=body, headers=rennes)
            assert refused.status_code == 422 and refused.json()["detail"], body
        assert client.post(log, json={"kind": "action", "text": "x"}, headers=analyst).status_code == 403
        # Outside the crisis's perimeter: the same 404 as an unknown crisis, on every route.
        unknown = "/api/v1/crises/00000000-0000-0000-0000-000000000000"
        for path in (log, f"{log}.csv", f"{log}.xlsx", f"{log}.html", f"/api/v1/crises/{cid}/reports",
                     f"{unknown}/log"):
            assert client.get(path, headers=brest).status_code == 404, path
        assert client.post(log, json={"kind": "action", "text": "x"}, headers=brest).status_code == 404
        assert client.post(f"/api/v1/crises/{cid}/reports", json={"text": "x"}, headers=brest).status_code == 404

        def read(headers: dict, **params: str) -> list[dict]:
            answer = client.get(log, headers=headers, params=params)
            assert answer.status_code == 200, answer.text
            body = _checked(schemas.LogList, answer.json())
            assert body["time_zone"] == "Europe/Paris"
            return [_checked(schemas.LogEntryItem, i) for i in body["items"]]

        def people(items: list[dict]) -> list[str]:
            return [i["text"] for i in items if i["source"] == "personne"]

        # The mairie reads its own entry; another mairie of the département and the prefecture do not.
        assert people(read(rennes)) == ["Gymnase ouvert", "Route D177 coupée", "Route D177 rouverte à 20 h"]
        assert people(read(guichen)) == ["Route D177 coupée", "Route D177 rouverte à 20 h"]
        assert people(read(prefet)) == ["Route D177 coupée", "Route D177 rouverte à 20 h"]
        assert [i["amended_by"] for i in read(prefet) if i["id"] == shared["id"]] == [[fixed["id"]]]
        # The NexSIS messages of the case: the mayor of its commune reads them with names masked, the
        # prefecture whole, the mayor of another commune not at all (the case is outside its perimeter).
        nexsis_mayor = [i for i in read(rennes) if i["source"] == "nexsis"]
        nexsis_prefet = [i for i in read(prefet) if i["source"] == "nexsis"]
        assert nexsis_mayor and nexsis_mayor[0]["case_ids"] == [CASE] and nexsis_mayor[0]["kind_label"]
        assert NAME_MASK in nexsis_mayor[0]["text"] and "LECCIA" not in nexsis_mayor[0]["text"]
        assert "LECCIA" in nexsis_prefet[0]["text"]
        assert not [i for i in read(guichen) if i["source"] == "nexsis"]
        # As it stood before the correction.
        assert people(read(rennes, at=between.isoformat())) == ["Gymnase ouvert", "Route D177 coupée"]
        assert client.get(log, headers=rennes, params={"at": "2026-12-07T10:00:00"}).status_code == 422

        # Exports, read back: what the reader may see, times in the crisis's zone with the zone stated.
        exported = client.get(f"{log}.csv", headers=guichen)
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][0] == "Heure (heure de Paris)"
        assert [r[6] for r in rows[1:] if r[1] == "Main courante"] == ["Route D177 coupée",
                                                                       "Route D177 rouverte à 20 h"]
        sheet = load_workbook(io.BytesIO(client.get(f"{log}.xlsx", headers=rennes).content)).active
        assert sheet is not None
        texts = [row[6] for row in sheet.iter_rows(min_row=4, values_only=True)]
        assert "Gymnase ouvert" in texts
        page = client.get(f"{log}.html", headers=prefet)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Toutes les heures sont en heure de Paris" in page.text and "Gymnase ouvert" not in page.text

        # Situation reports: numbered per organisation, figures frozen, in order, read by all in the crisis.
        reports = f"/api/v1/crises/{cid}/reports"
        first = client.post(reports, json={"text": "Deux routes coupées"}, headers=rennes)
        assert first.status_code == 200, first.text
        assert _checked(schemas.ReportItem, first.json())["number"] == 1
        assert client.post(reports, json={"text": "COD activé"}, headers=prefet).json()["number"] == 1
        second = client.post(reports, json={"text": "Décrue", "request_id": "prefecture.35.request.1"},
                             headers=rennes).json()
        assert second["number"] == 2 and second["request_id"] == "prefecture.35.request.1"
        assert client.post(reports, json={"text": " "}, headers=rennes).status_code == 422
        listed = _checked(schemas.ReportList, client.get(reports, headers=guichen).json())
        assert [(r["organisation_id"], r["number"]) for r in listed["items"]] == [
            (f"mairie.{RENNES}", 1), ("prefecture.35", 1), (f"mairie.{RENNES}", 2)]
        assert listed["items"][0]["figures"]["cases_total"] == 1 and "families" in listed["items"][0]["figures"]
        page = client.get(f"{log}.html", headers=prefet).text
        assert "Points de situation" in page and "Deux routes coupées" in page and "Décrue" in page

        # A closed crisis accepts no entry nor report.
        client.post(f"/api/v1/crises/{cid}/close", json={}, headers=prefet)
        assert client.post(log, json={"kind": "action", "text": "x"}, headers=rennes).status_code == 409
        assert client.post(reports, json={"text": "x"}, headers=rennes).status_code == 409
        assert len(read(rennes)) >= 4


def test_an_organisation_keeps_its_own_log_book_outside_any_crisis(services):
    with client_for(services) as (client, config):
        rennes = bearer(config, "mayor", f"commune:{RENNES}")
        guichen = bearer(config, "mayor", f"commune:{GUICHEN}")
        analyst = bearer(config, "analyst", "departement:35")
        first = client.post("/api/v1/log", json={"kind": "information", "text": "Astreinte : M. Martin"},
                            headers=rennes)
        assert first.status_code == 200, first.text
        fixed = client.post("/api/v1/log", json={"kind": "information", "text": "Astreinte : Mme Durand",
                                                 "amends": first.json()["id"]}, headers=rennes).json()
        assert fixed["amends"] == first.json()["id"] and fixed["visibility"] == "organisation"
        assert client.post("/api/v1/log", json={"kind": "information", "text": "x", "visibility": "crisis"},
                           headers=rennes).status_code == 422
        assert client.post("/api/v1/log", json={"kind": "information", "text": "x"}, headers=analyst
                           ).status_code == 403
        assert client.get("/api/v1/log", headers=analyst).status_code == 403  # acts for no organisation
        mine = _checked(schemas.OwnLogList, client.get("/api/v1/log", headers=rennes).json())
        assert mine["organisation_id"] == f"mairie.{RENNES}" and mine["time_zone"] == "Europe/Paris"
        assert [i["text"] for i in mine["items"]] == ["Astreinte : M. Martin", "Astreinte : Mme Durand"]
        assert mine["items"][0]["amended_by"] == [fixed["id"]]
        assert client.get("/api/v1/log", headers=guichen).json()["items"] == []
