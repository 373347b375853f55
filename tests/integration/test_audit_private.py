"""Audit exports keep personal data to their owner (0600), a bundle can leave it out and still verify, and
schemas sharing a data folder keep their seal journals apart (issue #17)."""

from __future__ import annotations

import json
import os
import stat
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.ingest.ingestion import Incoming
from adapters.services import open_services
from domain.identity import case_uuid
from projections.read.case import case_view
from replay.audit.bundle import export_bundle
from replay.audit.bundle_check import verify_bundle
from replay.audit.chain import seal
from replay.audit.keys import load_signing_key, trusted_keys
from replay.audit.seals import journal_file
from replay.audit.verify import verify_store
from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire


@pytest.fixture
def fire(services):
    services.ingestor.ingest(Incoming(as_xml(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"))),
                                      "application/xml"))
    services.ingestor.ingest(Incoming(as_json(wire(*example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.03"),
                                                   sent_at="2024-08-13T10:40:00+02:00"))))
    return services


def personal_values(services) -> set[str]:
    """Every personal value of the case, as the roles allowed to see it get them."""
    view = case_view(services.store, services.geography, FIRE_CASE, personal=True)
    assert view is not None
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and len(value) >= 4:
            found.add(value)

    walk(view.state.get("personal"))
    for event in view.events:
        walk(event["facts"].get("personal"))
    return found


def contents(bundle: Path) -> str:
    with zipfile.ZipFile(bundle) as z:
        return "".join(z.read(n).decode("utf-8", errors="replace") for n in z.namelist())


def export(services, settings, out: Path, *, personal: bool = True) -> dict:
    return export_bundle(services.store, settings.data_dir, out, [case_uuid(FIRE_CASE)],
                         {"case_id": FIRE_CASE, "originator_id": str(case_uuid(FIRE_CASE))}, personal=personal)


def test_a_bundle_is_readable_by_its_owner_only(fire, settings, tmp_path):
    out = tmp_path / "affaire.zip"
    out.write_bytes(b"an older file, world-readable")
    out.chmod(0o644)
    previous = os.umask(0o022)
    try:
        export(fire, settings, out)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert verify_bundle(out).ok


def test_a_bundle_without_personal_data_verifies_and_holds_none(fire, settings, tmp_path):
    secrets = personal_values(fire)
    assert secrets, "the example case carries personal data"
    complete, anonymous = tmp_path / "complet.zip", tmp_path / "sans.zip"
    export(fire, settings, complete)
    manifest = export(fire, settings, anonymous, personal=False)
    assert manifest["personal_data"] is False
    assert any(s in contents(complete) for s in secrets)  # the complete bundle does carry them

    text = contents(anonymous)
    assert not [s for s in secrets if s in text]
    with zipfile.ZipFile(anonymous) as z:
        assert not [n for n in z.namelist() if n.startswith("messages/")]
        events = [json.loads(line) for line in z.read("events.jsonl").decode().splitlines()]
        assert "sans données personnelles" in z.read("LISEZMOI.txt").decode().lower()
    assert all("state" not in e["stored"] and "personal" not in (e["facts"] or {}) for e in events)
    report = verify_bundle(anonymous)
    assert report.ok, report.problems
    assert (report.events, report.personal_data) == (2, False)
    assert "sans données personnelles" in report.summary()


def test_a_bundle_without_personal_data_still_detects_a_change(fire, settings, tmp_path):
    anonymous = tmp_path / "sans.zip"
    export(fire, settings, anonymous, personal=False)
    with zipfile.ZipFile(anonymous) as z:
        files = {n: z.read(n) for n in z.namelist()}
    events = [json.loads(line) for line in files["events.jsonl"].decode().splitlines()]
    events[0]["message"]["sha256"] = "00" * 32  # claims another raw message
    events[0]["provenance"]["sha256"] = "00" * 32
    files["events.jsonl"] = "".join(json.dumps(e) + "\n" for e in events).encode()
    with zipfile.ZipFile(anonymous, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    assert not verify_bundle(anonymous).ok


def test_the_cli_exports_without_personal_data(fire, replay_cli, tmp_path):
    out = tmp_path / "sans.zip"
    result = replay_cli(["audit", "export", "--case", FIRE_CASE, "--out", str(out), "--sans-donnees-personnelles"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert verify_bundle(out).ok and not verify_bundle(out).personal_data


def test_two_schemas_in_one_data_folder_keep_their_own_seal_journal(fire, settings, database_url):
    other = replace(settings, schema="t_" + uuid.uuid4().hex[:12])
    second = open_services(other)
    try:
        second.ingestor.ingest(Incoming(as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01")))))
        key = load_signing_key(settings.data_dir)
        assert key is not None
        for services, s in ((fire, settings), (second, other)):
            assert seal(services.store, key, s.data_dir) is not None
        assert journal_file(settings.data_dir, settings.schema) != journal_file(settings.data_dir, other.schema)
        for services, s in ((fire, settings), (second, other)):
            report = verify_store(services.store, trusted_keys(s.data_dir),
                                  journal=journal_file(s.data_dir, s.schema))
            assert report.ok, report.summary()
    finally:
        second.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(other.schema)))


def test_the_public_schema_keeps_its_journal_name(tmp_path):
    assert journal_file(tmp_path, "public") == tmp_path / "audit" / "seals.jsonl"
