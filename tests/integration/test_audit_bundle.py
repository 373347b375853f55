"""Audit bundles verified with no database, the auditor's case history, and the `tocsin audit` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from adapters.ingest.ingestion import Incoming
from adapters.nats import gaps as stream_gaps
from api.cli.replay import register
from domain.identity import case_uuid
from replay.audit.bundle import export_bundle, territory_originators
from replay.audit.bundle_check import verify_bundle
from replay.audit.history import case_audit_history
from replay.audit.keys import load_signing_key, public_pem
from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire

OTHER_CASE = "fr.fire.sis35.cgo-35.DRFR15BUNDLE01"


@pytest.fixture
def crisis(services):
    """The fire case (report then resources) interleaved with another case."""
    services.ingestor.ingest(Incoming(as_xml(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"))),
                                      "application/xml"))
    _, other = example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")
    other["caseId"] = OTHER_CASE
    services.ingestor.ingest(Incoming(as_json(wire("createCase", other))))
    services.ingestor.ingest(Incoming(as_json(wire(*example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03"),
                                                   sent_at="2024-08-13T10:40:00+02:00"))))
    return services


def export_case(services, settings, tmp_path, case_id=FIRE_CASE) -> Path:
    out = tmp_path / "affaire.zip"
    export_bundle(services.store, settings.data_dir, out, [case_uuid(case_id)],
                  {"case_id": case_id, "originator_id": str(case_uuid(case_id))})
    return out


def rewrite(bundle: Path, name: str, change) -> None:
    with zipfile.ZipFile(bundle) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files[name] = change(files[name])
    with zipfile.ZipFile(bundle, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


def test_a_case_bundle_verifies_alone_even_without_tocsin(crisis, settings, tmp_path):
    bundle = export_case(crisis, settings, tmp_path)
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert (report.events, report.links, report.seals) == (2, 3, 1)

    # On "another machine": the extracted bundle, a bare interpreter, no Tocsin on the path, no database.
    elsewhere = tmp_path / "ailleurs"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(elsewhere)
    pinned = tmp_path / "cle.pem"
    pinned.write_text(public_pem(load_signing_key(settings.data_dir).public_key()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOCSIN_", "PYTHONPATH"))}
    done = subprocess.run([sys.executable, "-I", "verify_bundle.py", str(bundle), str(pinned)], cwd=elsewhere,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Paquet intègre" in done.stdout

    with zipfile.ZipFile(bundle) as z:
        events = [json.loads(line) for line in z.read("events.jsonl").decode().splitlines()]
        assert z.read(events[0]["message"]["file"]).startswith(b"<?xml")
    assert events[0]["facts"]["nature"]["code"] == "C04.02.01"
    assert events[0]["provenance"]["distribution_id"] == events[0]["message"]["distribution_id"]


def test_an_edited_bundle_is_refused(crisis, settings, tmp_path):
    bundle = export_case(crisis, settings, tmp_path)
    with zipfile.ZipFile(bundle) as z:
        raw_name = next(n for n in z.namelist() if n.startswith("messages/"))
    rewrite(bundle, raw_name, lambda b: b.replace(b"Incendie", b"Incendiz"))
    assert "message brut" in verify_bundle(bundle).summary()

    bundle = export_case(crisis, settings, tmp_path)
    rewrite(bundle, "events.jsonl", lambda b: b"\n".join(b.splitlines()[:1]) + b"\n")  # hide the 2nd event
    assert "manque au paquet" in verify_bundle(bundle).summary()

    bundle = export_case(crisis, settings, tmp_path)
    rewrite(bundle, "seals.json", lambda b: b.replace(b'"signature": "', b'"signature": "00', 1))
    assert not verify_bundle(bundle).ok

    bundle = export_case(crisis, settings, tmp_path)
    stranger = tmp_path / "autre.pem"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    assert "pas la clé attendue" in verify_bundle(bundle, stranger.read_bytes()).summary()


def test_a_territory_bundle_holds_the_cases_placed_there(crisis, settings, tmp_path):
    originators = territory_originators(crisis.store, crisis.geography, "35", None, None)
    assert set(originators) == {case_uuid(FIRE_CASE), case_uuid(OTHER_CASE)}
    assert territory_originators(crisis.store, crisis.geography, "13", None, None) == []
    out = tmp_path / "ille-et-vilaine.zip"
    manifest = export_bundle(crisis.store, settings.data_dir, out, originators, {"territory": "35"})
    assert manifest["events"] == 3
    assert verify_bundle(out).ok


def test_the_history_is_for_auditors_and_ties_each_event_to_its_raw_message(crisis):
    with pytest.raises(PermissionError):
        case_audit_history(crisis.store, FIRE_CASE, role="prefect")
    history = case_audit_history(crisis.store, FIRE_CASE, role="auditor")
    assert history is not None
    assert [e["type"] for e in history] == ["Case.Reported", "Case.ResourcesUpdated"]
    assert history[0]["raw"].startswith("<?xml")
    assert history[0]["facts"]["personal"]  # the auditor sees everything
    assert history[0]["sealed_by"] is None
    assert case_audit_history(crisis.store, "inconnue", role="auditor") is None


def test_the_audit_commands(crisis, settings, tmp_path, monkeypatch):
    monkeypatch.setattr("api.cli.replay.open_services_from_env", lambda: crisis)
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(settings.data_dir))
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    sealed = runner.invoke(app, ["audit", "seal"])
    assert sealed.exit_code == 0 and "Sceau : position 3" in sealed.output
    verified = runner.invoke(app, ["audit", "verify", "--json"])
    assert verified.exit_code == 0 and json.loads(verified.output)["checked"] == 3
    key = runner.invoke(app, ["audit", "public-key"])
    assert "BEGIN PUBLIC KEY" in key.output
    out = tmp_path / "p.zip"
    exported = runner.invoke(app, ["audit", "export", "--case", FIRE_CASE, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    checked = runner.invoke(app, ["audit", "verify", "--bundle", str(out)])
    assert checked.exit_code == 0 and "Paquet intègre" in checked.output
    history = runner.invoke(app, ["audit", "history", FIRE_CASE])
    assert "distributionID" in history.output and "scellé position 3" in history.output


def test_a_bundle_says_which_messages_the_stream_lost_before_their_ingestion(crisis, settings, tmp_path):
    clean = verify_bundle(export_case(crisis, settings, tmp_path))
    assert clean.ok and clean.stream_lost == 0 and "perdu" not in clean.summary()

    created = datetime(2026, 12, 5, 8, tzinfo=UTC)
    stream_gaps.record(crisis.store, "nats:NEXSIS:nexsis.>", created, [(21, 23), (59, 60)])
    bundle = export_case(crisis, settings, tmp_path)
    report = verify_bundle(bundle)
    assert report.ok, report.problems  # stated beside the proof, not part of it
    assert report.stream_lost == 5
    assert "le flux NATS a perdu 5 message(s) avant leur ingestion" in report.summary()
    with zipfile.ZipFile(bundle) as z:
        gaps = json.loads(z.read("stream_gaps.json"))
        readme = z.read("LISEZMOI.txt").decode()
    assert [(g["source"], g["first_seq"], g["last_seq"], g["messages"]) for g in gaps] == [
        ("nats:NEXSIS:nexsis.>", 21, 23, 3), ("nats:NEXSIS:nexsis.>", 59, 60, 2)]
    assert "Messages perdus par le flux NATS avant leur ingestion, constatés sur la période : 5" in readme

    # For a period starting after they were found, they are left out: they hold older messages only.
    found = gaps[0]["detected_at"]
    assert len(stream_gaps.detected_since(crisis.store, datetime.fromisoformat(found))) == 2
    assert stream_gaps.detected_since(crisis.store, datetime.fromisoformat(found) + timedelta(seconds=1)) == []
