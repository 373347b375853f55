"""`tocsin population-alert …`: alerts to the population from the server's console, through the same use
cases as the API (adapters.crisis.population_alerts).

Reading (`list`, `show`) is the operator's: everything. Acting (`draft`, `approve`, …) is done for a
directory organisation (`--as mairie.35126`, `--as prefecture.35`), by the operator's login: the domain's
rules apply as through the API (only the commune's mairie drafts, only its département's préfecture
decides), and the events record who acted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from api.cli.support import AsOption, JsonOption, open_services_from_env, operator_principal, print_json

population_app = typer.Typer(help="Alertes à la population : rédaction par la mairie, validation par la préfecture, "
                                  "publication en CAP 1.2.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(population_app, name="population-alert")


def _act(act: Any, as_json: bool) -> None:
    """Run a use case; print the alert, or the French reason it was refused (exit 1)."""
    from adapters.crisis import population_alerts as use_cases
    from domain.access import Denied
    from domain.population_alert import Refused

    services = open_services_from_env()
    try:
        alert = act(services, use_cases)
        detail = {**use_cases.summary(alert), "history": use_cases.history(services.store, alert)}
    except (use_cases.UnknownPopulationAlert, Denied, Refused) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()
    if as_json:
        print_json(detail)
    else:
        _print(detail, full=True)


def _local(iso: str | None, zone: str) -> str:
    from zoneinfo import ZoneInfo

    from domain.local_time import format_local

    return format_local(iso, ZoneInfo(zone), seconds=True) if iso else "-"


def _print(a: dict, *, full: bool = False) -> None:
    zone = a["time_zone"]
    exercise = "EXERCICE — " if a["exercise"] else ""
    typer.echo(f"{a['id']}  [{a['state']}]  {exercise}{a['commune']} ({a['insee']}) : {a['content']['headline']}")
    typer.echo(f"    rédigée le {_local(a['drafted_at'], zone)} par {a['drafted_by'].get('name')}")
    for m in a["messages"]:
        last = m["attempts"][-1] if m["attempts"] else None
        why = f" ({last['reason']})" if last and last.get("reason") else ""
        typer.echo(f"    CAP {m['msg_type']} {m['identifier']} : {m['status']}{why}")
    if full:
        for h in a["history"]:
            by = (h.get("by") or {}).get("name") or "Tocsin"
            extra = f" — {h['reason']}" if h.get("reason") else ""
            typer.echo(f"      {_local(h['recorded_at'], zone)}  {h['label']} ({by}){extra}")


@population_app.command("list")
def list_alerts(as_json: JsonOption = False,
                limit: Annotated[int, typer.Option(min=1, max=10_000, help="Nombre d'alertes, les plus récentes "
                                                                           "d'abord.")] = 100) -> None:
    """Lister les alertes à la population, leur état et leurs messages CAP."""
    from adapters.crisis import population_alerts as use_cases

    services = open_services_from_env()
    try:
        items = use_cases.visible(services.store, None, limit)
    finally:
        services.close()
    if as_json:
        print_json(items)
        return
    if not items:
        typer.echo("Aucune alerte à la population.")
    for a in items:
        _print(a)


@population_app.command("show")
def show(alert_id: Annotated[str, typer.Argument(help="Identifiant de l'alerte.")], as_json: JsonOption = False,
         xml: Annotated[bool, typer.Option("--xml", help="Écrire le dernier message CAP (XML).")] = False) -> None:
    """Afficher une alerte : versions, décisions, messages CAP et historique."""
    if xml:
        from adapters.crisis import population_alerts as use_cases

        services = open_services_from_env()
        try:
            alert = use_cases.find(services.store, alert_id, None)
        except use_cases.UnknownPopulationAlert as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1) from None
        finally:
            services.close()
        if not alert.messages:
            typer.echo("aucun message CAP (alerte non validée)", err=True)
            raise typer.Exit(1)
        typer.echo(alert.messages[-1]["xml"])
        return
    _act(lambda s, uc: uc.find(s.store, alert_id, None), as_json)


@population_app.command("draft")
def draft(
    as_org: AsOption,
    insee: Annotated[str, typer.Option(help="Code INSEE de la commune.")],
    event: Annotated[str, typer.Option(help="Quoi : l'événement en quelques mots (« Inondation »).")],
    headline: Annotated[str, typer.Option(help="Titre diffusé (160 caractères au plus).")],
    description: Annotated[str, typer.Option(help="Ce qui se passe.")],
    instruction: Annotated[str, typer.Option(help="Ce que la population doit faire.")],
    category: Annotated[str, typer.Option(help="Catégorie CAP (Met, Fire, Safety, Geo, Env…).")],
    severity: Annotated[str, typer.Option(help="Gravité CAP : Extreme, Severe, Moderate, Minor, Unknown.")],
    urgency: Annotated[str, typer.Option(help="Urgence CAP : Immediate, Expected, Future, Past, "
                                              "Unknown.")] = "Immediate",
    certainty: Annotated[str, typer.Option(help="Certitude CAP : Observed, Likely, Possible, Unlikely, "
                                                "Unknown.")] = "Observed",
    response_type: Annotated[str | None, typer.Option(help="Consigne CAP : Shelter, Evacuate, Avoid…")] = None,
    area: Annotated[str | None, typer.Option(help="Où, en mots (par défaut : la commune).")] = None,
    expires: Annotated[datetime | None, typer.Option(help="Fin de validité (ISO 8601 avec fuseau).",
                                                     formats=["%Y-%m-%dT%H:%M:%S%z"])] = None,
    crisis_id: Annotated[str | None, typer.Option(help="La crise à laquelle la rattacher.")] = None,
    exercise: Annotated[bool, typer.Option(help="Alerte d'exercice (CAP status Exercise).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Rédiger une alerte à la population (au nom de la mairie de la commune)."""
    from adapters.alerting import recipients_for

    content = {"event": event, "headline": headline, "description": description, "instruction": instruction,
               "category": category, "severity": severity, "urgency": urgency, "certainty": certainty,
               "response_type": response_type, "area_desc": area, "expires": expires}
    _act(lambda s, uc: uc.draft(s.store, s.geography, recipients_for(s), operator_principal(s, as_org),
                                insee=insee, content=content, crisis_id=crisis_id, exercise=exercise), as_json)


@population_app.command("approve")
def approve(alert_id: Annotated[str, typer.Argument(help="Identifiant de l'alerte.")], as_org: AsOption,
            as_json: JsonOption = False) -> None:
    """Valider une alerte et la publier en CAP (au nom de la préfecture)."""
    from adapters.cap.gateway import gateway_for

    _act(lambda s, uc: uc.approve(s.store, s.settings, s.geography, gateway_for(s.settings),
                                  operator_principal(s, as_org), alert_id), as_json)


@population_app.command("refuse")
def refuse(alert_id: Annotated[str, typer.Argument(help="Identifiant de l'alerte.")], as_org: AsOption,
           reason: Annotated[str, typer.Option(help="La raison du refus.")], as_json: JsonOption = False) -> None:
    """Refuser une alerte, avec sa raison (au nom de la préfecture)."""
    _act(lambda s, uc: uc.refuse(s.store, operator_principal(s, as_org), alert_id, reason), as_json)


@population_app.command("update")
def update(
    alert_id: Annotated[str, typer.Argument(help="Identifiant de l'alerte.")], as_org: AsOption,
    headline: Annotated[str | None, typer.Option(help="Nouveau titre.")] = None,
    description: Annotated[str | None, typer.Option(help="Nouvelle description.")] = None,
    instruction: Annotated[str | None, typer.Option(help="Nouvelles consignes.")] = None,
    severity: Annotated[str | None, typer.Option(help="Nouvelle gravité CAP.")] = None,
    urgency: Annotated[str | None, typer.Option(help="Nouvelle urgence CAP.")] = None,
    certainty: Annotated[str | None, typer.Option(help="Nouvelle certitude CAP.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Rédiger une nouvelle version (à valider, puis publiée en CAP Update) ; le reste est repris."""
    from adapters.alerting import recipients_for

    changes = {k: v for k, v in {"headline": headline, "description": description, "instruction": instruction,
                                 "severity": severity, "urgency": urgency, "certainty": certainty}.items() if v}

    def act(s: Any, uc: Any) -> Any:
        current = uc.find(s.store, alert_id, None).current["content"]
        expires = datetime.fromisoformat(current["expires"]) if current.get("expires") else None
        return uc.update(s.store, recipients_for(s), operator_principal(s, as_org), alert_id,
                         {**current, "expires": expires, **changes})

    _act(act, as_json)


@population_app.command("cancel")
def cancel(alert_id: Annotated[str, typer.Argument(help="Identifiant de l'alerte.")], as_org: AsOption,
           reason: Annotated[str, typer.Option(help="La raison de l'annulation.")],
           as_json: JsonOption = False) -> None:
    """Annuler une alerte (publiée : message CAP Cancel), au nom de la mairie ou de la préfecture."""
    from adapters.cap.gateway import gateway_for

    _act(lambda s, uc: uc.cancel(s.store, s.settings, s.geography, gateway_for(s.settings),
                                 operator_principal(s, as_org), alert_id, reason), as_json)


@population_app.command("publish")
def publish(alert_id: Annotated[str, typer.Argument(help="Identifiant de l'alerte.")], as_org: AsOption,
            as_json: JsonOption = False) -> None:
    """Publier à nouveau les messages CAP en attente après un échec (au nom de la préfecture)."""
    from adapters.cap.gateway import gateway_for

    _act(lambda s, uc: uc.publish_again(s.store, gateway_for(s.settings), operator_principal(s, as_org),
                                        alert_id), as_json)
