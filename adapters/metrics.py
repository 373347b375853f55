"""Tocsin's Prometheus metrics: declared once here, counted where things happen, exposed by each process.

Every metric is an in-memory value the code moves as it works (a message committed, a batch folded, a
request answered); a scrape only reads them, it never queries the database. The pool gauges are read
at scrape time too, but from the pool's own in-memory statistics.

Label values are bounded: message kinds, reason codes (anything unexpected counts as "other"), stream
and view names, route templates (never the path itself), HTTP status codes. No case id, distributionID,
person or territory below the département ever becomes a label.

One registry per process, and each process is scraped on its own: the API on its port (`/metrics`), a
standalone NATS ingester or projection worker on TOCSIN_METRICS_PORT (`serve_metrics`). Prometheus then
knows each process apart (its `instance`), which `up` and the leadership gauges need. The one case
where several processes answer on one port, `tocsin serve --workers N`, runs its servers in the
library's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the command for them only): `/metrics`
then adds up what every server process counted (`registry()`); the `multiprocess_mode` of each gauge
says how.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from domain.alert import CHANNELS as ALERT_CHANNEL_NAMES

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # the library's own variable (read when it is imported)

# ---- ingestion (adapters/ingest) -----------------------------------------------------------------------

MESSAGES = Counter(
    "tocsin_messages", "NexSIS messages ingested, one increment per message, by outcome and kind.",
    ["outcome", "kind"],
)
QUARANTINE_REASONS = Counter(
    "tocsin_quarantine_reasons", "Reasons of the quarantined messages, by code (a message may have several).",
    ["code"],
)
COMMIT_SECONDS = Histogram(
    "tocsin_ingest_commit_seconds", "Time to commit one batch of messages (planning, writing, retries).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_STORED = Counter("tocsin_events_stored", "Events appended to the event store.")
LAST_RECEIVED = Gauge(
    "tocsin_messages_last_received_timestamp_seconds",
    "When the newest NexSIS message (any outcome) was received, as a Unix time.", multiprocess_mode="max",
)

# ---- NATS streams (adapters/nats) ----------------------------------------------------------------------

STREAM_LAG_MESSAGES = Gauge(
    "tocsin_ingest_lag_messages", "Messages of the stream not yet committed, after the last batch.",
    ["stream"], multiprocess_mode="max",
)
STREAM_LAG_SECONDS = Gauge(
    "tocsin_ingest_lag_seconds",
    "Age in the stream of the last message committed while more were pending (0 when caught up).",
    ["stream"], multiprocess_mode="max",
)
STREAM_LOST = Counter(
    "tocsin_stream_lost_messages", "Messages gone from the stream before their ingestion (a stream gap).",
    ["stream"],
)
STREAM_RESTARTS = Counter(
    "tocsin_ingest_restarts", "Times the ingester restarted from the stored position (an outage, a lost lead).",
    ["stream"],
)

# ---- views (projections/store) -------------------------------------------------------------------------

VIEW_POSITION = Gauge("tocsin_view_position", "The last event folded into the view.", ["view"],
                      multiprocess_mode="max")
VIEW_LAG_EVENTS = Gauge("tocsin_view_lag_events", "Events recorded but not yet folded into the view.", ["view"],
                        multiprocess_mode="max")
VIEW_LAG_SECONDS = Gauge(
    "tocsin_view_lag_seconds", "How long ago the last event folded was recorded, while the view is behind.",
    ["view"], multiprocess_mode="max",
)
VIEW_CHECKED = Gauge(
    "tocsin_view_checked_timestamp_seconds",
    "When a worker last brought the view up to date (or found it so), as a Unix time.", ["view"],
    multiprocess_mode="max",
)
VIEW_EVENTS = Counter("tocsin_view_events_folded", "Events folded into the view by this process.", ["view"])
REBUILD_POSITION = Gauge("tocsin_view_rebuild_position", "Events a rebuild under way has folded.", ["view"],
                         multiprocess_mode="max")
REBUILD_TARGET = Gauge("tocsin_view_rebuild_target", "Events a rebuild under way has to fold (0: none).",
                       ["view"], multiprocess_mode="max")

# ---- leadership ------------------------------------------------------------------------------------------

LEADER = Gauge(
    "tocsin_leader",
    "1 where this process holds the lead: a stream's ingestion lock, or a view it keeps up to date.",
    ["kind", "name"], multiprocess_mode="liveall",
)

# ---- alerts: counted by the alert policy (decided), the dispatcher (sent, failed, delay) and the
# acknowledgement use case (adapters/notify) -----------------------------------------------------------

ALERT_CHANNELS = ALERT_CHANNEL_NAMES
ALERTS_DECIDED = Counter("tocsin_alerts_decided", "Alerts decided (one per recipient).", ["channel"])
ALERTS_SENT = Counter("tocsin_alerts_sent", "Alert deliveries that succeeded.", ["channel"])
ALERTS_FAILED = Counter("tocsin_alerts_failed", "Alert deliveries that failed.", ["channel"])
ALERTS_UNREACHED = Counter("tocsin_alerts_unreached", "Alerts that reached nobody (none to reach, or all failed).")
ALERTS_ACKNOWLEDGED = Counter("tocsin_alerts_acknowledged", "Alerts acknowledged by their recipient.")
ALERT_DELIVERY_SECONDS = Histogram(
    "tocsin_alert_delivery_seconds", "From an alert's decision to its delivery.", ["channel"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 900),
)

# ---- audit ---------------------------------------------------------------------------------------------

AUDIT_VERIFICATIONS = Counter("tocsin_audit_verifications", "Audit chain verifications, by result.", ["result"])

# ---- HTTP (api) ----------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "tocsin_http_requests", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "tocsin_http_request_seconds", "Time to answer an HTTP request (to the end of its body), by route template.",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LIVE_STREAMS = Gauge("tocsin_live_streams_open", "Server-sent event streams open.", multiprocess_mode="livesum")

# Labels initialised so that every series exists from the start (a rate over a missing series is no rate).
for _channel in ALERT_CHANNELS:
    for _metric in (ALERTS_DECIDED, ALERTS_SENT, ALERTS_FAILED):
        _metric.labels(_channel)
for _result in ("ok", "failed"):
    AUDIT_VERIFICATIONS.labels(_result)

_CODE = re.compile(r"[a-z][a-z0-9-]{0,40}")


def note_received(timestamp: float) -> None:
    """A message arrived at `timestamp` (or, at start, the store's last one did): the gauge only moves on."""
    if timestamp > LAST_RECEIVED._value.get():
        LAST_RECEIVED.set(timestamp)


def reason_code(code: object) -> str:
    """A reason's code as a label: the known kebab-case codes, anything else "other"."""
    return code if isinstance(code, str) and _CODE.fullmatch(code) else "other"


class PoolCollector(Collector):
    """Connections of the store's pool (size, idle, waiting requests), read from psycopg_pool's counters
    at scrape time: no query. Registered once per process by `watch_pool`."""

    NAME, LABELS = "tocsin_db_pool_connections", ("pool", "state")

    def __init__(self) -> None:
        self.pools: dict[str, Callable[[], dict[str, int]]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.NAME, "Connections of a database pool, by state.", labels=self.LABELS)
        for name, stats in list(self.pools.items()):
            try:
                values = stats()
            except Exception:  # a closed pool: nothing to say
                continue
            size, idle = values.get("pool_size", 0), values.get("pool_available", 0)
            family.add_metric([name, "open"], size)
            family.add_metric([name, "in_use"], size - idle)
            family.add_metric([name, "idle"], idle)
            family.add_metric([name, "waiting"], values.get("requests_waiting", 0))
        yield family


POOLS = PoolCollector()
REGISTRY.register(POOLS)


def watch_pool(name: str, pool: Any) -> None:
    """Expose a psycopg_pool pool's usage under `name` (the last one of that name wins)."""
    POOLS.pools[name] = pool.get_stats


def multiprocess_mode() -> bool:
    return MULTIPROCESS_ENV in os.environ


def registry() -> CollectorRegistry:
    """What /metrics exposes: this process's registry or, in multiprocess mode, every server process's."""
    if not multiprocess_mode():
        return REGISTRY
    aggregated = CollectorRegistry()
    multiprocess.MultiProcessCollector(aggregated)
    aggregated.register(POOLS)  # the pool of the process that answers (a live gauge cannot be summed in files)
    return aggregated


def exposition() -> tuple[bytes, str]:
    """The text format and its content type."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def write_textfile(path: Path) -> None:
    """This process's metrics, atomically, to a file that node_exporter's textfile collector reads: for
    commands that end before any scrape (`tocsin audit verify --metrics-file`)."""
    write_to_textfile(str(path), REGISTRY)


def token_matches(expected: str | None, authorization: str | None) -> bool:
    """True when no token is configured, or `authorization` is `Bearer <that token>` (compared in constant time)."""
    if expected is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # scrapes are not worth a line each
        pass


Readiness = Callable[[], tuple[bool, dict[str, Any]]]  # ready or not, and the JSON body that says why


def serve_metrics(address: str, port: int, token: str | None,
                  ready: Readiness | None = None) -> tuple[WSGIServer, threading.Thread]:
    """`/metrics` on a port of its own, for a process without an HTTP app (the NATS ingester, the
    projection worker); the same token rule as the API's. `/healthz` and `/readyz` (`ready`) too, for
    the probes of systemd or Kubernetes. Shut down with `server.shutdown()`."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path in ("/healthz", "/readyz"):
            ok, state = (True, {"status": "ok"}) if path == "/healthz" or ready is None else ready()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps(state).encode()]
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not token_matches(token, environ.get("HTTP_AUTHORIZATION")):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"unauthorized\n"]
        body, content_type = exposition()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    server = make_server(address, port, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="tocsin-metrics", daemon=True)
    thread.start()
    return server, thread
