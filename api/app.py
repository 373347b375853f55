"""The HTTP application's factory: wires the routers (api/routes), the static files and the lifespan that
opens the services, the read model, the live hub and, by default, a projection worker.

NexSIS messages in; scoped views, cases, replays, the live stream and the dashboard out. Routes only
translate between HTTP and the layers below; what a request depends on is in api/dependencies.py, who
may see and do what in domain/access.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui_bundle  # type: ignore[import-untyped]  # ships no type information
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from adapters.identity.oidc import OidcClient
from adapters.identity.sessions import WebSessions
from adapters.services import Services, open_services
from adapters.store.replica import ReadReplica, read_source
from api.auth import AuthConfig, LoginLimit, Revocations
from api.observability import HttpMetrics
from api.observability import router as observability_router
from api.routes import (
    alert_settings,
    alerts,
    annuaire,
    audit,
    callouts,
    cases,
    crises,
    crisis_pages,
    dashboard,
    demandes,
    directory,
    live,
    logbook,
    login,
    messages,
    nexsis_requests,
    population_alerts,
    population_pages,
    push,
    replay,
    requests,
    session,
    territories,
    views,
)
from api.security_headers import SecurityHeaders
from domain.recipients import Recipients
from projections.read.model import ReadModel
from projections.read.queries import view_positions

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
DOCS_PAGE = Path(__file__).parent / "templates" / "docs.html"
# The web packages (package.json, installed by `make install`): at the repository's root, beside this package.
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
# What the pages load from them, served under /static/ (cacheable, same origin: no CDN).
WEB_PACKAGES = {
    "dsfr": "@gouvfr/dsfr/dist",
    "dsfr-chart": "@gouvfr/dsfr-chart",
    "leaflet": "leaflet/dist",
    "markercluster": "leaflet.markercluster/dist",
}


def web_packages(root: Path = NODE_MODULES) -> dict[str, Path]:
    """Each mount's folder; a clear error when the packages are missing (npm ci has not run)."""
    folders = {name: root / relative for name, relative in WEB_PACKAGES.items()}
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        raise RuntimeError(
            f"web packages not found ({', '.join(missing)}): the dashboard's design system and map are "
            "served from node_modules at the repository's root; run `make install` (npm ci) there first"
        )
    return folders


def create_app(services: Services | None = None, auth: AuthConfig | None = None,
               projections_worker: bool | None = None, alerting: bool | None = None,
               recipients: Recipients | None = None) -> FastAPI:
    """The app. `projections_worker`: also keep the views up to date in this process (a thread); by
    default as the settings say (Settings.projections_in_app; otherwise run `tocsin projections run`).
    `alerting`: likewise the alert policies and their delivery (Settings.dispatch_in_app; otherwise
    `tocsin alerts run`), asking `recipients` (default: adapters.alerting.recipients_for)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await run_in_threadpool(open_services)
        # Before the first request: a store's directory is seeded when it first serves (domain.directory).
        await run_in_threadpool(app.state.services.ensure_directory)
        app.state.auth = auth or AuthConfig.from_env(app.state.services.settings)
        open_login(app)
        if app.state.oidc is not None:  # the dashboard's login is the provider's; tokens for the API
            log.info("authentication: dashboard login with OpenID Connect; API bearer tokens: %s",
                     app.state.auth.describe())
        else:
            (log.warning if app.state.auth.demo_login or not app.state.auth.interactive_login else log.info)(
                "authentication: %s", app.state.auth.describe())
        app.state.revocations = Revocations(app.state.services.store)
        app.state.login_limit = LoginLimit()
        # The views are read where TOCSIN_READ_DATABASE_URL says (a standby), created first on the primary.
        await run_in_threadpool(view_positions, app.state.services.store)
        read_from = await run_in_threadpool(read_source, app.state.services.store)
        app.state.read_model = ReadModel(read_from, app.state.services.geography)
        worker = None
        if app.state.services.settings.projections_in_app if projections_worker is None else projections_worker:
            from projections.store.worker import run_in_thread

            worker = run_in_thread(app.state.services.store)
        from adapters.alerting import recipients_for, run_in_threads

        app.state.recipients = recipients or recipients_for(app.state.services)
        if not app.state.services.settings.cap_gateway_url:
            log.warning("no TOCSIN_CAP_GATEWAY_URL: alerts to the population are approved and recorded as CAP "
                        "messages, never published (each approval records why)")
        dispatch = None
        if app.state.services.settings.dispatch_in_app if alerting is None else alerting:
            dispatch = run_in_threads(app.state.services, app.state.recipients)
        app.state.live = live.LiveHub(app.state.services, app.state.read_model)
        await app.state.live.start()
        app.state.alert_feed = alerts.AlertFeed(app.state.services, app.state.live)
        await app.state.alert_feed.start()
        yield
        await app.state.alert_feed.stop()
        await app.state.live.stop()
        if dispatch is not None:
            dispatch[1].set()
            for thread in dispatch[0]:
                await run_in_threadpool(thread.join, 5)
        if worker is not None:
            worker[1].set()
            await run_in_threadpool(worker[0].join, 5)
        if isinstance(read_from, ReadReplica):
            await run_in_threadpool(read_from.close)
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
        # Starlette's trailing-slash redirect builds an absolute URL from the Host header: a forged Host
        # would send the browser elsewhere. Routes are declared without a trailing slash; others are 404.
        redirect_slashes=False,
        # The stock /docs and /redoc load their scripts from a CDN, inline: /docs is served below from the
        # swagger-ui-bundle package, under the same content security policy as the rest; no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HttpMetrics)  # outermost: it times the whole answer

    for module in (messages, session, territories, views, cases, live, audit, replay, dashboard, login, directory,
                   alerts, alert_settings, callouts, population_alerts, population_pages,
                   annuaire, crises, crisis_pages, logbook, push, nexsis_requests, requests,
                   demandes):
        app.include_router(module.router)
    app.include_router(observability_router)
    # The packages' mounts before /static, which would otherwise answer their paths with a 404.
    for name, folder in web_packages().items():
        app.mount(f"/static/{name}", StaticFiles(directory=folder), name=f"static-{name}")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE.read_text(encoding="utf-8"))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def open_login(app: FastAPI) -> None:
    """The dashboard's OpenID Connect login, when TOCSIN_OIDC_* are set (OidcConfigError, French, when they
    cannot work: the server does not start). Who may act comes from the directory (`services.directory`)."""
    services: Services = app.state.services
    app.state.oidc = OidcClient.from_settings(services.settings)
    if app.state.oidc is None:
        app.state.sessions = None
        return
    app.state.sessions = WebSessions(services.store, services.geography, services.directory)
    log.info("dashboard login: OpenID Connect, provider %s (discovery fetched at the first login)",
             app.state.oidc.issuer)

