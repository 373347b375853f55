"""`tocsin alerts …`: list, acknowledge, and run the alert policies and their delivery apart from the server.

api/cli/main.py adds them to the `tocsin` app with `register(app)`.
"""

from __future__ import annotations

import getpass
import signal
import threading
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from api.cli.support import JsonOption, open_services_from_env, print_json

alerts_app = typer.Typer(help="Alertes : qui a été alerté, par quel canal, qui a accusé réception.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def _local(iso: str | None, zone: str) -> str:
    if not iso:
        return "-"
    return f"{datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)):%d/%m/%Y %H:%M:%S} ({zone})"


@alerts_app.command("list")
def list_alerts(
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Nombre d'alertes, les plus récentes d'abord.")] = 100,
) -> None:
    """Lister les alertes : raison, sujet, personnes alertées, canaux, accusé de réception."""
    from adapters.notify.use_cases import visible_alerts

    services = open_services_from_env()
    try:
        items = visible_alerts(services.store, None, limit)
    finally:
        services.close()
    if as_json:
        print_json(items)
        return
    if not items:
        typer.echo("Aucune alerte.")
    for a in items:
        zone = (a.get("details") or {}).get("time_zone") or "Europe/Paris"
        typer.echo(f"{a['id']}  {_local(a['raised_at'], zone)}  {a['reason']}")
        typer.echo(f"    sujet : {a['subject']} ; organisation : {a['organisation_id']}")
        people = ", ".join(p["name"] for p in a["people_reached"]) or "personne (aucun contact dans l'annuaire)"
        typer.echo(f"    personnes alertées : {people} ; canaux : {', '.join(a['channels'])}")
        for d in a["deliveries"]:
            typer.echo(f"      {d['channel']} → {d['person_id']} : {d['status']}"
                       + (f" ({d['reason']})" if d.get("reason") else ""))
        if a.get("unreached"):
            typer.echo(f"    N'A JOINT PERSONNE ({_local(a['unreached']['at'], zone)}) : {a['unreached']['reason']}")
        if a["acknowledged_at"]:
            by = a["acknowledged_by"] or {}
            typer.echo(f"    accusé de réception : {_local(a['acknowledged_at'], zone)} par {by.get('name')}"
                       f" ({by.get('channel')})")
        else:
            typer.echo("    accusé de réception : aucun")


@alerts_app.command("ack")
def ack(alert_id: Annotated[str, typer.Argument(help="Identifiant de l'alerte (voir `tocsin alerts list`).")],
        as_json: JsonOption = False) -> None:
    """Accuser réception d'une alerte (en tant qu'opérateur du serveur)."""
    from adapters.notify.use_cases import UnknownAlert, acknowledge_as_operator

    services = open_services_from_env()
    try:
        outcome = acknowledge_as_operator(services.store, alert_id, getpass.getuser())
    except UnknownAlert as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()
    if as_json:
        print_json(outcome.as_dict())
    elif outcome.recorded:
        typer.echo(f"Accusé de réception enregistré pour l'alerte {alert_id}.")
    else:
        by = outcome.alert.acknowledged_by or {}
        typer.echo(f"Alerte déjà acquittée par {by.get('name')} ({by.get('channel')}) : rien de nouveau enregistré.")


@alerts_app.command("run")
def run() -> None:
    """Faire tourner les règles d'alerte, l'envoi des alertes et le rattachement des affaires aux crises
    (si `tocsin serve` ne le fait pas : TOCSIN_DISPATCH_IN_APP=0)."""
    from adapters.alerting import run_in_threads

    services = open_services_from_env()
    threads, stop = run_in_threads(services)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    typer.echo("Règles d'alerte, envoi et rattachement aux crises en cours (Ctrl-C pour arrêter).")
    try:
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        services.close()


@alerts_app.command("rules")
def rules(organisation: Annotated[str, typer.Argument(help="Organisation (annuaire : mairie.35238, prefecture.35…).")],
          as_json: JsonOption = False) -> None:
    """Règles d'alerte d'une organisation : les règles requises telles qu'elles s'appliquent à elle, et les siennes."""
    from adapters.notify.alert_settings import describe

    services = open_services_from_env()
    try:
        settings = describe(services.store, organisation)
    finally:
        services.close()
    if as_json:
        print_json(settings)
        return
    for rule in settings["required"]:
        tuned = " (réglée par l'organisation)" if rule["tuning"] else ""
        escalation = ", ".join(f"{t['target']} après {t['after_minutes']} min" for t in rule["escalation"]) or "aucune"
        typer.echo(f"requise  {rule['id']} : {rule['label']}{tuned} ; canaux : {', '.join(rule['channels'])} ; "
                   f"escalade : {escalation}")
    for rule in settings["own_rules"]:
        typer.echo(f"propre   {rule['id']} : {rule['label']} ; canaux : {', '.join(rule['channels'])}")
    if not settings["required"] and not settings["own_rules"]:
        typer.echo("Aucune règle n'alerte cette organisation.")
