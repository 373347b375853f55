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
