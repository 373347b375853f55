"""A crisis's audit history: every act of the crisis workspace — the crisis's own, its log book's, its
situation reports', its requests' and its alerts to the population — is an event of the chain, read back
in the chain's order with who did it, for auditors only (`tocsin audit crisis`)."""

from __future__ import annotations

import pytest

from adapters.crisis.crises import attach_case, close_crisis, open_crisis
from adapters.crisis.logbook import write_entry, write_report
from adapters.crisis.population_alerts import draft
from adapters.crisis.requests import issue
from adapters.directory.recipients import DirectoryRecipients
from domain.access import ROLES, Principal
from domain.geography import Level
from replay.audit import verify as v
from replay.audit.history import crisis_audit_history
from replay.audit.keys import trusted_keys
from replay.audit.seals import journal_file

GUICHEN = "35126"
CONTENT = {"event": "Inondation", "headline": "Crue de la Vilaine", "description": "La Vilaine déborde.",
           "instruction": "Montez à l'étage.", "category": "Met", "urgency": "Immediate", "severity": "Severe",
           "certainty": "Observed"}


def test_every_act_of_a_crisis_is_in_its_audit_history_in_the_chains_order(services, settings, monkeypatch):
    services.ensure_directory()
    prefet = Principal("p.prefet", ROLES["prefecture"], Level.DEPARTEMENT, "35", services.geography,
                       name="Préfète", organisation_id="prefecture.35")
    maire = Principal("p.maire", ROLES["mayor"], Level.COMMUNE, GUICHEN, services.geography, name="Maire",
                      organisation_id=f"mairie.{GUICHEN}")
    recipients = DirectoryRecipients(services.directory)
    crisis = open_crisis(services.store, prefet, title="Crue de la Vilaine", kind="flood",
                         territory="departement:35")
    attach_case(services.store, crisis.id, prefet, "fr.fire.sis35.crue-1")
    write_entry(services.store, crisis.id, prefet, kind="decision", text="Ouverture du COD.", visibility="crisis")
    write_report(services.store, crisis.id, prefet, text="Point n° 1", figures={"cases_total": 1})
    request = issue(services.store, services.directory, recipients, prefet, to=f"mairie.{GUICHEN}",
                    kind="information", text="Combien de foyers évacués ?", deadline="1H", crisis_id=str(crisis.id))
    draft(services.store, services.geography, recipients, maire, insee=GUICHEN, content=CONTENT,
          crisis_id=str(crisis.id))
    close_crisis(services.store, crisis.id, prefet, "Décrue")

    with pytest.raises(PermissionError):
        crisis_audit_history(services.store, str(crisis.id), role="prefecture")
    history = crisis_audit_history(services.store, str(crisis.id), role="auditor")
    assert history is not None
    acts = [(e["part"], e["type"]) for e in history]
    assert acts == [
        ("crise", "Crisis.Opened"), ("crise", "Crisis.CaseAttached"),
        ("main courante", "LogBook.Opened"), ("main courante", "LogBook.EntryWritten"),
        ("points de situation", "SituationReports.Opened"), ("points de situation", "SituationReports.ReportWritten"),
        (f"demande {request.ref}", "Request.Issued"),
        ("alerte à la population", "PopulationAlert.Drafted"),
        ("crise", "Crisis.Closed"),
    ], acts
    assert [e["position"] for e in history] == sorted(e["position"] for e in history)
    by = {e["type"]: e["by"] for e in history}
    assert by["Crisis.Opened"]["name"] == "Préfète" and by["Crisis.Opened"]["organisation_id"] == "prefecture.35"
    assert by["PopulationAlert.Drafted"]["organisation_id"] == f"mairie.{GUICHEN}"
    assert all(e["chain"]["chain_hash"] for e in history)
    assert crisis_audit_history(services.store, "00000000-0000-0000-0000-000000000000", role="auditor") is None
    assert crisis_audit_history(services.store, "pas-une-crise", role="auditor") is None
    # The same events verify with the whole chain.
    report = v.verify_store(services.store, trusted_keys(settings.data_dir),
                            journal=journal_file(settings.data_dir, settings.schema))
    assert report.ok, report.summary()

    # The operator's command reads the same history.
    import typer
    from typer.testing import CliRunner

    from api.cli.replay import register

    monkeypatch.setattr("api.cli.replay.open_services_from_env", lambda: services)
    app = typer.Typer()
    register(app)
    shown = CliRunner().invoke(app, ["audit", "crisis", str(crisis.id)])
    assert shown.exit_code == 0, shown.output
    assert "crise v1 Crisis.Opened par Préfète (prefecture.35)" in shown.output
    assert f"demande {request.ref} v1 Request.Issued" in shown.output and "pas encore scellé" in shown.output
    assert CliRunner().invoke(app, ["audit", "crisis", "pas-une-crise"]).exit_code == 1
