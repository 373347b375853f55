"""The HTTP application: NexSIS messages in; scoped views, cases, live stream and dashboard out.

Routes only translate between HTTP and the adapters; they hold no logic of their own. Access is by
bearer token scoped to a territory (api.auth); posting messages needs a service-account token of role
`nexsis` (the CISU exchange platform), unless TOCSIN_INGEST_AUTH=open declares this listener trusted
(bound to a private network that only the exchange platform reaches).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from adapters.ingest.acknowledgement import acknowledgement
from adapters.ingest.ingestion import Incoming
from adapters.services import Services, open_services
from api.auth import UNAUTHENTICATED, AuthConfig, AuthError, token_from_request
from api.routes import audit as routes_audit
from api.routes import cases as routes_cases
from api.routes import dashboard, live
from api.routes import replay as routes_replay
from api.routes import territories as routes_territories
from api.routes import views as routes_views
from projections.read.model import ReadModel

log = logging.getLogger(__name__)

MESSAGE_EXAMPLE = "EDXL-DE 2.0 + RC-DE + un cas d'usage CISU (createCase, emsi, resourcesInfoCisu, reference)"
STATIC = Path(__file__).parent / "static"


def create_app(services: Services | None = None, auth: AuthConfig | None = None,
               projections_worker: bool | None = None) -> FastAPI:
    """The app. `projections_worker`: also keep the views up to date in this process (a thread); by
    default yes unless TOCSIN_PROJECTIONS_IN_APP=0 (then run `tocsin projections run` workers)."""
    if projections_worker is None:
        projections_worker = os.environ.get("TOCSIN_PROJECTIONS_IN_APP", "1") != "0"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await run_in_threadpool(open_services)
        app.state.auth = auth or AuthConfig.from_env(app.state.services.settings)
        app.state.read_model = ReadModel(app.state.services.store, app.state.services.geography)
        worker = None
        if projections_worker:
            from projections.store.worker import run_in_thread

            worker = run_in_thread(app.state.services.store)
        app.state.live = live.LiveHub(app.state.services, app.state.read_model)
        await app.state.live.start()
        yield
        await app.state.live.stop()
        if worker is not None:
            worker[1].set()
            await run_in_threadpool(worker[0].join, 5)
        if owned:
            app.state.services.close()

    app = FastAPI(
        title="Tocsin",
        summary="Plateforme d'information de crise alimentée par les messages NexSIS (CISU)",
        description=(
            "Accès par jeton porteur (`Authorization: Bearer …`, JWT signé) portant un rôle et un territoire : "
            "chaque rôle voit son territoire et ce qu'il contient, rien d'autre. "
            "En local : `tocsin token --role mayor --territory 35238`."
        ),
        version="0.2.0",
        lifespan=lifespan,
    )

    def ingest_allowed(request: Request) -> None:
        config: AuthConfig = request.app.state.auth
        if config.ingest_open:
            return
        token = token_from_request(request)
        if token is None:
            raise HTTPException(401, UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        try:
            principal = config.principal(token, request.app.state.services.geography)
        except AuthError as e:
            raise HTTPException(401, str(e), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from e
        if not principal.role.ingests:
            raise HTTPException(403, "seul un compte de service NexSIS (rôle nexsis) peut déposer des messages")

    @app.post(
        "/api/v1/messages",
        tags=["Messages NexSIS"],
        summary="Recevoir un message NexSIS",
        description=(
            f"Corps : un message complet ({MESSAGE_EXAMPLE}), en `application/json` ou `application/xml`. "
            "Réponse : un acquittement RC-REF (étape `RECU`) si le message est accepté ou déjà reçu, "
            "sinon un message d'erreur CISU qui donne les raisons ; le message refusé est gardé en quarantaine. "
            "Jeton d'un compte de service de rôle `nexsis` requis (sauf écoute de confiance, TOCSIN_INGEST_AUTH=open)."
        ),
        responses={200: {"description": "Acquittement RC-REF"}, 422: {"description": "Message refusé, en quarantaine"}},
        dependencies=[Depends(ingest_allowed)],
    )
    async def post_message(request: Request) -> Response:
        services: Services = request.app.state.services
        raw = await _read_capped(request, services.settings.max_message_bytes)
        incoming = Incoming(raw, request.headers.get("content-type"), source="http")
        outcome = await run_in_threadpool(services.ingestor.ingest, incoming)
        status, body, content_type = acknowledgement(outcome)
        headers = {"X-Tocsin-Outcome": outcome.status}
        if outcome.quarantine_id is not None:
            headers["X-Tocsin-Quarantine-Id"] = str(outcome.quarantine_id)
        return Response(body, status_code=status, media_type=content_type, headers=headers)

    for module in (routes_territories, routes_views, routes_cases, live, routes_audit, routes_replay, dashboard):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _read_capped(request: Request, limit: int) -> bytes:
    """Read the body but stop one byte past the limit: the parser then refuses it as too large,
    and the first megabyte is kept in quarantine for inspection."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > 16 * limit:
        raise HTTPException(413, f"message trop volumineux : {declared} octets (limite {limit})")
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]


app = create_app()
