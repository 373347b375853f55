"""Preparing in worker processes gives what preparing here gives, and survives a worker's death."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from adapters.ingest.ingestion import Incoming
from adapters.ingest.prepare_pool import PreparePool
from adapters.nats.ingester import NatsIngester
from adapters.services import open_services
from tests.integration.test_ingestion import HOSTILE
from tests.support.nats_harness import assert_exactly_once, distinct_ids, publish, run_async, simulated

BROKEN = [b'{"distributionID": "fr.fire.sis35_x", "content": []}', b"<broken", *HOSTILE]


def _comparable(prepared, store) -> dict:
    """What a prepared message means, without the random nonce of its sealed bytes."""
    seen = dict(vars(prepared))
    seen["sealed"] = store.unseal(seen["sealed"])
    return seen


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_prepare_exactly_what_this_process_prepares_in_order(services, workers):
    items = [Incoming(m.raw, m.content_type, source=f"test#{i}") for i, m in enumerate(simulated(200, seed=5))]
    items += [Incoming(raw, None, source="hostile") for raw in BROKEN]
    pool = PreparePool(services.ingestor.preparer, workers=workers)
    try:
        from_worker = run_async(pool.prepare(items))
    finally:
        pool.close()
    here = [services.ingestor.prepare(item) for item in items]
    assert [_comparable(p, services.store) for p in from_worker] == [_comparable(p, services.store) for p in here]
    assert sum(hasattr(p, "reasons") for p in from_worker) >= len(BROKEN)


def test_a_killed_worker_loses_nothing_its_batch_is_prepared_here(services, caplog):
    items = [Incoming(m.raw, m.content_type, source="test") for m in simulated(50, seed=6)]
    pool = PreparePool(services.ingestor.preparer, workers=1)
    try:
        run_async(pool.ready())
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.ERROR, logger="adapters.ingest.prepare_pool"):
            prepared = run_async(pool.prepare(items))
        assert "batch prepared here instead" in caplog.text
        assert len(prepared) == len(items) and [p.incoming.raw for p in prepared] == [i.raw for i in items]
        assert len(run_async(pool.prepare(items[:3]))) == 3  # and the pool works again afterwards
    finally:
        pool.close()


def test_a_pool_that_never_answers_does_not_stall_ingestion(services, caplog, monkeypatch):
    """A stopped worker stands for a pool wedged by a worker killed at the wrong moment: the batch is
    prepared here once the wait is over, not waited on forever."""
    monkeypatch.setattr("adapters.ingest.prepare_pool.PREPARE_TIMEOUT", 1.0)
    items = [Incoming(m.raw, m.content_type, source="test") for m in simulated(20, seed=7)]
    pool = PreparePool(services.ingestor.preparer, workers=1)
    stopped = []
    try:
        run_async(pool.ready())
        stopped = pool.worker_pids()
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        with caplog.at_level(logging.ERROR, logger="adapters.ingest.prepare_pool"):
            prepared = run_async(asyncio.wait_for(pool.prepare(items), 20))
        assert "batch prepared here instead" in caplog.text
        assert [p.incoming.raw for p in prepared] == [i.raw for i in items]
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGKILL)
        pool.close()


def test_a_worker_killed_during_ingestion_leaves_every_message_stored_once(nats_settings):
    messages = simulated(3000, seed=13)
    publish(nats_settings, messages)
    services = open_services(nats_settings)
    try:
        ingester = NatsIngester(services, nats_settings.nats_url, drain=True, batch_size=200, prepare_workers=1)

        async def ingest_and_kill_a_worker():
            running = asyncio.ensure_future(ingester.run())
            while not ingester.summary.counts["accepted"]:  # some batches are in, others still to come
                await asyncio.sleep(0.05)
            assert ingester.pool is not None
            killed = ingester.pool.worker_pids()
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            return killed, await running

        killed, summary = run_async(ingest_and_kill_a_worker())
    finally:
        services.close()
    assert killed
    assert_exactly_once(nats_settings, distinct_ids(messages))
    assert summary.position == 3000 and summary.restarts == 0
