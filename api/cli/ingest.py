"""`tocsin ingest`, `tocsin simulate` and `tocsin status`, with NATS JetStream.

    `api.cli.main` calls register(app) to add the three commands to `tocsin`. They keep the file, folder and
    HTTP behaviour of the first versions and add `--nats`:
    - ingest --nats [--drain] [--subject S] [--stream N] [--batch-size B] [--json]: consume the stream
      (TOCSIN_NATS_URL, else the embedded server) until SIGTERM/SIGINT, or with --drain until what the
      stream held at start is ingested;
    - simulate --nats [--subject S] [--stream N]: publish the simulated crisis to the stream;
    - status [--json]: events, quarantine, positions, and the NATS position and lag.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.support import JsonOption, print_json
from domain.local_time import PARIS, format_local

SubjectOption = Annotated[
    str | None, typer.Option("--subject", help="Sujet NATS (défaut : TOCSIN_NATS_SUBJECT, sinon nexsis.>).")
]
StreamOption = Annotated[
    str | None, typer.Option("--stream", help="Flux JetStream (défaut : TOCSIN_NATS_STREAM, sinon NEXSIS).")
]


def register(app: typer.Typer) -> None:
    """Add (or replace) the `ingest`, `simulate` and `status` commands of `app`."""
    names = {"ingest", "simulate", "status"}
    app.registered_commands[:] = [
        c for c in app.registered_commands if (c.name or getattr(c.callback, "__name__", "")) not in names
    ]
    app.command("ingest")(ingest)
    app.command("simulate")(simulate)
    app.command("status")(status)


def _settings(subject: str | None = None, stream: str | None = None) -> Any:
    from adapters.settings import Settings

    settings = Settings.from_env()
    return dataclasses.replace(
        settings, nats_subject=subject or settings.nats_subject, nats_stream=stream or settings.nats_stream
    )



def _wire_files(paths: list[Path]) -> list[Path]:
    from adapters.ingest.use_cases import WIRE_SUFFIXES

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in WIRE_SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            raise typer.BadParameter(f"introuvable : {path}")
    return files


def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Fichiers de messages (.json, .xml) ou dossiers.", show_default=False)
    ] = None,
    nats: Annotated[
        bool, typer.Option("--nats", help="Consommer le flux NATS JetStream (TOCSIN_NATS_URL, sinon serveur embarqué).")
    ] = False,
    drain: Annotated[
        bool, typer.Option("--drain", help="Avec --nats : ingérer ce que contient le flux, puis s'arrêter.")
    ] = False,
    subject: SubjectOption = None,
    stream: StreamOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Messages par transaction.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Ingérer des messages NexSIS depuis des fichiers, des dossiers ou le flux NATS JetStream."""
    if nats:
        if paths:
            raise typer.BadParameter("indiquez des fichiers ou --nats, pas les deux")
        _ingest_nats(_settings(subject, stream), drain=drain, batch_size=batch_size, as_json=as_json)
    elif paths:
        _ingest_files(paths, batch_size=batch_size, as_json=as_json)
    else:
        raise typer.BadParameter("indiquez des fichiers, des dossiers ou --nats")


def _ingest_files(paths: list[Path], *, batch_size: int, as_json: bool) -> None:
    from adapters.ingest.use_cases import ingest_files
    from adapters.services import open_services

    services = open_services(_settings())
    counts: Counter[str] = Counter()
    files = _wire_files(paths)
    for file, outcome in ingest_files(services.ingestor, files, batch_size):
        counts[outcome.status] += 1
        if outcome.status == "quarantined" and not as_json:
            reasons = "; ".join(r["message"] for r in outcome.reasons)
            typer.echo(f"quarantaine #{outcome.quarantine_id} : {file} : {reasons}", err=True)
    summary = {"accepted": counts["accepted"], "duplicates": counts["duplicate"], "quarantined": counts["quarantined"]}
    if as_json:
        print_json(summary)
    else:
        typer.echo(
            f"{len(files)} messages : {summary['accepted']} acceptés, {summary['duplicates']} doublons, "
            f"{summary['quarantined']} en quarantaine"
        )


def _ingest_nats(settings: Any, *, drain: bool, batch_size: int, as_json: bool) -> None:
    from adapters.nats.ingester import NatsIngester
    from adapters.nats.server import nats_url
    from adapters.services import open_services

    services = open_services(settings)  # several at once on a new schema: the store serialises its creation
    exporter = None
    try:
        with nats_url(settings) as url:
            ingester = NatsIngester(services, url, batch_size=batch_size, drain=drain)
            exporter = _serve_metrics(settings, services, ingester)
            summary = asyncio.run(_until_signalled(ingester))
    except RuntimeError as error:  # --drain gave up: the stream or the database stayed out of reach
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    finally:
        if exporter is not None:
            exporter.shutdown()
        services.close()
    result = {**summary.as_dict(), "stream": settings.nats_stream}
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"Flux {settings.nats_stream} : {result['accepted']} acceptés, {result['duplicates']} doublons, "
        f"{result['quarantined']} en quarantaine (dont {result['poison']} en échec répété), "
        f"{result['skipped']} déjà enregistrés ; position {result['position']}"
        + (f" ; {result['messages_per_s']:.0f} messages/s" if result["messages_per_s"] else "")
    )
    if result["rereads"]:
        typer.echo(
            "Attention : flux recréé ou tronqué depuis la dernière lecture, relu depuis son début (voir le journal)",
            err=True,
        )
    if result["lost"]:
        typer.echo(
            f"Attention : {result['lost']} messages absents du flux avant leur ingestion (voir tocsin status)", err=True
        )


def _serve_metrics(settings: Any, services: Any, ingester: Any) -> Any:
    """/metrics, /healthz and /readyz on TOCSIN_METRICS_PORT when it is set: ready when the database
    answers and the connection to NATS is up (whether this ingester leads or stands by)."""
    if settings.metrics_port is None:
        return None
    from adapters.metrics import serve_metrics
    from projections.read.readiness import database_reachable

    def ready() -> tuple[bool, dict]:
        database = database_reachable(services.store)
        if not database.ready:
            return False, database.as_dict()
        if not ingester.nats_connected:
            return False, {"status": "not_ready", "reason": "nats_unreachable"}
        return True, {"status": "ready"}

    return serve_metrics(settings.metrics_address, settings.metrics_port, settings.metrics_token, ready)[0]


async def _until_signalled(ingester: Any) -> Any:
    """Run the ingester; SIGTERM or SIGINT lets the batch in hand commit, then stops cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await ingester.run(stop)


def simulate(
    scenario: Annotated[
        str, typer.Option(help="Scénario : storm (tempête), wildfire (feu de forêt), flood (inondation).")
    ] = "storm",
    size: Annotated[int, typer.Option(min=1, max=1_000_000, help="Nombre de messages.")] = 1000,
    seed: Annotated[int, typer.Option(help="Graine (même graine, même crise).")] = 1,
    out: Annotated[Path | None, typer.Option(help="Dossier où écrire un fichier par message.")] = None,
    http: Annotated[str | None, typer.Option(help="URL de Tocsin où poster les messages.")] = None,
    token: Annotated[str | None, typer.Option(
        envvar="TOCSIN_TOKEN",
        help="Avec --http : jeton d'un compte de service NexSIS (tocsin token --role nexsis --territory national:FR).",
    )] = None,
    nats: Annotated[
        bool,
        typer.Option("--nats", help="Publier sur le flux NATS JetStream (TOCSIN_NATS_URL, sinon serveur embarqué)."),
    ] = False,
    subject: SubjectOption = None,
    stream: StreamOption = None,
    xml_ratio: Annotated[float, typer.Option(min=0.0, max=1.0, help="Part des messages en XML.")] = 0.7,
) -> None:
    """Simuler une crise réaliste : messages NexSIS valides, écrits, envoyés ou publiés."""
    from adapters.simulator import simulate as generate
    from adapters.simulator import write_messages

    messages = generate(scenario, size=size, seed=seed, xml_ratio=xml_ratio)
    if out is not None:
        count = write_messages(messages, out)
        typer.echo(f"{count} messages écrits dans {out}")
    elif http is not None:
        _post_all(messages, http.rstrip("/") + "/api/v1/messages", token)
    elif nats:
        settings = _settings(subject, stream)
        count = _publish_all(settings, messages)
        typer.echo(f"{count} messages publiés sur le flux {settings.nats_stream} ({settings.nats_subject})")
    else:
        raise typer.BadParameter("indiquez --out DOSSIER, --http URL ou --nats")


def _post_all(messages: Any, url: str, token: str | None) -> None:
    import httpx

    counts: Counter[str] = Counter()
    # Posting needs a `nexsis` token, except on a demonstration server or a trusted listener.
    authorization = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(timeout=30) as client:
        for m in messages:
            response = client.post(url, content=m.raw, headers={"content-type": m.content_type, **authorization})
            counts[response.headers.get("x-tocsin-outcome", str(response.status_code))] += 1
    typer.echo(", ".join(f"{k} : {v}" for k, v in sorted(counts.items())))


def _publish_all(settings: Any, messages: Any) -> int:
    from adapters.nats.server import connect, nats_url
    from adapters.nats.stream import Publishable, ensure_stream, publish

    async def run(url: str) -> int:
        nc = await connect(url, name="tocsin-simulate")
        try:
            js = nc.jetstream()
            await ensure_stream(js, settings)
            return await publish(js, settings, (Publishable(m.raw, m.content_type, m.kind) for m in messages))
        finally:
            await nc.close()

    with nats_url(settings) as url:
        return asyncio.run(run(url))


def status(
    as_json: JsonOption = False,
    subject: SubjectOption = None,
    stream: StreamOption = None,
) -> None:
    """État de la plateforme : événements stockés, quarantaine, positions et retard de l'ingestion NATS."""
    from adapters.nats.gaps import describe
    from adapters.nats.status import ingestion_status
    from adapters.store.event_store import open_store

    settings = _settings(subject, stream)
    result = ingestion_status(settings, open_store(settings))
    events, positions, last = result["events"], result["positions"], result["last_received"]
    if as_json:
        print_json(result)
        return
    typer.echo(f"Événements stockés : {events} (dont messages NexSIS : {result['messages']})")
    typer.echo(f"Messages en quarantaine : {result['quarantined']}")
    typer.echo(f"Dernier message NexSIS reçu : {format_local(last, PARIS, seconds=True, never='aucun')}")
    for p in positions:
        updated = format_local(p["updated_at"], PARIS, seconds=True)
        typer.echo(f"Position {p['source']} : {p['position']}, mise à jour le {updated}")
    nats_state = result.get("nats")
    if nats_state is None:
        return
    if "error" in nats_state:
        typer.echo(f"NATS {nats_state['stream']} : {nats_state['error']}", err=True)
    elif not nats_state["exists"]:
        typer.echo(f"Flux NATS {nats_state['stream']} : inexistant")
    else:
        typer.echo(
            f"Flux NATS {nats_state['stream']} : dernier message n° {nats_state['last_seq']}, "
            f"position d'ingestion {nats_state['position']}, retard {nats_state['lag']} messages"
        )
        if nats_state["unlike_what_was_read"]:
            typer.echo(
                f"Attention : flux recréé ou tronqué ({nats_state['unlike_what_was_read']}) : "
                "l'ingestion le relira depuis son début, sans doublon"
            )
    lost = nats_state["lost"]
    if lost["messages"]:
        typer.echo(f"Messages absents du flux avant leur ingestion, perdus pour Tocsin : {lost['messages']}")
        for gap in lost["gaps"]:
            typer.echo(f"  {describe((gap['first_seq'], gap['last_seq']), gap['detected_at'])}")
