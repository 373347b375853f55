"""`tocsin request …`: send, list, show, answer and move along requests between authorities, as the HTTP
API does (the same use cases, adapters.crisis.requests). The operator acts for an organisation
(`--as prefecture.44`); without it, `list` and `show` read every request and record nothing.

api/cli/main.py adds them to the `tocsin` app with `register(app)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from api.cli.support import AsOption, JsonOption, open_services_from_env, operator_principal, print_json

request_app = typer.Typer(help="Demandes entre autorités : envoyer, suivre, répondre.", no_args_is_help=True)

IdArgument = Annotated[str, typer.Argument(help="Identifiant de la demande (prefecture.44.request.12).")]
TextOption = Annotated[str, typer.Option("--text", help="Commentaire, motif, question ou complément.")]
OptionalAs = Annotated[str, typer.Option(
    "--as", help="Organisation pour laquelle l'opérateur agit (annuaire : prefecture.44, mairie.44109…).")]


def register(app: typer.Typer) -> None:
    app.add_typer(request_app, name="request")


def _show(request: dict[str, Any], as_json: bool, *, history: bool = False) -> None:
    if as_json:
        print_json(request)
        return
    from zoneinfo import ZoneInfo

    from domain.local_time import format_local

    zone = ZoneInfo(request["time_zone"])
    due = format_local(request["due_at"], zone) if request["due_at"] else "sans échéance"
    late = " — EN RETARD" if request["overdue"] else ""
    typer.echo(f"{request['id']}  {request['kind_label']} : {request['from_organisation_id']} → "
               f"{request['owner_organisation_id']} — {request['status_label']}{late}")
    typer.echo(f"    « {request['text']} » ; échéance : {due} ({request['time_zone']})")
    if request.get("answer"):
        a = request["answer"]
        typer.echo(f"    réponse : {a['label']}" + (f" — {a['comment']}" if a["comment"] else ""))
    for step in request.get("history") or [] if history else []:
        who = (step.get("by") or {}).get("name") or "Tocsin"
        text = f" — {step['text']}" if step.get("text") else ""
        typer.echo(f"    {format_local(step['at'], zone)}  {step['label']} ({who}){text}")


def _run(act: Callable[[Any], Any], as_json: bool, *, history: bool = True) -> None:
    """Open the services, run the act, print what it returns; the domain's refusals become CLI errors."""
    from adapters.crisis.crises import UnknownCrisis
    from adapters.crisis.requests import UnknownRequest
    from domain.access import Denied
    from domain.crisis import CrisisClosed

    services = open_services_from_env()
    try:
        result = act(services)
    except (UnknownRequest, UnknownCrisis, Denied, CrisisClosed, ValueError, LookupError) as e:
        typer.echo(f"Refusé : {e}", err=True)
        raise typer.Exit(1) from e
    finally:
        services.close()
    if isinstance(result, list):
        items = [r.as_dict(history=False) for r in result]
        if as_json:
            print_json(items)
            return
        if not items:
            typer.echo("Aucune demande.")
        for item in items:
            _show(item, False)
        return
    _show(result.as_dict(), as_json, history=history)


def _recipients(services: Any) -> Any:
    from adapters.alerting import recipients_for

    return recipients_for(services)


@request_app.command("send")
def send(
    organisation: AsOption,
    to: Annotated[str, typer.Option("--to", help="Organisation destinataire (mairie.44109, sdis.44, coz.ouest…).")],
    kind: Annotated[str, typer.Option("--kind", help="information, means, action, population_alert")],
    text: Annotated[str, typer.Option("--text", help="Ce qui est demandé.")],
    deadline: Annotated[str, typer.Option("--deadline", help="DEL0, ASAP, 30M, 45M, 1H, 2H, 4H, 8H, 12H, 24H, RDV "
                                                             "ou une date ISO 8601 avec fuseau.")] = "ASAP",
    crisis_id: Annotated[str, typer.Option("--crisis", help="Crise (ouverte) de la demande.")] = "",
    case_id: Annotated[str, typer.Option("--case", help="Affaire CISU concernée.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Envoyer une demande à une organisation."""
    from adapters.crisis.requests import issue

    def act(services: Any) -> Any:
        services.ensure_directory()
        return issue(services.store, services.directory, _recipients(services),
                     operator_principal(services, organisation), to=to, kind=kind, text=text, deadline=deadline,
                     crisis_id=crisis_id or None, case_id=case_id or None)

    _run(act, as_json)


@request_app.command("list")
def list_(
    organisation: OptionalAs = "",
    box: Annotated[str, typer.Option("--box", help="inbox (reçues) ou outbox (envoyées), avec --as.")] = "",
    crisis_id: Annotated[str, typer.Option("--crisis", help="Celles d'une crise.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Lister les demandes, les plus récentes d'abord."""
    from adapters.crisis.requests import visible_requests

    def act(services: Any) -> Any:
        principal = operator_principal(services, organisation) if organisation else None
        return visible_requests(services.store, principal, box=box or None, crisis_id=crisis_id or None)

    _run(act, as_json)


@request_app.command("show")
def show(request_id: IdArgument, organisation: OptionalAs = "", as_json: JsonOption = False) -> None:
    """Afficher une demande et son historique (avec --as destinataire : la marque « vue »)."""
    from adapters.crisis.requests import open_request

    _run(lambda services: open_request(services.store, request_id,
                                       operator_principal(services, organisation) if organisation else None), as_json)


@request_app.command("answer")
def answer(
    request_id: IdArgument, organisation: AsOption,
    code: Annotated[str, typer.Option("--answer", help="ACCEPTEE, PARTIELLE, REFUSEE ou DIFFEREE.")],
    comment: Annotated[str, typer.Option("--comment", help="Commentaire ; le motif d'un refus.")] = "",
    deadline: Annotated[datetime | None, typer.Option("--deadline", help="Délai promis (ISO 8601 avec fuseau), "
                                                                         "pour une réponse partielle.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Répondre à une demande reçue."""
    from adapters.crisis import requests as use

    _run(lambda services: use.answer(services.store, _recipients(services), request_id,
                                     operator_principal(services, organisation), code=code, comment=comment,
                                     deadline=deadline), as_json)


def _act(name: str, help_text: str, call: Callable[..., Any]) -> None:
    def command(request_id: IdArgument, organisation: AsOption, text: TextOption = "",
                as_json: JsonOption = False) -> None:
        _run(lambda services: call(services, request_id, operator_principal(services, organisation), text), as_json)

    command.__doc__ = help_text
    request_app.command(name)(command)


def _with_recipients(name: str) -> Callable[..., Any]:
    def call(services: Any, request_id: str, principal: Any, text: str) -> Any:
        from adapters.crisis import requests as use

        return getattr(use, name)(services.store, _recipients(services), request_id, principal, text)

    return call


def _escalate(services: Any, request_id: str, principal: Any, text: str) -> Any:
    from adapters.crisis.requests import escalate

    services.ensure_directory()
    return escalate(services.store, services.directory, services.geography, _recipients(services), request_id,
                    principal, text)


def _close(services: Any, request_id: str, principal: Any, text: str) -> Any:
    from adapters.crisis.requests import close

    return close(services.store, request_id, principal, text)


_act("cancel", "Annuler une demande envoyée (ANNULEE).", _with_recipients("cancel"))
_act("progress", "Signaler une demande acceptée en cours de traitement.", _with_recipients("start"))
_act("done", "Signaler une demande réalisée.", _with_recipients("finish"))
_act("close", "Clore une demande réalisée ou refusée.", _close)
_act("ask", "Demander un complément à l'émetteur (--text : la question).", _with_recipients("ask_info"))
_act("give", "Apporter le complément demandé (--text : le complément).", _with_recipients("give_info"))
_act("escalate", "Transmettre la demande à l'autorité supérieure.", _escalate)
_act("return", "Renvoyer une demande transmise à l'organisation qui l'a transmise.", _with_recipients("give_back"))
