"""`tocsin directory …`: the directory's CSV import and export, and the first administrator. Each command
translates its arguments into one use case of adapters.directory.use_cases and prints the outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli import support


def register(app: typer.Typer) -> None:
    directory_app = typer.Typer(help="Annuaire : les organisations, les personnes et leurs habilitations.",
                                  no_args_is_help=True)
    app.add_typer(directory_app, name="directory")

    @directory_app.command("import")
    def import_(path: Annotated[Path, typer.Argument(help="Fichier CSV (format : voir le README).")]) -> None:
        """Importer les organisations et les personnes d'un fichier CSV (tout ou rien, sans créer de doublon)."""
        from adapters.directory.csv_file import FileRefused
        from adapters.directory.use_cases import import_csv

        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as e:
            typer.echo(f"fichier illisible : {path} ({e.strerror or e})", err=True)
            raise typer.Exit(2) from e
        except UnicodeDecodeError as e:
            typer.echo(f"fichier refusé : {path} n'est pas en UTF-8 (octet {e.start})", err=True)
            raise typer.Exit(1) from e
        services = support.open_services_from_env()
        try:
            done = import_csv(services, text)
        except FileRefused as e:
            typer.echo(f"fichier refusé, rien n'a été importé ({len(e.errors)} ligne(s) en erreur) :", err=True)
            for line, reason in e.errors:
                typer.echo(f"  ligne {line} : {reason}", err=True)
            raise typer.Exit(1) from e
        finally:
            services.close()
        if done.events:
            typer.echo(f"{done.rows} ligne(s) importée(s), {done.events} événement(s) enregistré(s).")
        else:
            typer.echo(f"{done.rows} ligne(s) lue(s) : l'annuaire les contenait déjà, rien n'a changé.")

    @directory_app.command("export")
    def export() -> None:
        """Écrire l'annuaire en CSV sur la sortie standard, avec les habilitations en cours."""
        from adapters.directory.use_cases import export_csv

        services = support.open_services_from_env()
        try:
            typer.echo(export_csv(services), nl=False)
        finally:
            services.close()

    @directory_app.command("grant-admin")
    def grant_admin(
        email: Annotated[str, typer.Argument(help="Adresse électronique de la personne.")],
        name: Annotated[str | None, typer.Option(help="Nom affiché.")] = None,
    ) -> None:
        """Nommer un administrateur de l'annuaire (à commencer par le premier)."""
        from adapters.directory.use_cases import grant_admin as grant_admin_
        from domain.directory import DirectoryError

        services = support.open_services_from_env()
        try:
            granted = grant_admin_(services, email, name)
        except DirectoryError as e:
            typer.echo(f"refusé : {e}", err=True)
            raise typer.Exit(1) from e
        finally:
            services.close()
        typer.echo(f"{email.strip().lower()} est administrateur de l'annuaire ({granted.organisation.name}),"
                   f" habilitation {granted.grant_id}.")

    duty_app = typer.Typer(help="Plannings d'astreinte des organisations.", no_args_is_help=True)
    directory_app.add_typer(duty_app, name="duty")

    @duty_app.command("show")
    def duty_show(organisation: Annotated[str, typer.Argument(help="Organisation (mairie.35238, prefecture.35…).")],
                  ) -> None:
        """Le planning d'astreinte d'une organisation : périodes en cours et à venir (31 jours)."""
        from adapters.directory.on_duty import schedule
        from domain.directory import DirectoryError
        from domain.local_time import zone_name

        services = support.open_services_from_env()
        try:
            found = schedule(services, None, organisation)
        except DirectoryError as e:
            typer.echo(f"refusé : {e}", err=True)
            raise typer.Exit(1) from e
        finally:
            services.close()
        now = found.on_duty_now
        typer.echo(f"{found.organisation.name} — heures en {zone_name(found.zone)}")
        typer.echo("d'astreinte maintenant : " + (", ".join(found.name_of(p) or p for p in now) if now else
                                                  "personne (toute l'organisation est alertée)"))
        for r in found.rows():
            typer.echo(f"  {r['id']}  {r['start_local']} → {r['end_local']}  {r['name'] or r['person_id']}")

    @duty_app.command("set")
    def duty_set(
        organisation: Annotated[str, typer.Argument(help="Organisation (mairie.35238…).")],
        person: Annotated[str, typer.Argument(help="Courriel (ou identifiant) d'une personne habilitée.")],
        start: Annotated[str, typer.Option("--from", help="Début, inclus (2026-12-24T20:00, heure du territoire).")],
        end: Annotated[str, typer.Option("--to", help="Fin, exclue (2026-12-25T08:00, heure du territoire).")],
    ) -> None:
        """Mettre une personne d'astreinte pour une période."""
        from adapters.directory.on_duty import set_period
        from domain.directory import DirectoryError

        services = support.open_services_from_env()
        try:
            period = set_period(services, None, organisation, person=person, start=start, end=end)
        except DirectoryError as e:
            typer.echo(f"refusé : {e}", err=True)
            raise typer.Exit(1) from e
        finally:
            services.close()
        typer.echo(f"période d'astreinte {period.id} enregistrée.")

    @duty_app.command("remove")
    def duty_remove(period_id: Annotated[str, typer.Argument(help="Identifiant de la période.")]) -> None:
        """Retirer une période d'astreinte."""
        from adapters.directory.on_duty import remove_period
        from domain.directory import DirectoryError

        services = support.open_services_from_env()
        try:
            remove_period(services, None, period_id)
        except DirectoryError as e:
            typer.echo(f"refusé : {e}", err=True)
            raise typer.Exit(1) from e
        finally:
            services.close()
        typer.echo(f"période d'astreinte {period_id} retirée.")
