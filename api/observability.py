"""What operators and orchestrators ask the API: `/metrics` (Prometheus), `/readyz` (readiness), and the
middleware that counts HTTP requests by route template and status.

`/healthz` (liveness: the process answers) stays beside the app's factory; `/readyz` says whether this
process can serve: the database answers and the views are within TOCSIN_READY_VIEW_LAG seconds of the
store, else 503 with a JSON reason. `/metrics` is open unless TOCSIN_METRICS_TOKEN is set (it carries
no personal data), and then asks for that token as a bearer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters import metrics
from projections.read.readiness import Readiness, views_readiness

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

READY_TIMEOUT = 3.0  # seconds: a probe must get an answer, even from a database that does not answer
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    settings = request.app.state.services.settings
    if not metrics.token_matches(settings.metrics_token, request.headers.get("authorization")):
        return JSONResponse({"detail": "jeton des métriques requis (Authorization: Bearer …)"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    body, content_type = await run_in_threadpool(metrics.exposition)
    return Response(body, media_type=content_type)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    services = request.app.state.services
    try:
        readiness = await asyncio.wait_for(
            run_in_threadpool(views_readiness, services.store, services.settings.ready_view_lag), READY_TIMEOUT)
    except TimeoutError:
        readiness = Readiness(False, "database_unreachable", {"error": "timeout"})
    if not readiness.ready:
        log.warning("not ready: %s", readiness.reason, extra={"readiness": readiness.as_dict()})
    return JSONResponse(readiness.as_dict(), status_code=200 if readiness.ready else 503)


class HttpMetrics:
    """Pure ASGI middleware: a counter and a latency histogram per (method, route template, status).

    The route is the template the router matched (`/api/v1/cases/{case_id}`, a mount's prefix), read
    from the scope once the app has answered, or "unmatched": never the path, which holds ids. The
    labelled children are looked up once per label set, then kept: a request costs two dictionary
    reads, a clock read and the two increments."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts an answer: an exception that escaped it

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            route, method = scope.get("route"), scope["method"]
            key = (method if method in METHODS else "other", getattr(route, "path", None) or "unmatched", status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = self._labelled(*key)
            children[0].inc()
            children[1].observe(elapsed)

    @staticmethod
    def _labelled(method: str, route: str, status: int) -> tuple[Any, Any]:
        return (metrics.HTTP_REQUESTS.labels(method, route, str(status)),
                metrics.HTTP_SECONDS.labels(method, route))
