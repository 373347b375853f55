"""`tocsin`: the command line. Each command translates arguments into one adapter call and prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from api.cli.french import SUBCOMMAND, install
from api.cli.support import JsonOption, open_services_from_env, print_json
from domain.local_time import PARIS, format_local

install()  # Typer's and Click's own texts in French (« Afficher ce message et quitter. »)

app = typer.Typer(
    help="Tocsin : plateforme d'information de crise alimentée par les messages NexSIS.",
    no_args_is_help=True, subcommand_metavar=SUBCOMMAND,
    add_completion=False,
)
quarantine_app = typer.Typer(help="Messages refusés, gardés avec leurs raisons.", no_args_is_help=True,
                             subcommand_metavar=SUBCOMMAND)
case_app = typer.Typer(help="Affaires (cas) : état courant et historique.", no_args_is_help=True,
                       subcommand_metavar=SUBCOMMAND)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(case_app, name="case")





@quarantine_app.command("list")
def quarantine_list(
    as_json: JsonOption = False,
    all_entries: Annotated[bool, typer.Option("--all", help="Inclure les messages déjà réintégrés.")] = False,
) -> None:
    """Lister les messages en quarantaine et leurs raisons."""
    from adapters.ingest.quarantine import list_entries

    entries = list_entries(open_services_from_env().store, include_resolved=all_entries)
    if as_json:
        print_json([e.as_dict() for e in entries])
        return
    if not entries:
        typer.echo("Aucun message en quarantaine.")
    for e in entries:
        received = format_local(e.received_at, PARIS, seconds=True)
        typer.echo(f"#{e.id} [{e.status}] reçu le {received} via {e.source} ({e.size} octets)")
        typer.echo(f"    distributionID : {e.distribution_id or 'illisible'}")
        for reason in e.reasons:
            typer.echo(f"    - {reason['path'] or '$'} : {reason['message']}")


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[int, typer.Argument(help="Numéro de l'entrée.")],
    raw: Annotated[bool, typer.Option("--raw", help="Écrire les octets reçus sur la sortie standard.")] = False,
) -> None:
    """Afficher une entrée de quarantaine (ou ses octets bruts)."""
    from adapters.ingest.quarantine import get_entry

    found = get_entry(open_services_from_env().store, entry_id)
    if found is None:
        typer.echo(f"entrée de quarantaine inconnue : {entry_id}", err=True)
        raise typer.Exit(1)
    entry, body = found
    if raw:
        sys.stdout.buffer.write(body)
    else:
        print_json(entry.as_dict())


@quarantine_app.command("retry")
def quarantine_retry(
    entry_id: Annotated[int, typer.Argument(help="Numéro de l'entrée.")],
    file: Annotated[Path | None, typer.Option(help="Version corrigée du message à ingérer à la place.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Réingérer un message en quarantaine, tel quel ou corrigé."""
    from adapters.ingest.use_cases import retry_quarantined

    services = open_services_from_env()
    outcome = retry_quarantined(services.ingestor, entry_id, file.read_bytes() if file else None)
    if outcome is None:
        typer.echo(f"entrée de quarantaine inconnue : {entry_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        print_json(outcome.__dict__)
    elif outcome.status == "quarantined":
        typer.echo("toujours refusé : " + "; ".join(r["message"] for r in outcome.reasons))
    else:
        how = "doublon" if outcome.status == "duplicate" else "accepté"
        typer.echo(f"réintégré : {outcome.distribution_id} ({how})")
    if outcome.status == "quarantined":
        raise typer.Exit(1)


@case_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument(help="Identifiant CISU de l'affaire (caseId).")],
    as_json: JsonOption = False,
    personal: Annotated[bool, typer.Option(help="Inclure les données personnelles.")] = False,
) -> None:
    """Afficher l'état courant d'une affaire et les événements qui l'ont construit."""
    from projections.read.case import case_view

    services = open_services_from_env()
    view = case_view(services.store, services.geography, case_id, personal=personal)
    if view is None:
        typer.echo(f"affaire inconnue : {case_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        print_json({"state": view.state, "events": view.events})
        return
    r = view.state["readable"]
    zone = ZoneInfo(r["time_zone"])
    echo = typer.echo
    echo(f"Affaire {case_id} — {r['title']}")
    closed = f", close le {r['closed']}" if r["closed"] else ""
    echo(f"  État : {r['status_text']} ; ouverte le {r['opened']}{closed}")
    echo(f"  Lieu : {r['place']}" + (f" — {r['where']}" if r["where"] else ""))
    for note in view.state["where"]["notes"]:
        echo(f"    note : {note}")
    if r["location_kind"]:
        echo(f"  Type de lieu : {r['location_kind']}")
    if r["risks"]:
        echo(f"  Risques : {', '.join(r['risks'])}")
    for item in r["situation"]:
        echo(f"  {item['label']} : {item['text']}")
    echo("  Victimes :")
    for line in r["victims"]["lines"]:
        echo(f"    {line}")
    echo(f"  Moyens engagés : {r['resources_text']}")
    for res in r["resources"]:
        kind = f" ({res['kind']})" if res["kind"] else ""
        since = f", depuis le {res['since']}" if res["since"] else ""
        echo(f"    {res['name']}{kind} : {res['status']}{since}")
    if r["nexsis_requests"]:
        echo("  Demandes entre services (NexSIS) :")
        for q in r["nexsis_requests"]:
            details = [f"délai demandé : {q['deadline_text']}"] if q["deadline_text"] else []
            if q["answer_text"]:
                details.append(f"réponse : {q['answer_text']}")
            extra = f" ({', '.join(details)})" if details else ""
            echo(f"    {q['kind_label']} — {q['from_label']} → {q['to_label']} : {q['status_text']}{extra}")
    if r["personal"]:
        echo("  Données personnelles :")
        for item in r["personal"]:
            echo(f"    {item['label']} : {item['text']}")
    echo(f"  Chronologie ({len(r['chronology'])} messages, le plus récent d'abord) :")
    for entry in r["chronology"]:
        echo(f"    {entry['when']} — {entry['title']} ({entry['by']}) : {' ; '.join(entry['changes'])}")
    echo(f"  Provenance des {len(view.events)} événements :")
    for e in view.events:
        p = e["provenance"]
        echo(
            f"    v{e['version']} — {p['kind']} de {p['sender_id']} envoyé le {format_local(p['sent_at'], zone)}, "
            f"reçu le {format_local(p['received_at'], zone, seconds=True)}"
            f" (distributionID {p['distribution_id']}, sha256 {p['sha256'][:16]}…)"
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Adresse d'écoute.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port d'écoute.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processus serveurs (un par cœur).")] = 1,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Mode démonstration : connexion avec un rôle au choix, sans contrôle d'identité "
                       "(jamais en production ; refusé si un fournisseur d'identité est configuré).")] = False,
) -> None:
    """Servir l'API et le tableau de bord."""
    import uvicorn

    from adapters.logs import logging_config
    from adapters.settings import Settings
    from api.cli.http_limits import server_options
    from api.cli.shutdown import exit_cleanly_on_sigterm

    log_config = logging_config(Settings.from_env(), "api")

    if demo:
        if workers != 1:
            raise typer.BadParameter("le mode démonstration tourne sur un seul processus", param_hint="--workers")
        from api.app import create_app
        from api.cli.run import demo_auth_config

        auth = demo_auth_config()
        _seed_demo_people()
        exit_cleanly_on_sigterm()
        uvicorn.run(create_app(auth=auth), host=host, port=port, log_level="info", log_config=log_config,
                    **server_options())
        return
    from adapters.identity.oidc import config_error
    from adapters.settings import Settings

    if (error := config_error(Settings.from_env())) is not None:  # before anything starts
        typer.echo(f"Erreur : {error}", err=True)
        raise typer.Exit(2)
    exit_cleanly_on_sigterm()  # the embedded servers' exit handlers must run
    if workers == 1:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info", log_config=log_config,
                    **server_options())
    else:
        _serve_with_workers(host, port, workers)


def _serve_with_workers(host: str, port: int, workers: int) -> None:
    """One projection worker for all server processes, here; the servers only read the views.

    Uvicorn starts its server processes from an import string, so no Settings object can be handed to
    them: each reads its own from the environment, once (`Settings.from_env`). What differs for them (no
    projection worker of their own) goes in their environment only, PROJECTIONS_IN_APP=0, by running
    uvicorn as a child process with that environment; this process's own environment, and the settings
    it read from it, are left as they are.

    The servers count their metrics in Prometheus's multiprocess mode (a folder of their own, given
    them as PROMETHEUS_MULTIPROC_DIR), so that `/metrics`, whichever server answers, adds up all of
    them; this process's own (the projection worker's) are on TOCSIN_METRICS_PORT when it is set. They
    log as configured here (a file uvicorn reads, --log-config)."""
    import json
    import os
    import shutil
    import signal
    import subprocess
    import tempfile

    from adapters.alerting import run_in_threads
    from adapters.logs import logging_config
    from adapters.metrics import MULTIPROCESS_ENV, serve_metrics
    from adapters.settings import DISPATCH_IN_APP, PROJECTIONS_IN_APP
    from api.cli.http_limits import cli_options
    from projections.store.worker import run_in_thread

    services = open_services_from_env()
    settings = services.settings
    # In the data folder, which the service may write (deploy/systemd: ProtectSystem=strict), not /tmp.
    (settings.data_dir / "run").mkdir(parents=True, exist_ok=True)
    runtime = Path(tempfile.mkdtemp(prefix="serve-", dir=settings.data_dir / "run"))
    (runtime / "metrics").mkdir()
    (runtime / "logging.json").write_text(json.dumps(logging_config(settings, "api")))
    exporter = None
    if settings.metrics_port is not None:
        exporter, _ = serve_metrics(settings.metrics_address, settings.metrics_port, settings.metrics_token)
    thread, stop = run_in_thread(services.store)
    # Likewise the alert policies and their delivery: once, here, unless run apart (`tocsin alerts run`).
    alerting = run_in_threads(services) if services.settings.dispatch_in_app else None
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", host,
               "--port", str(port), "--workers", str(workers), "--log-level", "info",
               "--log-config", str(runtime / "logging.json"), *cli_options()]
    env = {**os.environ, PROJECTIONS_IN_APP: "0", DISPATCH_IN_APP: "0", MULTIPROCESS_ENV: str(runtime / "metrics")}
    server = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())  # uvicorn then stops its servers gracefully
    try:
        code = server.wait()
    finally:
        if server.poll() is None:  # interrupted (Ctrl-C reaches both processes): let the servers finish
            server.terminate()
            server.wait()
        stop.set()
        thread.join(5)
        if alerting is not None:
            alerting[1].set()
            for t in alerting[0]:
                t.join(5)
        services.close()
        if exporter is not None:
            exporter.shutdown()
        shutil.rmtree(runtime, ignore_errors=True)
    if code:
        raise typer.Exit(code)


def _seed_demo_people() -> None:
    """The fictitious people the demonstration login offers, as `tocsin run` seeds them (idempotent)."""
    from adapters.directory.demo import seed_demo_people
    from adapters.services import open_services

    services = open_services()
    try:
        seed_demo_people(services)
    finally:
        services.close()


def _register_all() -> None:
    from api.cli import alerts as cli_alerts
    from api.cli import crisis as cli_crisis
    from api.cli import directory as cli_directory
    from api.cli import ingest as cli_nats
    from api.cli import logbook as cli_logbook
    from api.cli import population_alerts as cli_population
    from api.cli import projections as cli_projections
    from api.cli import replay as cli_replay
    from api.cli import request as cli_request
    from api.cli import run as cli_run
    from api.cli import tokens as cli_api

    for module in (cli_nats, cli_projections, cli_replay, cli_api, cli_run, cli_directory, cli_alerts,
                   cli_population, cli_crisis, cli_logbook, cli_request):
        module.register(app)


_register_all()


# The `process` field of the logs, by command: which of Tocsin's processes wrote a line.
PROCESS_NAMES = {"serve": "api", "run": "all-in-one", "ingest": "ingester", "projections": "worker"}


def main() -> None:
    from adapters.logs import configure
    from adapters.settings import Settings

    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "cli")
    configure(Settings.from_env(), PROCESS_NAMES.get(command, command))
    app()


if __name__ == "__main__":
    main()
