"""When Tocsin last heard from NexSIS, from each way a message can arrive, and what the dashboard is told."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from hypothesis import given
from hypothesis import strategies as st

from adapters.ingest.feed_freshness import freshness, last_received, waiting_since
from adapters.ingest.ingestion import Incoming
from adapters.services import open_services
from api.routes import live
from tests.e2e.test_nats_ingest import drain
from tests.support.api import (
    RENNES,
    LiveServer,
    app_of,
    bearer,
    client_for,
    fold_views_then_stop,
    report_in,
    wait_for_views,
)
from tests.support.nats_harness import publish, simulated


def _database_now(store) -> datetime:
    with store.connect() as conn:
        return conn.execute("SELECT clock_timestamp() AS now").fetchone()["now"]


def test_the_last_arrival_counts_accepted_and_quarantined_messages(services):
    assert last_received(services.store) is None

    before = _database_now(services.store)
    accepted = services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, "fr.fire.feed.1")))
    assert accepted.status == "accepted"
    first = last_received(services.store)
    assert first is not None and before <= first <= _database_now(services.store)

    assert services.ingestor.ingest(Incoming(b"<broken")).status == "quarantined"
    second = last_received(services.store)
    assert second is not None and second > first  # no event recorded, yet a message did arrive


def test_a_nats_batch_of_duplicates_alone_still_counts_as_an_arrival(nats_settings):
    messages = simulated(50, seed=21)
    publish(nats_settings, messages)
    drain(nats_settings)
    services = open_services(nats_settings)
    try:
        first = last_received(services.store)
        assert first is not None
        publish(nats_settings, messages)  # the exchange platform sends them again: no new event
        summary = drain(nats_settings)
        assert summary.counts["accepted"] == 0 and summary.counts["duplicate"] == 50
        later = last_received(services.store)
        assert later is not None and later > first
    finally:
        services.close()


when = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(last=st.none() | when, age=st.floats(0, 10 * 86400), quiet_after=st.floats(1, 86400),
       waited=st.none() | st.floats(0, 86400), late_after=st.floats(1, 3600))
def test_quiet_and_late_exactly_when_the_wait_is_longer_than_the_delay(last, age, quiet_after, waited, late_after):
    now = (last or datetime(2026, 12, 5, tzinfo=UTC)) + timedelta(seconds=age)
    waiting = None if waited is None else now - timedelta(seconds=waited)
    state = freshness(last, now, quiet_after, waiting, late_after)
    assert state["quiet"] is (last is None or (now - last).total_seconds() > quiet_after)
    assert state["views_late"] is (waiting is not None and (now - waiting).total_seconds() > late_after)
    assert (state["quiet_after_seconds"], state["views_late_after_seconds"]) == (quiet_after, late_after)
    assert datetime.fromisoformat(state["now"]) == now
    for key, moment in (("last_received_at", last), ("views_waiting_since", waiting)):
        assert (state[key] and datetime.fromisoformat(state[key])) == moment


def _chain_times(store) -> list[tuple[int, datetime]]:
    """When each NexSIS message's event was chained (not the platform's own acts: an app running its alert
    policy may chain an alert just after the message that raised it)."""
    with store.connect() as conn:
        return [(r["notification_id"], r["chained_at"]) for r in conn.execute(
            "SELECT notification_id, chained_at FROM " + store.settings.schema + ".tocsin_chain"
            " WHERE message_hash IS NOT NULL ORDER BY position")]


def test_the_views_wait_since_the_oldest_event_they_have_not_folded(services):
    assert waiting_since(services.store, 0) is None
    for n in range(3):
        services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, f"fr.fire.feed.wait{n}", seed=n)))
    (first, t1), (_, t2), (third, _) = _chain_times(services.store)
    assert waiting_since(services.store, 0) == t1
    assert waiting_since(services.store, first) == t2
    assert waiting_since(services.store, third) is None


def test_the_feed_endpoint_needs_a_token_and_says_when_the_feed_went_quiet(services):
    services.settings = dataclasses.replace(services.settings, feed_quiet_after=1.0)
    with client_for(services) as (client, config):
        assert client.get("/api/v1/feed").status_code == 401
        mayor = bearer(config, "mayor", "commune:35238")
        assert client.get("/api/v1/feed", headers=mayor).json()["last_received_at"] is None
        assert client.get("/api/v1/feed", headers=mayor).json()["quiet"] is True

        services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, "fr.fire.feed.2")))
        state = client.get("/api/v1/feed", headers=mayor).json()
        assert datetime.fromisoformat(state["last_received_at"]) == last_received(services.store)
        assert state["quiet"] is False
        wait_for_views(app_of(client).state.read_model, services)  # this app folds the views itself
        assert client.get("/api/v1/feed", headers=mayor).json()["views_waiting_since"] is None
        time.sleep(1.2)
        assert client.get("/api/v1/feed", headers=mayor).json()["quiet"] is True


def test_the_feed_endpoint_says_since_when_events_wait_for_stopped_views(services):
    services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, "fr.fire.feed.before")))
    fold_views_then_stop(services)  # the views exist and hold the first case...
    with client_for(services, projections_worker=False) as (client, config):  # ...then nobody folds them
        mayor = bearer(config, "mayor", "commune:35238")
        assert client.get("/api/v1/feed", headers=mayor).json()["views_waiting_since"] is None
        services.ingestor.ingest(Incoming(report_in(services.geography, RENNES, "fr.fire.feed.after")))
        state = client.get("/api/v1/feed", headers=mayor).json()
        assert datetime.fromisoformat(state["views_waiting_since"]) == _chain_times(services.store)[-1][1]
        assert state["views_late"] is False  # not yet: it has waited less than 30 s


def test_connected_dashboards_are_told_when_a_new_message_arrives(services, monkeypatch):
    monkeypatch.setattr(live, "FEED_SECONDS", 0.2)
    with LiveServer(services) as server:
        events: list[tuple[str | None, dict]] = []
        hello = threading.Event()

        def read() -> None:
            headers = bearer(server.config, "mayor", "commune:35238")
            with httpx.Client(timeout=httpx.Timeout(5, read=10)) as client, \
                    client.stream("GET", server.url + "/api/v1/stream", headers=headers) as r:
                name = None
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line[6:])))
                        hello.set()
                        if name == "feed":
                            return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert hello.wait(10)
        assert events[0][0] == "hello" and events[0][1]["feed"]["last_received_at"] is None

        # A message for another commune: the mayor sees no case, but learns that the feed is alive.
        services.ingestor.ingest(Incoming(report_in(services.geography, "29019", "fr.fire.feed.brest")))
        reader.join(10)
        assert not reader.is_alive()
        name, state = events[-1]
        assert name == "feed" and state["quiet"] is False
        assert datetime.fromisoformat(state["last_received_at"]) == last_received(services.store)
        assert [n for n, _ in events] == ["hello", "feed"]
