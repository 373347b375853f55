"""Checkpoints only make replays faster: as of any moment, in both senses, the views are the same as
the fold from the first event, for every kind of view (territories at each level, case lists, a case)."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from adapters.ingest.ingestion import Incoming
from adapters.simulator import simulate
from adapters.store.locks import Leadership
from replay.as_of import replay_view
from replay.checkpoints.build import build_checkpoints, builder_lock_key
from replay.checkpoints.documents import CaseShards
from replay.checkpoints.scan import scan_ranges, snapshot_connection
from replay.checkpoints.storage import best_checkpoint, list_checkpoints
from replay.event_log import HAPPENED_BY, KNOWN_AT

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
    listed = replay_view(store, "cases", "FR", moments[-1]).view
    assert listed is not None
    views += [("commune", r["commune"]) for r in listed["cases"][:4]]
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


def test_blocks_skip_the_log_after_the_moment_yet_find_messages_delivered_late(services):
    """Happened by T reads only the blocks of the log that may hold a message sent by T. Messages held
    back (an outage) and delivered much later keep their block in the scan: the views stay exact."""
    messages = sorted(simulate("storm", size=360, seed=11), key=lambda m: m.sent_at)
    held = set(random.Random(3).sample(range(len(messages) // 3), 12))  # sent early…
    on_time = [m for i, m in enumerate(messages) if i not in held]
    cut = len(on_time) * 2 // 3  # …delivered after two thirds of the others
    order = on_time[:cut] + [messages[i] for i in sorted(held)] + on_time[cut:]
    for i in range(0, len(order), BATCH):
        services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim") for m in order[i:i + BATCH]])
    store = services.store
    assert build_checkpoints(store, every=60, block=10)
    sent = [m.sent_at for m in messages]
    early = sent[len(sent) // 3]
    checkpoint = best_checkpoint(store, early, HAPPENED_BY)
    with snapshot_connection(store) as conn:
        ranges = scan_ranges(store, conn, checkpoint.notification_id if checkpoint else 0, early, HAPPENED_BY)
    assert len(ranges) >= 2 and ranges[0][1] is not None  # blocks skipped, then the late ones read
    views = [("national", "FR"), ("departement", "35"), ("cases", "FR"), ("zone", "ouest"),
             ("case", messages[min(held)].case_id)]
    for at in (sent[len(sent) // 5], early, sent[len(sent) // 2], sent[-1]):
        for view in views:
            for sense in (HAPPENED_BY, KNOWN_AT):
                fast = replay_view(store, *view, at, sense)
                assert fast.view == replay_view(store, *view, at, sense, use_checkpoints=False).view, (view, sense, at)


def test_one_checkpoint_builder_at_a_time(services):
    messages = list(simulate("storm", size=60, seed=4))
    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim") for m in messages])
    other = Leadership(services.store.database_url, builder_lock_key(services.store))
    assert other.try_acquire()  # another builder is at work
    said: list[str] = []
    assert build_checkpoints(services.store, every=20, log=said.append) == []
    assert list_checkpoints(services.store) == [] and "autre processus" in said[0]
    other.release()
    assert len(build_checkpoints(services.store, every=20)) == _events(services) // 20


def test_checkpoint_command_and_view_from_it(services, replay_cli):
    messages = list(simulate("storm", size=150, seed=9))
    services.ingestor.ingest_batch([Incoming(m.raw, m.content_type, source="sim") for m in messages])
    made = replay_cli(["replay", "checkpoint", "--every", "40"])
    assert made.exit_code == 0, made.output
    assert "point(s) de reprise" in made.output
    assert len(list_checkpoints(services.store)) == _events(services) // 40
    again = replay_cli(["replay", "checkpoint", "--every", "40"])
    assert again.exit_code == 0 and "aucun nouveau point de reprise" in again.output
    now = datetime.now(UTC).isoformat()
    shown = replay_cli(["replay", "view", "departement", "35", "--at", now, "--known-at", "--json"])
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.output)
    assert result["checkpoint"] is not None
    naive = replay_view(services.store, "departement", "35", datetime.fromisoformat(now), use_checkpoints=False)
    assert result["view"] == json.loads(json.dumps(naive.view, default=datetime.isoformat))


def _events(services) -> int:
    from psycopg.sql import SQL

    with services.store.connect() as conn:
        query = SQL("SELECT count(*) AS n FROM {}").format(services.store.table("tocsin_events"))
        return conn.execute(query).fetchone()["n"]


@given(st.dictionaries(st.uuids(), st.sampled_from(["35", "29", "2A", "971", "non-localise"]), max_size=60),
       st.lists(st.uuids(), max_size=10))
def test_case_shards_find_each_case_of_the_checkpoint_and_no_other(case_shard, others):
    found = CaseShards(CaseShards.pack(case_shard))
    assert all(found.get(oid) == shard for oid, shard in case_shard.items())
    assert all(found.get(oid) is None for oid in others if oid not in case_shard)
