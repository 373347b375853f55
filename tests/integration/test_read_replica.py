"""The views read through TOCSIN_READ_DATABASE_URL: a pool of its own, the same answers, and the replay lag
of the server read (here the primary itself: no lag, not a standby; the standby's case runs in
tests/e2e/test_cluster_faults.py, on the local cluster)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from adapters.ingest.ingestion import Incoming
from adapters.store.event_store import TocsinStore
from adapters.store.replica import ReadReplica, read_source, replication_lag
from domain.geography import Level
from projections.read.model import ReadModel
from projections.store.worker import ProjectionWorker
from tests.support.api import RENNES, report_in


def test_views_read_through_the_read_url_equal_those_read_from_the_store(services):
    geography = services.geography
    outcome = services.ingestor.ingest(Incoming(report_in(geography, RENNES, "fr.fire.replica-1", seed=3)))
    assert outcome.status == "accepted"
    with ProjectionWorker(services.store) as worker:
        worker.catch_up()
    store: TocsinStore = services.store
    assert read_source(store) is store  # no read URL: the store itself
    store.settings = replace(store.settings, read_database_url=store.database_url)
    replica = read_source(store)
    assert isinstance(replica, ReadReplica)
    try:
        direct = asyncio.run(ReadModel(services.store, geography).territory_view(Level.COMMUNE, RENNES))
        through = asyncio.run(ReadModel(replica, geography).territory_view(Level.COMMUNE, RENNES))
        direct.pop("windows_until"), through.pop("windows_until")  # "now", when each was read
        assert through == direct and direct["cases_total"] == 1
        assert replication_lag(replica) == {"standby": False, "lag_bytes": 0, "lag_seconds": 0.0}
    finally:
        replica.close()
