"""Crisis timelines and after-action reports, on a simulated storm."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from adapters.ingest.ingestion import Incoming
from adapters.simulator import simulate
from replay.as_of import replay_view
from replay.checkpoints.build import build_checkpoints
from replay.event_log import HAPPENED_BY
from replay.timeline import build_timeline, parse_interval


def _storm(services, size: int = 500, seed: int = 3) -> list:
    messages = list(simulate("storm", size=size, seed=seed))
    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim") for m in messages])
    return sorted(m.sent_at for m in messages)


def test_timeline_boundaries_are_the_happened_by_views(services):
    sent = _storm(services)
    build_checkpoints(services.store, every=150)  # the window's start then comes from a checkpoint
    store = services.store
    span = sent[-1] - sent[0]

    @given(level_code=st.sampled_from([("departement", "29"), ("departement", "22"), ("zone", "ouest"),
                                       ("national", "FR")]),
           start=st.floats(0, 0.6), length=st.floats(0.1, 0.6), steps=st.integers(1, 12))
    @hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    def boundaries_match(level_code: tuple[str, str], start: float, length: float, steps: int) -> None:
        begin = sent[0] + span * start
        end = begin + span * length
        timeline = build_timeline(store, *level_code, begin, end, (end - begin) / steps)
        assert timeline.intervals[0].start == begin and timeline.intervals[-1].end == end
        for interval in (timeline.intervals[0], timeline.intervals[-1]):
            view = replay_view(store, *level_code, interval.end, HAPPENED_BY, use_checkpoints=False).view
            figures = view["figures"] if view else {}
            assert interval.active == figures.get("cases:active", 0)
            assert interval.resources_engaged == figures.get("resources:engaged", 0)
            assert interval.victims == sum(figures.get(f"triage:{k}", 0) for k in ("red", "yellow", "green", "black"))
        # Opened per interval: the cases of the territory at the end (its case list), opened in the window.
        final = replay_view(store, "cases", level_code[1], end, HAPPENED_BY).view
        assert final is not None
        opened = [c for c in final["cases"]
                  if c["opened_at"] and begin <= c["opened_at"] < end]
        assert sum(i.opened for i in timeline.intervals) == len(opened) == len(timeline.delays)
        for delay in timeline.delays:
            if delay.first_on_scene_at and delay.first_engaged_at:
                assert delay.first_engaged_at <= delay.first_on_scene_at

    boundaries_match()


def test_delays_and_peaks_on_the_whole_crisis(services):
    sent = _storm(services)
    timeline = build_timeline(services.store, "national", "FR", sent[0] - timedelta(minutes=5), sent[-1],
                              timedelta(hours=1))
    summary = timeline.summary
    assert summary["cases_opened"] > 20 and summary["cases_opened"] == len(timeline.delays)
    engaged = summary["delay_to_engaged_min"]
    on_scene = summary["delay_to_on_scene_min"]
    assert engaged["cases"] > 10 and on_scene["cases"] > 10
    assert 0 <= engaged["median"] < on_scene["median"] < 120  # dispatched within minutes, on scene later
    peaks = timeline.peaks
    assert peaks["active"]["value"] == max(i.active for i in timeline.intervals) > 0


def test_interval_parsing():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_interval("15min", t0, t0) == timedelta(minutes=15)
    assert parse_interval("2h", t0, t0) == timedelta(hours=2)
    assert parse_interval("1j", t0, t0) == timedelta(days=1)
    assert parse_interval(None, t0, t0 + timedelta(hours=24)) == timedelta(minutes=30)
    assert parse_interval(None, t0, t0 + timedelta(hours=36)) == timedelta(hours=1)
    assert parse_interval(None, t0, t0 + timedelta(hours=3)) == timedelta(minutes=5)
    for wrong in ("0h", "soon", "-1h"):
        try:
            parse_interval(wrong, t0, t0)
        except ValueError as error:
            assert "intervalle invalide" in str(error)
        else:
            raise AssertionError(wrong)


def test_timeline_and_report_commands(services, replay_cli, tmp_path):
    sent = _storm(services, size=300)
    window = ["--territory", "zone:ouest", "--from", sent[0].isoformat(), "--to", sent[-1].isoformat()]
    shown = replay_cli(["replay", "timeline", *window, "--interval", "1h", "--json"])
    assert shown.exit_code == 0, shown.output
    figures = json.loads(shown.output)
    assert figures["territory"] == "zone:ouest" and figures["interval_minutes"] == 60
    assert sum(i["opened"] for i in figures["intervals"]) == figures["summary"]["cases_opened"] > 0
    text = replay_cli(["replay", "timeline", *window])
    assert text.exit_code == 0 and "Délai création → premier moyen engagé : médiane" in text.output
    # A plain name or code names a territory when it names one only (issue #22); else a French error.
    named = replay_cli(["replay", "timeline", "--territory", "Finistère", "--from", sent[0].isoformat(),
                        "--to", sent[-1].isoformat(), "--json"])
    assert named.exit_code == 0 and json.loads(named.output)["territory"] == "departement:29"
    bad = replay_cli(["replay", "timeline", "--territory", "Atlantide", "--from", sent[0].isoformat(),
                      "--to", sent[-1].isoformat()])
    assert bad.exit_code != 0 and "aucun territoire" in bad.output

    out = tmp_path / "rapport"
    made = replay_cli(["replay", "report", *window, "--interval", "1h", "--out", str(out)])
    assert made.exit_code == 0, made.output
    page = (out / "rapport.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and 'lang="fr"' in page
    assert "Retour d'expérience — " in page and page.count("<svg") >= 4
    # Self-contained: nothing is fetched (no script, stylesheet, image or font from anywhere).
    assert not re.search(r"<script|<link|<img|@import|url\(|https?://(?!www\.w3\.org/2000/svg)", page)
    rows = list(csv.DictReader((out / "chronologie.csv").open(encoding="utf-8")))
    assert len(rows) == len(figures["intervals"]) and rows[0]["opened"] == str(figures["intervals"][0]["opened"])
    delays = list(csv.DictReader((out / "delais.csv").open(encoding="utf-8")))
    assert len(delays) == figures["summary"]["cases_opened"]
    assert json.loads((out / "chiffres.json").read_text(encoding="utf-8"))["summary"] == figures["summary"]


def test_a_window_that_reaches_into_the_future_stops_at_now(services):
    """Issue #22: `tocsin replay timeline` filled intervals that were still in the future (flat copies of
    the present); the window now ends at the reading time, and says so."""
    sent = _storm(services, size=120)
    now = sent[len(sent) // 2]
    timeline = build_timeline(services.store, "departement", "29", sent[0], sent[0] + timedelta(days=3),
                              timedelta(hours=1), now=now)
    assert timeline.intervals and timeline.intervals[-1].end == now == timeline.end
    assert all(i.start < now for i in timeline.intervals)
    assert timeline.as_dict()["requested_to"] != timeline.as_dict()["to"]
    try:
        build_timeline(services.store, "departement", "29", now + timedelta(hours=1), now + timedelta(hours=2),
                       now=now)
    except ValueError as error:
        assert "futur" in str(error)
    else:
        raise AssertionError("a window entirely in the future must be refused")
