"""`tocsin run`: the main job, all in one process, through the same path as production.

A seeded crisis is published to NATS JetStream (the embedded server unless TOCSIN_NATS_URL is set),
the NATS ingester commits it to PostgreSQL (embedded unless TOCSIN_DATABASE_URL is set), the app folds
the views and serves the dashboard. The crisis is timed to end a little after start-up: what had
already happened is published at once, the rest at its own sent time, so the dashboard is live.

It is the demonstration: anyone who reaches it signs in with the role of their choice, so it refuses
to start where an identity provider is configured (a production server), like `tocsin serve --demo`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from adapters.settings import Settings
    from api.auth import AuthConfig

log = logging.getLogger(__name__)
LIVE_TAIL = timedelta(minutes=20)  # the part of the crisis that arrives while the dashboard is open


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def demo_auth_config(settings: Settings | None = None) -> AuthConfig:
    """Demonstration mode's authentication, or exit 2 where an identity provider is configured."""
    from adapters.settings import Settings
    from api.auth import AuthConfig, DemoRefused

    try:
        return AuthConfig.from_env(settings or Settings.from_env(), demo=True)
    except DemoRefused as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e


def run(
    scenario: Annotated[
        str, typer.Option(help="Scénario : storm (tempête), wildfire (feu de forêt), flood (inondation).")
    ] = "storm",
    size: Annotated[int, typer.Option(min=100, max=1_000_000, help="Nombre de messages simulés.")] = 3000,
    seed: Annotated[int | None, typer.Option(
        help="Graine (même graine, même crise ; par défaut une nouvelle crise à chaque lancement).")] = None,
    host: Annotated[str, typer.Option(help="Adresse d'écoute.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port d'écoute.")] = 8000,
) -> None:
    """Tout-en-un : publier une crise simulée sur NATS, l'ingérer en direct et servir le tableau de bord."""
    import uvicorn

    from adapters.nats.server import nats_url
    from adapters.services import open_services
    from adapters.settings import Settings
    from adapters.simulator.timeline import crisis_hours

    # A new crisis each time by default: replaying the same seed would only give duplicates (same
    # distributionIDs), and the dashboard would show yesterday's crisis with nothing live.
    seed = seed if seed is not None else int(time.time())
    settings = Settings.from_env()
    auth = demo_auth_config(settings)  # before anything starts
    services = open_services(settings)
    from adapters.directory.demo import seed_demo_people

    seed_demo_people(services)  # the people the demonstration login offers (idempotent)
    start = datetime.now(UTC) + LIVE_TAIL - timedelta(hours=crisis_hours(size))
    stop = threading.Event()
    with nats_url(settings) as url:
        feeder = threading.Thread(target=_feed, args=(settings, url, scenario, size, seed, start, stop),
                                  name="tocsin-feed", daemon=True)
        ingester = threading.Thread(target=_ingest, args=(services, url, stop), name="tocsin-ingest", daemon=True)
        ingester.start()
        feeder.start()
        typer.echo(f"Crise simulée « {scenario} » (graine {seed}, {size} messages) publiée sur NATS ({url}) "
                   "et ingérée en direct.")
        typer.echo(f"Tableau de bord : http://{host}:{port}/  (mode démonstration : connexion avec un rôle au choix, "
                   "sans contrôle d'identité ; ne pas utiliser en production)")
        from adapters.logs import logging_config
        from api.app import create_app
        from api.cli.http_limits import server_options
        from api.cli.shutdown import exit_cleanly_on_sigterm

        exit_cleanly_on_sigterm()  # so that the clean-up below runs
        try:
            uvicorn.run(create_app(services, auth), host=host, port=port, log_level="info",
                        log_config=logging_config(settings, "all-in-one"), **server_options())
        finally:
            stop.set()
            feeder.join(5)
            ingester.join(10)
            services.close()


def _feed(settings: Any, url: str, scenario: str, size: int, seed: int, start: datetime, stop: threading.Event) -> None:
    """Publish what has already happened at once, then each later message at its sent time."""
    from adapters.nats.server import connect
    from adapters.nats.stream import Publishable, ensure_stream, publish
    from adapters.simulator import simulate

    async def feed() -> None:
        nc = await connect(url, name="tocsin-run-feed")
        try:
            js = nc.jetstream()
            await ensure_stream(js, settings)
            pending: list[Any] = []
            for m in simulate(scenario, size=size, seed=seed, start=start):
                wait = (m.sent_at - datetime.now(UTC)).total_seconds()
                if wait > 0 and pending:  # flush the backlog before waiting
                    await publish(js, settings, pending)
                    pending = []
                while wait > 0 and not stop.is_set():
                    await asyncio.sleep(min(wait, 0.5))
                    wait = (m.sent_at - datetime.now(UTC)).total_seconds()
                if stop.is_set():
                    return
                pending.append(Publishable(m.raw, m.content_type, m.kind))
                if len(pending) >= 1000:
                    await publish(js, settings, pending)
                    pending = []
            if pending:
                await publish(js, settings, pending)
        finally:
            await nc.close()

    try:
        asyncio.run(feed())
    except Exception:  # the dashboard stays up on what was published
        log.exception("simulated feed stopped")


def _ingest(services: Any, url: str, stop: threading.Event) -> None:
    from adapters.nats.ingester import NatsIngester

    async def consume() -> None:
        done, loop = asyncio.Event(), asyncio.get_running_loop()
        threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True).start()
        await NatsIngester(services, url).run(done)

    try:
        asyncio.run(consume())
    except Exception:
        log.exception("NATS ingestion stopped")

