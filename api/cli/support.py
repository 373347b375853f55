"""What every `tocsin` command module shares: the --json option, JSON output, the services."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Sortie JSON (pour les scripts).")]


def print_json(value: Any, default: Callable[[Any], Any] = str) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=default))


def open_services_from_env() -> Any:
    """The services for the environment's settings (opened on first use of a command, not at import)."""
    from adapters.services import open_services

    return open_services()



AsOption = Annotated[str, typer.Option(
    "--as", help="Organisation pour laquelle l'opérateur agit (annuaire : prefecture.44, mairie.44109, coz.ouest…).")]


def operator_principal(services: Any, organisation_id: str) -> Any:
    """The CLI operator (who holds the server's keys) acting for a directory organisation: its role and
    territory are the organisation's own, and every act records the operator's login name."""
    import getpass

    from domain.directory import operator_principal as principal_of_operator

    services.ensure_directory()
    organisation = services.directory.organisation(organisation_id)
    if organisation is None:
        raise typer.BadParameter(f"organisation inconnue : {organisation_id}", param_hint="--as")
    return principal_of_operator(organisation, f"cli:{getpass.getuser()}", services.geography)
