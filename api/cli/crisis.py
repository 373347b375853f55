"""`tocsin crisis …`: open, list, show and close crises, attach and detach cases, as the HTTP API does
(the same use cases, adapters.crisis.crises). The operator acts for an organisation (`--as prefecture.44`).

api/cli/main.py adds them to the `tocsin` app with `register(app)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from api.cli.support import AsOption, JsonOption, open_services_from_env, operator_principal, print_json

crisis_app = typer.Typer(help="Crises : ouvrir, suivre, clore ; rattacher des affaires.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(crisis_app, name="crisis")


def _show(crisis: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(crisis)
        return
    from zoneinfo import ZoneInfo

    from domain.local_time import format_local

    exercise = "EXERCICE — " if crisis["exercise"] else ""
    typer.echo(f"{crisis['id']}  {exercise}{crisis['title']} ({crisis['kind_label']}, {crisis['territory']}) "
               f"— {crisis['status']}")
    typer.echo(f"    début : {format_local(crisis['start'], ZoneInfo(crisis['time_zone']))} ; "
               f"affaires rattachées : {len(crisis['cases'])}")


def _run(act: Callable[[Any], Any], as_json: bool) -> None:
    """Open the services, run the act, print what it returns; the domain's refusals become CLI errors."""
    from adapters.crisis.crises import UnknownCrisis
    from domain.access import Denied
    from domain.crisis import CrisisClosed
    from domain.geography import UnknownTerritory

    services = open_services_from_env()
    try:
        result = act(services)
    except (UnknownCrisis, Denied, CrisisClosed, UnknownTerritory, ValueError, LookupError) as e:
        typer.echo(f"Refusé : {e}", err=True)
        raise typer.Exit(1) from e
    finally:
        services.close()
    for crisis in result if isinstance(result, list) else [result]:
        _show(crisis.as_dict(), as_json)


@crisis_app.command("open")
def open_(
    organisation: AsOption,
    title: Annotated[str, typer.Option("--title", help="Intitulé de la crise.")],
    kind: Annotated[str, typer.Option("--kind", help="storm, flood, wildfire, industrial, health, public_gathering, "
                                                     "other")],
    territory: Annotated[str, typer.Option("--territory", help="departement:44, zone:ouest… (par défaut celui de "
                                                               "l'organisation)")] = "",
    start: Annotated[datetime | None, typer.Option("--start", help="Début (ISO 8601 avec fuseau).")] = None,
    exercise: Annotated[bool, typer.Option("--exercise", help="Crise d'exercice.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ouvrir une crise."""
    from adapters.crisis.crises import open_crisis

    def act(services: Any) -> Any:
        principal = operator_principal(services, organisation)
        return open_crisis(services.store, principal, title=title, kind=kind,
                           territory=territory or principal.territory, start=start, exercise=exercise)

    _run(act, as_json)


@crisis_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Lister les crises, les plus récentes d'abord."""
    from adapters.crisis.crises import visible_crises

    services = open_services_from_env()
    try:
        items = [c.as_dict() for c in visible_crises(services.store, None)]
    finally:
        services.close()
    if as_json:
        print_json(items)
        return
    if not items:
        typer.echo("Aucune crise.")
    for crisis in items:
        _show(crisis, False)


@crisis_app.command("show")
def show(crisis_id: Annotated[str, typer.Argument(help="Identifiant de la crise.")],
         as_json: JsonOption = False) -> None:
    """Afficher une crise."""
    from adapters.crisis.crises import find_crisis

    _run(lambda services: find_crisis(services.store, crisis_id, None), as_json)


@crisis_app.command("close")
def close(crisis_id: Annotated[str, typer.Argument(help="Identifiant de la crise.")], organisation: AsOption,
          summary: Annotated[str, typer.Option("--summary", help="Bilan de clôture.")] = "",
          as_json: JsonOption = False) -> None:
    """Clore une crise : elle n'accepte plus de nouvel acte."""
    from adapters.crisis.crises import close_crisis

    _run(lambda services: close_crisis(services.store, crisis_id, operator_principal(services, organisation),
                                       summary), as_json)


@crisis_app.command("attach")
def attach(crisis_id: Annotated[str, typer.Argument(help="Identifiant de la crise.")],
           case_id: Annotated[str, typer.Argument(help="Identifiant CISU de l'affaire.")], organisation: AsOption,
           as_json: JsonOption = False) -> None:
    """Rattacher une affaire à la crise."""
    from adapters.crisis.crises import attach_case

    _run(lambda services: attach_case(services.store, crisis_id, operator_principal(services, organisation),
                                      case_id), as_json)


@crisis_app.command("detach")
def detach(crisis_id: Annotated[str, typer.Argument(help="Identifiant de la crise.")],
           case_id: Annotated[str, typer.Argument(help="Identifiant CISU de l'affaire.")], organisation: AsOption,
           reason: Annotated[str, typer.Option("--reason", help="Pourquoi l'affaire ne relève pas de la crise.")] = "",
           as_json: JsonOption = False) -> None:
    """Détacher une affaire de la crise."""
    from adapters.crisis.crises import detach_case

    _run(lambda services: detach_case(services.store, crisis_id, operator_principal(services, organisation),
                                      case_id, reason), as_json)
