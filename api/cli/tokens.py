"""CLI commands of the API layer; `api.cli.main` calls `register(app)` to add them to `tocsin`."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.access import ROLES, role_codes
from domain.geography import UnknownTerritory, parse_territory


def register(app: typer.Typer) -> None:
    """Add `tocsin token` to the given Typer application."""

    @app.command()
    def token(
        role: Annotated[str, typer.Option(help=f"Rôle : {role_codes()}.")],
        territory: Annotated[str, typer.Option(
            help="Territoire : niveau:code (commune:35238, departement:35, zone:ouest, FR), ou un nom "
                 "(Rennes), ou le seul code au niveau du rôle (35238 pour un maire).")],
        subject: Annotated[str | None, typer.Option(help="Identifiant de la personne (sub).")] = None,
        name: Annotated[str | None, typer.Option(help="Nom affiché.")] = None,
        hours: Annotated[float, typer.Option(min=0.01, max=24 * 30, help="Durée de validité, en heures.")] = 12,
    ) -> None:
        """Créer un jeton d'accès signé (mode local : clé dans le dossier de données)."""
        from adapters.geography import get_geography
        from adapters.settings import Settings
        from api.auth import AuthConfig, AuthError

        if role not in ROLES:
            raise typer.BadParameter(f"rôle inconnu : {role} (rôles : {role_codes()})", param_hint="--role")
        from projections.read.territories import typed_territory

        try:
            level, code = parse_territory(territory, default=ROLES[role].default_level, known=get_geography())
        except UnknownTerritory as e:
            try:  # a name (« Rennes ») that names one territory
                level, code = typed_territory(territory, get_geography())
            except UnknownTerritory:
                raise typer.BadParameter(str(e), param_hint="--territory") from e
        config = AuthConfig.from_env(Settings.from_env())
        try:
            typer.echo(config.mint(role, f"{level.value}:{code}", subject=subject, name=name, ttl=int(hours * 3600)))
        except AuthError as e:
            typer.echo(f"impossible : {e}", err=True)
            raise typer.Exit(1) from e
