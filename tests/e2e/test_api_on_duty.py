"""On-duty schedules over HTTP and the CLI: set by the organisation's own people or its parent authority,
refused to neighbours (unknown to those who do not see it), times read and shown in the territory's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from adapters.directory.use_cases import import_csv
from api import schemas
from domain.local_time import PARIS
from tests.support.api import bearer, client_for

CSV = """organisation_kind,territory,organisation_name,person_name,position,email,phone
mairie,commune:35238,,Maire Rennes,Maire,maire@rennes.example,
mairie,commune:35238,,Adjointe Rennes,Adjointe au maire,adjointe@rennes.example,
mairie,commune:35238,,Analyste Rennes,Analyste,analyste@rennes.example,
mairie,commune:29019,,Maire Brest,Maire,maire@brest.example,
"""


def local(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def test_the_mayor_sets_the_schedule_the_prefecture_sees_it_a_neighbour_cannot(services) -> None:
    import_csv(services, CSV)
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=12)
    with client_for(services) as (client, config):
        mayor = bearer(config, "mayor", "commune:35238")
        body = {"person": "Adjointe@Rennes.example", "start": local(start), "end": local(end)}
        set_ = client.post("/api/v1/organisations/mairie.35238/on-duty", json=body, headers=mayor)
        assert set_.status_code == 200, set_.text
        period = set_.json()
        assert set(period) <= set(schemas.DutyPeriodOut.model_fields)
        schemas.DutyPeriodOut.model_validate(period)
        assert period["name"] == "Adjointe Rennes" and "(heure de Paris)" in period["start_local"]
        assert datetime.fromisoformat(period["start"]) == start  # typed without offset: read in Paris time
        again = client.post("/api/v1/organisations/mairie.35238/on-duty", json=body, headers=mayor)
        assert again.json()["id"] == period["id"]  # the same period: nothing new
        prefecture = bearer(config, "prefecture", "departement:35")
        shown = client.get("/api/v1/organisations/mairie.35238/on-duty", headers=prefecture).json()
        assert shown["time_zone"] == "Europe/Paris" and shown["on_duty_now"] == []  # it starts in an hour
        assert [p["id"] for p in shown["periods"]] == [period["id"]]
        brest = bearer(config, "mayor", "commune:29019")
        assert client.get("/api/v1/organisations/mairie.35238/on-duty", headers=brest).status_code == 404
        assert client.post("/api/v1/organisations/mairie.35238/on-duty", json=body,
                           headers=brest).status_code == 404
        assert client.post(f"/api/v1/on-duty/{period['id']}/removal", headers=brest).status_code == 404
        sdis = bearer(config, "sdis", "departement:35")  # sees Rennes' mairie, does not keep its schedule
        assert client.post("/api/v1/organisations/mairie.35238/on-duty", json=body, headers=sdis).status_code == 403
        for bad, why in (({**body, "person": "analyste@rennes.example"}, "pas habilitée"),
                         ({**body, "end": body["start"]}, "doit suivre"),
                         ({**body, "start": "demain"}, "heure invalide")):
            refused = client.post("/api/v1/organisations/mairie.35238/on-duty", json=bad, headers=mayor)
            assert refused.status_code == 422 and why in refused.json()["detail"], refused.text
        removed = client.post(f"/api/v1/on-duty/{period['id']}/removal", headers=prefecture)
        assert removed.status_code == 200 and removed.json() == period
        assert client.get("/api/v1/organisations/mairie.35238/on-duty", headers=mayor).json()["periods"] == []


def test_the_cli_sets_shows_and_removes_a_period(services, monkeypatch) -> None:
    import typer

    from api.cli import directory

    import_csv(services, CSV)
    monkeypatch.setattr("api.cli.support.open_services_from_env", lambda: services)
    monkeypatch.setattr(services, "close", lambda: None)
    app = typer.Typer()
    directory.register(app)
    runner = CliRunner()
    now = datetime.now(UTC)
    done = runner.invoke(app, ["directory", "duty", "set", "mairie.35238", "adjointe@rennes.example",
                               "--from", local(now - timedelta(hours=1)), "--to", local(now + timedelta(hours=2))])
    assert done.exit_code == 0, done.output
    shown = runner.invoke(app, ["directory", "duty", "show", "mairie.35238"])
    assert "d'astreinte maintenant : Adjointe Rennes" in shown.output and "heure de Paris" in shown.output
    refused = runner.invoke(app, ["directory", "duty", "set", "mairie.35238", "maire@brest.example",
                                  "--from", local(now), "--to", local(now + timedelta(hours=1))])
    assert refused.exit_code == 1 and "pas habilitée" in refused.output
    period_id = done.output.split()[2]
    assert runner.invoke(app, ["directory", "duty", "remove", period_id]).exit_code == 0
    assert "personne (toute l'organisation est alertée)" in runner.invoke(
        app, ["directory", "duty", "show", "mairie.35238"]).output
