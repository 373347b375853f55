"""Liveness and readiness, apart: /healthz answers while the process runs; /readyz says 503, with a JSON
reason, when the views lag beyond TOCSIN_READY_VIEW_LAG or the database does not answer."""

from __future__ import annotations

import dataclasses
import time

from adapters.ingest.ingestion import Incoming
from adapters.ingest.use_cases import ingest_message
from adapters.services import open_services
from projections.read.readiness import database_reachable, views_readiness
from tests.support.api import app_of, client_for, report_in, wait_for_views


def test_ready_while_the_views_keep_up_and_not_once_they_lag(settings):
    services = open_services(dataclasses.replace(settings, ready_view_lag=0.5))
    try:
        with client_for(services) as (client, _):  # with its projection worker
            assert client.get("/healthz").json() == {"status": "ok"}
            ingest_message(services.ingestor, Incoming(report_in(services.geography, "35238", "case-ready-1")))
            wait_for_views(app_of(client).state.read_model, services)  # folded before the worker stops
            deadline = time.monotonic() + 20
            while (ready := client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                time.sleep(0.1)
            assert ready.json()["status"] == "ready"
        with client_for(services, projections_worker=False) as (client, _):  # nobody folds the views now
            ingest_message(services.ingestor, Incoming(report_in(services.geography, "35238", "case-ready-2")))
            time.sleep(0.6)
            answer = client.get("/readyz")
            assert client.get("/healthz").status_code == 200  # alive all the same
    finally:
        services.close()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not_ready" and body["reason"] == "views_behind"
    assert body["view_lag_seconds"] > body["view_lag_threshold_seconds"] == 0.5


def test_not_ready_without_a_database(settings):
    services = open_services(settings)
    assert database_reachable(services.store).ready
    services.close()  # its pool closed: no connection to be had
    assert database_reachable(services.store).as_dict()["reason"] == "database_unreachable"
    assert views_readiness(services.store, 60).reason == "database_unreachable"
