"""The `tocsin` command, run as users run it: a real process, a real database."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.wire import FIRE_CASE, as_json, as_xml, example, wire

TOCSIN = str(Path(sys.executable).parent / "tocsin")


def tocsin(settings, *args: str, check: bool = True, machine_zone: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **({"TZ": machine_zone} if machine_zone else {}),
        "TOCSIN_DATABASE_URL": settings.database_url,
        "TOCSIN_DB_SCHEMA": settings.schema,
        "TOCSIN_DATA_DIR": str(settings.data_dir),
    }
    result = subprocess.run([TOCSIN, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A folder of wire messages: the fire case's story in both encodings, one duplicate, one broken."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    names = ["RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"]
    names += [f"RC-RI/RC-RI_Incendie_RaymondeLECCIA.0{i}" for i in range(2, 9)]
    for i, name in enumerate(names):
        w = wire(*example(name), distribution_id=f"fr.fire.sis35_{i:04d}", sent_at=f"2024-08-13T10:{20 + i}:00+02:00")
        if i % 2:
            (folder / f"{i:02d}.xml").write_bytes(as_xml(w))
        else:
            (folder / f"{i:02d}.json").write_bytes(as_json(w))
    shutil.copy(folder / "00.json", folder / "99-copy.json")
    (folder / "broken.json").write_bytes(b'{"distributionID": "fr.fire.sis35_x", "content": []}')
    return folder


def command_paths(command, prefix=()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*prefix, name))
    return paths


def test_every_subcommand_has_help_in_french():
    import typer.main
    from typer.testing import CliRunner

    from api.cli.main import app

    paths = command_paths(typer.main.get_command(app))
    # The commands the issues name, found in the tree (so a lost registration fails here).
    for required in (("ingest",), ("simulate",), ("status",), ("quarantine", "list"), ("quarantine", "retry"),
                     ("case", "show"), ("view",), ("projections", "status"), ("projections", "rebuild"),
                     ("token",), ("audit", "verify"), ("audit", "export"), ("replay", "view"), ("run",), ("serve",),
                     ("directory", "import"), ("directory", "export"), ("directory", "grant-admin")):
        assert required in paths
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        flat = re.sub(r"[\s│]+", " ", result.output)  # the panels wrap long lines
        assert "Utilisation" in flat and "Afficher ce message et quitter." in flat, (path, result.output)
        for english in ("Show this message", "Usage:", "COMMAND [ARGS]", "[default:", " TEXT ", " INTEGER ",
                        "[required]", "Commands ", "Try '", "<str>", "<bool>", "<int>"):
            assert english not in result.output, (path, english, result.output)
        described = result.output.split("Utilisation", 1)[1]
        assert any(word in described for word in ("é", "è", "à", " les ", " des ", " une ")), (path, result.output)


def test_ingest_prints_integer_counts_and_the_case_can_be_shown(settings, inbox):
    summary = json.loads(tocsin(settings, "ingest", str(inbox), "--json").stdout)
    assert summary == {"accepted": 8, "duplicates": 1, "quarantined": 1}
    again = json.loads(tocsin(settings, "ingest", str(inbox), "--json").stdout)
    assert again == {"accepted": 0, "duplicates": 9, "quarantined": 1}

    case = json.loads(tocsin(settings, "case", "show", FIRE_CASE, "--json").stdout)
    state = case["state"]
    assert state["nature"]["code"] == "C04.02.01" and state["nature"]["official"] is True
    where = state["where"]
    assert (where["commune"], where["departement"], where["zone"]) == ("35126", "35", "ouest")
    assert len(case["events"]) == 8 and all(e["provenance"]["sha256"] for e in case["events"])
    assert state["resources"] and all(r["status"] for r in state["resources"].values())
    text = tocsin(settings, "case", "show", FIRE_CASE).stdout
    assert "Guichen" in text and "Moyens engagés" in text


def test_quarantine_list_and_retry_with_a_corrected_file(settings, inbox, tmp_path):
    tocsin(settings, "ingest", str(inbox))
    [entry] = json.loads(tocsin(settings, "quarantine", "list", "--json").stdout)
    assert entry["reasons"] and entry["distribution_id"] == "fr.fire.sis35_x"
    assert "fr.fire.sis35_x" in tocsin(settings, "quarantine", "list").stdout

    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(as_json(wire(*example("RC-RI/RC-RI_Incendie_RaymondeLECCIA.02"),
                                   distribution_id="fr.fire.sis35_x")))
    assert tocsin(settings, "quarantine", "retry", str(entry["id"]), check=False).returncode == 1
    result = tocsin(settings, "quarantine", "retry", str(entry["id"]), "--file", str(fixed))
    assert "réintégré" in result.stdout
    assert json.loads(tocsin(settings, "quarantine", "list", "--json").stdout) == []


def test_unknown_case_is_a_clear_error(settings):
    result = tocsin(settings, "case", "show", "fr.fire.inconnu.X", check=False)
    assert result.returncode == 1 and "affaire inconnue" in result.stderr


def test_times_are_shown_in_the_territorys_zone_with_the_zone_stated_whatever_the_machines(settings, inbox):
    """Issue #22: a case opened at 10:20 in Paris is listed at 10:20 (heure de Paris) on a machine set to UTC
    or to Tokyo, and a window typed `--from 10:00` is read in the territory's zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tocsin(settings, "ingest", str(inbox))
    tocsin(settings, "projections", "run", "--once")
    opened = json.loads(tocsin(settings, "case", "show", FIRE_CASE, "--json").stdout)["state"]["opened_at"]
    local = datetime.fromisoformat(opened).astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M")
    for machine in ("UTC", "Asia/Tokyo"):
        text = tocsin(settings, "view", "commune:35126", "--now", "2024-08-13T12:00:00+02:00",
                      machine_zone=machine).stdout
        assert f"ouverte le {local} (heure de Paris)" in text, text
        shown = tocsin(settings, "case", "show", FIRE_CASE, machine_zone=machine).stdout
        assert f"{local} (heure de Paris)" in shown, shown
    timeline = json.loads(tocsin(settings, "replay", "timeline", "--territory", "commune:35126", "--from",
                                 "2024-08-13T10:00", "--to", "2024-08-13T11:00", "--json", machine_zone="UTC").stdout)
    assert datetime.fromisoformat(timeline["from"]) == datetime(2024, 8, 13, 8, 0, tzinfo=ZoneInfo("UTC"))
    report = tocsin(settings, "replay", "timeline", "--territory", "commune:35126", "--from", "2024-08-13T10:00",
                    "--to", "2024-08-13T11:00", machine_zone="UTC").stdout
    assert "heure de Paris" in report and "+00:00" not in report and "UTC" not in report, report


def test_case_show_lists_the_requests_between_services(settings, tmp_path):
    from tests.support.paths import NEXSIS_FIXTURES

    folder = tmp_path / "requests"
    folder.mkdir()
    samu, sdis = "fr.health.samu35", "fr.fire.sis35.cgo-35"
    (folder / "1.json").write_bytes(as_json(wire(*example("RC-EDA/RC-EDA_Incendie_RaymondeLECCIA.01"), sender_id=sdis)))
    for i, (name, sender, to) in enumerate((("RS-DR", samu, sdis), ("RS-RR", sdis, samu)), start=2):
        (kind, use_case), = json.loads((NEXSIS_FIXTURES / f"{name}.json").read_bytes()).items()
        (folder / f"{i}.xml").write_bytes(as_xml(wire(kind, use_case, sender_id=sender, recipient_id=to)))
    assert json.loads(tocsin(settings, "ingest", str(folder), "--json").stdout)["accepted"] == 3
    text = tocsin(settings, "case", "show", FIRE_CASE).stdout
    assert "Demandes entre services (NexSIS) :" in text
    assert ("Demande de ressource (RS-DR) — SAMU 35 → SDIS 35 : répondue : acceptée en partie "
            "(délai demandé : sous 30 minutes, réponse : acceptée en partie)") in text
