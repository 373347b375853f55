"""The OpenAPI document says what each public route returns, and the routes return what it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypeForm

from adapters.ingest.ingestion import Incoming
from api import schemas
from tests.support.api import BREST, RENNES, bearer, client_for, report_in
from tests.support.wire import as_json, example, wire

CASES = {RENNES: "fr.fire.test.rennes-1", BREST: "fr.fire.test.brest-1"}

# Every public JSON route: its response model, and the request that exercises it.
AT = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
ROUTES: list[tuple[str, str, TypeForm[Any], str, dict]] = [
    ("get", "/api/v1/me", schemas.Me, "/api/v1/me", {}),
    ("get", "/api/v1/feed", schemas.FeedState, "/api/v1/feed", {}),
    ("get", "/api/v1/territories", list[schemas.Territory], "/api/v1/territories", {"q": "Rennes"}),
    ("get", "/api/v1/territories/{level}/{code}", schemas.TerritoryDetail, "/api/v1/territories/departement/35", {}),
    ("get", "/api/v1/territories/{level}/{code}/map", schemas.FeatureCollection,
     "/api/v1/territories/commune/35238/map", {}),
    ("get", "/api/v1/views/{level}/{code}", schemas.TerritoryView, "/api/v1/views/national/FR", {}),
    ("get", "/api/v1/views/{level}/{code}/children", list[schemas.ChildCount], "/api/v1/views/zone/ouest/children",
     {}),
    ("get", "/api/v1/cases", schemas.CasePage, "/api/v1/cases", {}),
    ("get", "/api/v1/cases/{case_id}", schemas.CaseDetail, f"/api/v1/cases/{CASES[RENNES]}", {}),
    ("get", "/api/v1/nexsis/requests", schemas.NexsisRequestPage, "/api/v1/nexsis/requests", {}),
    ("get", "/api/v1/access-log", list[schemas.AccessLogEntry], "/api/v1/access-log", {}),
    ("get", "/api/v1/quarantine", list[schemas.QuarantineEntry], "/api/v1/quarantine", {"all": "true"}),
    ("get", "/api/v1/replay/views/{level}/{code}", schemas.ReplayedView, "/api/v1/replay/views/national/FR",
     {"at": AT}),
    ("get", "/api/v1/replay/timeline", schemas.Timeline, "/api/v1/replay/timeline",
     {"territory": "zone:ouest", "from": "2020-01-01T00:00:00+00:00", "to": AT, "interval": "30j"}),
    ("post", "/api/v1/messages", schemas.Acknowledgement, "/api/v1/messages", {}),
    ("get", "/api/v1/organisations", list[schemas.OrganisationOut], "/api/v1/organisations",
     {"territory": "departement:35"}),
    ("post", "/api/v1/habilitations", schemas.GrantOut, "/api/v1/habilitations",
     {"organisation_id": "coz.ouest", "email": "officier@coz.example", "name": "Officier", "position": "Officier COZ"}),
    ("get", "/api/v1/people", list[schemas.PersonOut], "/api/v1/people", {"organisation": "coz.ouest"}),
    ("post", "/api/v1/habilitations/{grant_id}/revocation", schemas.RevocationOut,
     "/api/v1/habilitations/{grant_id}/revocation", {}),
    ("post", "/api/v1/invitations", schemas.InvitationOut, "/api/v1/invitations",
     {"organisation_id": "coz.ouest", "email": "autre@coz.example", "position": "Officier COZ"}),
    ("get", "/api/v1/alerts", schemas.AlertList, "/api/v1/alerts", {}),
    # Acknowledging needs an alert: its response is checked against AckResult in tests/e2e/test_alerts.py.
    ("post", "/api/v1/alerts/{alert_id}/ack", schemas.AckResult, "", {}),
    ("get", "/api/v1/callouts", schemas.CallOutList, "/api/v1/callouts", {}),
    # Launching and answering need a directory: checked against their models in tests/e2e/test_callouts.py.
    ("post", "/api/v1/callouts", schemas.CallOutItem, "", {}),
    ("get", "/api/v1/callouts/{callout_id}", schemas.CallOutItem, "", {}),
    ("post", "/api/v1/callouts/{callout_id}/answers", schemas.CallOutItem, "", {}),
    ("get", "/api/v1/population-alerts", schemas.PopulationAlertList, "/api/v1/population-alerts", {}),
    # Drafting and deciding need an alert: checked against their models in tests/e2e/test_population_alerts.py.
    ("post", "/api/v1/population-alerts", schemas.PopulationAlertDetail, "", {}),
    ("get", "/api/v1/population-alerts/{alert_id}", schemas.PopulationAlertDetail, "", {}),
    ("post", "/api/v1/population-alerts/{alert_id}/approve", schemas.PopulationAlertDetail, "", {}),
    ("post", "/api/v1/population-alerts/{alert_id}/refuse", schemas.PopulationAlertDetail, "", {}),
    ("post", "/api/v1/population-alerts/{alert_id}/update", schemas.PopulationAlertDetail, "", {}),
    ("post", "/api/v1/population-alerts/{alert_id}/cancel", schemas.PopulationAlertDetail, "", {}),
    ("post", "/api/v1/population-alerts/{alert_id}/publish", schemas.PopulationAlertDetail, "", {}),
    ("get", "/api/v1/crises", schemas.CrisisList, "/api/v1/crises", {}),
    # An organisation's alert settings: checked against their model in tests/e2e/test_api_alert_settings.py.
    ("get", "/api/v1/organisations/{organisation_id}/alert-rules", schemas.AlertSettingsOut, "", {}),
    ("put", "/api/v1/organisations/{organisation_id}/alert-rules", schemas.AlertSettingsOut, "", {}),
    # The crises' acts: checked against their models in tests/e2e/test_api_crises.py.
    ("post", "/api/v1/crises", schemas.CrisisItem, "", {}),
    ("get", "/api/v1/crises/{crisis_id}", schemas.CrisisItem, "", {}),
    ("post", "/api/v1/crises/{crisis_id}/close", schemas.CrisisItem, "", {}),
    ("post", "/api/v1/crises/{crisis_id}/cases", schemas.CrisisItem, "", {}),
    ("post", "/api/v1/crises/{crisis_id}/cases/{case_id}/detach", schemas.CrisisItem, "", {}),
    # The log book and situation reports: checked against their models in tests/e2e/test_api_logbook.py.
    ("post", "/api/v1/crises/{crisis_id}/log", schemas.LogEntryItem, "", {}),
    ("get", "/api/v1/crises/{crisis_id}/log", schemas.LogList, "", {}),
    ("post", "/api/v1/crises/{crisis_id}/reports", schemas.ReportItem, "", {}),
    ("get", "/api/v1/crises/{crisis_id}/reports", schemas.ReportList, "", {}),
    ("post", "/api/v1/log", schemas.LogEntryItem, "", {}),
    ("get", "/api/v1/log", schemas.OwnLogList, "", {}),
    # A crisis's view: checked against its model in tests/e2e/test_api_crisis_view.py.
    ("get", "/api/v1/crises/{crisis_id}/view", schemas.CrisisView, "", {}),
    ("get", "/api/v1/organisations/{organisation_id}/on-duty", schemas.DutyScheduleOut,
     "/api/v1/organisations/coz.ouest/on-duty", {}),
    # Setting and removing a period need people: checked against their model in tests/e2e/test_api_on_duty.py.
    ("post", "/api/v1/organisations/{organisation_id}/on-duty", schemas.DutyPeriodOut, "", {}),
    ("post", "/api/v1/on-duty/{period_id}/removal", schemas.DutyPeriodOut, "", {}),
    ("get", "/api/v1/push/key", schemas.PushKeyOut, "/api/v1/push/key", {}),
    # Subscribing needs a directory person: checked in tests/e2e/test_api_push_subscriptions.py.
    ("post", "/api/v1/push/subscriptions", schemas.PushSubscriptionOut, "", {}),
    ("post", "/api/v1/push/subscriptions/removal", schemas.PushSubscriptionOut, "", {}),
    ("get", "/api/v1/replay/requests", schemas.RequestList, "", {}),  # tests/e2e/test_api_requests.py
    ("get", "/api/v1/requests", schemas.RequestList, "/api/v1/requests", {"box": "outbox"}),
    # The requests' acts: checked against their models in tests/e2e/test_api_requests.py.
    ("post", "/api/v1/requests", schemas.RequestItem, "", {}),
    ("get", "/api/v1/requests/{request_id}", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/answer", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/cancel", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/progress", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/done", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/close", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/info-asked", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/info-given", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/escalate", schemas.RequestItem, "", {}),
    ("post", "/api/v1/requests/{request_id}/return", schemas.RequestItem, "", {}),
]


def _model(response_type: TypeForm[Any]) -> type[BaseModel]:
    """The pydantic model of a response type: the type itself, or the item type of a list."""
    inner = getattr(response_type, "__args__", (response_type,))[0]
    assert isinstance(inner, type) and issubclass(inner, BaseModel)
    return inner


@pytest.fixture
def world(services):
    for i, (insee, case_id) in enumerate(CASES.items()):
        raw = report_in(services.geography, insee, case_id, seed=i)
        assert services.ingestor.ingest(Incoming(raw, "application/json")).status == "accepted"
    kind, use_case = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    use_case["qualification"]["whatsHappen"] = "incendie"  # an object in the schema: into the quarantine
    assert services.ingestor.ingest(Incoming(as_json(wire(kind, use_case)), "application/json")).status == "quarantined"
    with client_for(services) as (client, config):
        yield client, config


def test_each_public_route_documents_its_200_response_model(world):
    client, _ = world
    spec = client.get("/openapi.json").json()
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    json_routes = {(method, path) for method, path, *_ in ROUTES}
    # Every documented route is listed here (aside: the live stream, server-sent events, the after-action
    # report, an HTML page to download, and the log book's exports).
    exports = {("get", f"/api/v1/crises/{{crisis_id}}/log.{fmt}") for fmt in ("csv", "xlsx", "html")}
    assert documented - json_routes == {("get", "/api/v1/stream"), ("get", "/api/v1/replay/report"), *exports}
    assert list(spec["paths"]["/api/v1/replay/report"]["get"]["responses"]["200"]["content"]) == ["text/html"]
    for method, path, model, _, _ in ROUTES:
        ok = spec["paths"][path][method]["responses"]["200"]
        [(media_type, content)] = [(m, c) for m, c in ok["content"].items() if "schema" in c]
        assert media_type in ("application/json", "application/geo+json"), path
        schema = content["schema"]
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        assert ref == f"#/components/schemas/{_model(model).__name__}", (path, schema)
        assert "type" not in schema or schema["type"] == "array", (path, schema)


def test_each_public_route_returns_what_its_model_says(world, services):
    client, config = world
    national = bearer(config, "national", "national:FR")
    auditor = bearer(config, "auditor", "national:FR")
    nexsis = bearer(config, "nexsis", "national:FR")
    client.get(f"/api/v1/cases/{CASES[RENNES]}", headers=national)  # one read in the access log
    message = as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")))
    checked_rows = 0
    granted = ""
    for method, path, model, url, params in ROUTES:
        if not url:
            continue
        if path == "/api/v1/messages":
            response = client.post(url, content=message, headers={"content-type": "application/json", **nexsis})
        elif method == "post":  # the directory's: a grant (its people read next), its revocation, an invitation
            response = client.post(url.format(grant_id=granted), json=params or None, headers=national)
        else:
            headers = auditor if path.startswith(("/api/v1/access-log", "/api/v1/quarantine")) else national
            response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        assert body, url  # something to check
        if path == "/api/v1/habilitations":
            granted = body["grant_id"]
        TypeAdapter(model).validate_python(body)
        # The model names every field the route returns (no undocumented field).
        fields = {f.alias or name for name, f in _model(model).model_fields.items()}
        for item in body if isinstance(body, list) else [body]:
            assert set(item) <= fields, (url, set(item) - fields)
        rows: list[dict] = []
        if isinstance(body, dict):
            rows = body["items"] if "items" in body else body.get("most_serious", [])
            if path in ("/api/v1/alerts", "/api/v1/callouts", "/api/v1/nexsis/requests"):
                continue  # not case rows: validated with the page's model above
        for row in rows:  # the case rows of a list page and of a view
            assert set(row) <= set(schemas.CaseRow.model_fields), (url, set(row) - set(schemas.CaseRow.model_fields))
            checked_rows += 1
    assert checked_rows >= 2 * len(CASES)  # the case list's and the national view's
