"""Checkpoints only make replays faster: as of any moment, in both senses, the views are the same as
the fold from the first event, for every kind of view (territories at each level, case lists, a case)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import typer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from adapters.ingestion import Incoming
from adapters.simulator import simulate
from api.cli_replay import register
from replay.as_of import HAPPENED_BY, KNOWN_AT, replay_view
from replay.checkpoints import best_checkpoint, build_checkpoints, list_checkpoints

BATCH = 30


def _ingest_crisis(services, size: int = 420, seed: int = 5) -> tuple[list[datetime], list, list[datetime]]:
    """A simulated storm ingested in batches (one recording time each); checkpoints every 70 events
    built half-way and at the end (events after the last one stay to fold). Returns the moments just
    after each batch, the messages, and their sent times."""
    messages = list(simulate("storm", size=size, seed=seed))
    moments = []
    for i in range(0, len(messages), BATCH):
        services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim")
                                        for m in messages[i:i + BATCH]])
        time.sleep(0.002)
        moments.append(datetime.now(UTC))
        if i == BATCH * 7:
            assert build_checkpoints(services.store, every=70)
    assert build_checkpoints(services.store, every=70)  # continues from the latest checkpoint
    return moments, messages, sorted(m.sent_at for m in messages)


def _views_to_compare(messages) -> list[tuple[str, str]]:
    from adapters.geography import get_geography

    geo = get_geography()
    cases = sorted({m.case_id for m in messages if m.kind == "createCase"})
    views = [("national", "FR"), ("cases", "FR"), ("cases", "non-localise"), ("case", cases[0]),
             ("case", cases[len(cases) // 2]), ("case", cases[-1])]
    for dep in ("35", "29", "22", "56", "14"):
        views += [("departement", dep), ("cases", dep)]
        commune = next(c.insee for c in geo.communes.values() if c.departement == dep)
        views.append(("commune", commune))
    views += [("zone", "ouest"), ("cases", "ouest")]
    return views


def test_as_of_with_checkpoints_equals_the_fold_from_the_first_event(services):
    moments, messages, sent = _ingest_crisis(services)
    store = services.store
    assert len(list_checkpoints(store)) >= 3
    views = _views_to_compare(messages)
    # Communes with cases, at the checkpoint and after it.
    views += [("commune", r["commune"]) for r in replay_view(store, "cases", "FR", moments[-1]).view["cases"][:4]]
    span = (sent[-1] - sent[0]).total_seconds()

    @given(known=st.integers(0, len(moments) - 1), shift=st.floats(-0.05, 0.05),
           happened=st.floats(-0.05, 1.05), view=st.sampled_from(views))
    @hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def same_views(known: int, shift: float, happened: float, view: tuple[str, str]) -> None:
        for sense, at in ((KNOWN_AT, moments[known] + timedelta(seconds=shift)),
                          (HAPPENED_BY, sent[0] + timedelta(seconds=happened * span))):
            fast = replay_view(store, *view, at, sense)
            naive = replay_view(store, *view, at, sense, use_checkpoints=False)
            assert naive.checkpoint is None
            assert fast.view == naive.view, (view, sense, at)

    same_views()
    # Late moments do start from a checkpoint, in both senses.
    assert replay_view(store, "departement", "35", moments[-1], KNOWN_AT).checkpoint is not None
    assert replay_view(store, "departement", "35", sent[-1], HAPPENED_BY).checkpoint is not None
    assert best_checkpoint(store, moments[0], KNOWN_AT) is None  # before any checkpoint: from zero


def test_checkpoint_command_and_view_from_it(services, monkeypatch):
    messages = list(simulate("storm", size=150, seed=9))
    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim") for m in messages])
    monkeypatch.setattr("api.cli_replay.open_services_from_env", lambda: services)
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    made = runner.invoke(app, ["replay", "checkpoint", "--every", "40"])
    assert made.exit_code == 0, made.output
    assert "point(s) de reprise" in made.output
    assert len(list_checkpoints(services.store)) == _events(services) // 40
    again = runner.invoke(app, ["replay", "checkpoint", "--every", "40"])
    assert again.exit_code == 0 and "aucun nouveau point de reprise" in again.output
    now = datetime.now(UTC).isoformat()
    shown = runner.invoke(app, ["replay", "view", "departement", "35", "--at", now, "--known-at", "--json"])
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.output)
    assert result["checkpoint"] is not None
    naive = replay_view(services.store, "departement", "35", datetime.fromisoformat(now), use_checkpoints=False)
    assert result["view"] == json.loads(json.dumps(naive.view, default=datetime.isoformat))


def _events(services) -> int:
    from psycopg.sql import SQL

    with services.store.connect() as conn:
        return conn.execute(SQL("SELECT count(*) AS n FROM {}").format(services.store.table("tocsin_events"))).fetchone()["n"]
