"""Playing a past window back into a sandbox schema: the sandbox gets the messages at the chosen pace,
the live store and its views are left exactly as they were."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from adapters.ingest.ingestion import Incoming
from adapters.services import open_services
from adapters.simulator import simulate
from projections.store.worker import ProjectionWorker
from replay.as_of import replay_view
from replay.event_log import HAPPENED_BY
from replay.playback import playback, sandbox_settings


def _tables(store) -> dict[str, list]:
    """Every row of the live schema's tables (events, message index, views, tracking)."""
    schema = store.settings.schema
    out = {}
    with psycopg.connect(store.database_url) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,))]
        for name in names:
            out[name] = conn.execute(SQL("SELECT * FROM {}.{}").format(Identifier(schema), Identifier(name))).fetchall()
            out[name].sort(key=repr)
    return out


@pytest.fixture
def sandbox(services):
    settings = sandbox_settings(services.settings, "exercice_" + services.settings.schema[2:])
    target = open_services(settings)
    yield target
    target.close()
    with psycopg.connect(services.store.database_url, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(settings.schema)))


def test_playback_into_a_sandbox_leaves_live_views_untouched(services, sandbox):
    messages = list(simulate("storm", size=160, seed=11))
    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim") for m in messages])
    with ProjectionWorker(services.store) as worker:  # the live views, as the dashboard reads them
        while worker.step():
            pass
    before = _tables(services.store)
    assert before["tocsin_view_cases"]

    sent = sorted(m.sent_at for m in messages)
    start = sent[len(sent) // 3]
    end = start + timedelta(minutes=25)  # 1.5 s at ×1000
    began = time.monotonic()
    report = playback(services.store, sandbox.ingestor, start, end, 1000, sandbox=sandbox.settings.schema)
    elapsed = time.monotonic() - began
    assert 1.4 <= elapsed < 10
    unique = {m.distribution_id: m.sent_at for m in messages}
    assert report.prelude == sum(1 for t in unique.values() if t < start)
    assert report.played == sum(1 for t in unique.values() if start <= t <= end)
    assert report.accepted == report.prelude + report.played and report.refused == 0

    assert _tables(services.store) == before  # nothing written to the live schema
    # The sandbox holds the same situation at the window's end, in the messages' own times.
    for level, code in (("national", "FR"), ("departement", "29"), ("cases", "FR")):
        live = replay_view(services.store, level, code, end, HAPPENED_BY).view
        played = replay_view(sandbox.store, level, code, end, HAPPENED_BY).view
        assert _comparable(played) == _comparable(live) and live is not None
    # Messages after the window were not played.
    after = replay_view(sandbox.store, "national", "FR", datetime.now(UTC), HAPPENED_BY).view
    at_end = replay_view(services.store, "national", "FR", end, HAPPENED_BY).view
    assert after is not None and at_end is not None
    assert after["figures"]["cases:total"] <= at_end["figures"]["cases:total"]
    again = playback(services.store, sandbox.ingestor, start, end, 1000)
    assert again.accepted == 0 and again.duplicates == report.prelude + report.played


def _comparable(view: dict | None) -> dict | None:
    """A view without what depends on recording (times and notification ids differ in the sandbox)."""
    if view is None:
        return None
    drop = {"updated_at", "last_event_id", "originator_id"}
    return {key: sorted(({k: v for k, v in c.items() if k not in drop} for c in value), key=lambda c: c["case_id"])
            if key in ("cases", "most_serious") else value for key, value in view.items() if key != "updated_at"}


def test_playback_command_and_limits(services, replay_cli):
    messages = list(simulate("storm", size=40, seed=12))
    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim") for m in messages])
    sent = sorted(m.sent_at for m in messages)
    name = "cli_" + services.settings.schema[2:]
    window = ["--from", sent[0].isoformat(), "--to", (sent[0] + timedelta(minutes=5)).isoformat()]
    try:
        result = replay_cli(["replay", "playback", *window, "--speed", "1000", "--sandbox", name])
        assert result.exit_code == 0, result.output
        assert f"TOCSIN_DB_SCHEMA=sandbox_{name} tocsin serve" in result.output and "0 refusés" in result.output
        assert replay_cli(["replay", "playback", *window, "--speed", "5000", "--sandbox", name]).exit_code != 0
        bad = replay_cli(["replay", "playback", *window, "--sandbox", "Bad-Name"])
        assert bad.exit_code != 0 and "nom de bac à sable invalide" in bad.output
    finally:
        with psycopg.connect(services.store.database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(f"sandbox_{name}")))
    with pytest.raises(ValueError, match="vitesse"):
        playback(services.store, None, sent[0], sent[-1], 0.5)
