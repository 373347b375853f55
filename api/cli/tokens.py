"""CLI commands of the API layer; `api.cli.main` calls `register(app)` to add them to `tocsin`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `tocsin token` to the given Typer application."""

    @app.command()
    def token(
        role: Annotated[str, typer.Option(help="Rôle : mayor, prefecture, sdis, zone, national, analyst, auditor, nexsis.")],
        territory: Annotated[str, typer.Option(
            help="Territoire : code INSEE d'une commune (35238), ou niveau:code (departement:35, zone:ouest, national:FR).")],
        subject: Annotated[str | None, typer.Option(help="Identifiant de la personne (sub).")] = None,
        name: Annotated[str | None, typer.Option(help="Nom affiché.")] = None,
        hours: Annotated[float, typer.Option(min=0.01, max=24 * 30, help="Durée de validité, en heures.")] = 12,
    ) -> None:
        """Créer un jeton d'accès signé (mode local : clé dans le dossier de données)."""
        from adapters.geography import get_geography
        from adapters.settings import Settings
        from api.auth import ROLES, AuthConfig, AuthError, parse_territory

        if role not in ROLES:
            raise typer.BadParameter(f"rôle inconnu : {role} (rôles : {', '.join(ROLES)})", param_hint="--role")
        if ":" not in territory:
            territory = f"{ROLES[role].levels[0].value}:{territory}"
        try:
            level, code = parse_territory(territory)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--territory") from e
        if not get_geography().exists(level, code):
            raise typer.BadParameter(f"territoire inconnu : {territory}", param_hint="--territory")
        config = AuthConfig.from_env(Settings.from_env())
        try:
            typer.echo(config.mint(role, territory, subject=subject, name=name, ttl=int(hours * 3600)))
        except AuthError as e:
            typer.echo(f"impossible : {e}", err=True)
            raise typer.Exit(1) from e
