"""`tocsin log …` and `tocsin report …`: a crisis's log book (main courante) and situation reports, as the
HTTP API does (the same use cases: adapters.crisis.logbook, projections.read.crisis_log). The operator
writes for an organisation (`--as mairie.35238`) and, with `--as`, reads what that organisation reads;
without it, everything.

api/cli/main.py adds them to the `tocsin` app with `register(app)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.support import AsOption, JsonOption, open_services_from_env, operator_principal, print_json

log_app = typer.Typer(help="Main courante d'une crise : écrire, lire, exporter.", no_args_is_help=True)
report_app = typer.Typer(help="Points de situation d'une crise : écrire, lire.", no_args_is_help=True)

CrisisArgument = Annotated[str, typer.Argument(help="Identifiant de la crise.")]
CrisisOrOwn = Annotated[str, typer.Argument(help="Identifiant de la crise (sans : la main courante propre de "
                                                 "l'organisation, hors crise).")]
ReaderOption = Annotated[str, typer.Option("--as", help="Lire comme cette organisation (par défaut : tout).")]
AtOption = Annotated[datetime | None, typer.Option("--at", help="Telle qu'elle était à ce moment (ISO 8601 avec "
                                                                "fuseau).")]


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log")
    app.add_typer(report_app, name="report")


def _run(act: Callable[[Any], Any]) -> Any:
    """Open the services, run the act; the domain's refusals become CLI errors."""
    from adapters.crisis.crises import UnknownCrisis
    from domain.access import Denied
    from domain.crisis import CrisisClosed

    services = open_services_from_env()
    try:
        return act(services)
    except (UnknownCrisis, Denied, CrisisClosed, ValueError, LookupError) as e:
        typer.echo(f"Refusé : {e}", err=True)
        raise typer.Exit(1) from e
    finally:
        services.close()


def _reader(services: Any, organisation: str) -> Any:
    return operator_principal(services, organisation) if organisation else None


def _aware(at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise typer.BadParameter("le moment doit préciser son fuseau horaire", param_hint="--at")
    return at


def read_log(services: Any, crisis_id: str, organisation: str, at: datetime | None) -> tuple[Any, list]:
    from adapters.crisis.logbook import crisis_as_of
    from projections.read.crisis_log import crisis_log

    reader = _reader(services, organisation)
    crisis = crisis_as_of(services.store, crisis_id, reader, at)
    return crisis, crisis_log(services.store, services.geography, crisis, reader, at=at)


def print_log(crisis: Any, items: list, as_json: bool) -> None:
    from zoneinfo import ZoneInfo

    from domain.local_time import format_local, zone_name

    if as_json:
        print_json([i.as_dict() for i in items])
        return
    zone = ZoneInfo(crisis.time_zone)
    typer.echo(f"Main courante — {crisis.title} (heures en {zone_name(zone)})")
    if not items:
        typer.echo("Aucune entrée.")
    for i in items:
        who = i.author["name"] if i.author else i.organisation_id or ""
        number = f"n° {i.id} " if i.source == "personne" else ""
        amends = f" (corrige n° {i.amends})" if i.amends else ""
        typer.echo(f"{format_local(i.at, zone, stated=False)}  {number}[{i.kind_label}] {who}{amends} : {i.text}")


@log_app.command("add")
def add(
    organisation: AsOption,
    text: Annotated[str, typer.Option("--text", help="Le texte de l'entrée.")],
    kind: Annotated[str, typer.Option("--kind", help="information, decision ou action.")] = "information",
    visibility: Annotated[str, typer.Option("--visibility", help="organisation (la vôtre) ou crisis (tous).")
                          ] = "organisation",
    case: Annotated[list[str] | None, typer.Option("--case", help="Affaire concernée (répétable).")] = None,
    amends: Annotated[str | None, typer.Option("--amends", help="N° de l'entrée que celle-ci corrige.")] = None,
    as_json: JsonOption = False,
    crisis_id: CrisisOrOwn = "",
) -> None:
    """Écrire une entrée (ou, avec --amends, une correction) dans la main courante."""
    from adapters.crisis.logbook import write_entry, write_own_entry

    def act(services: Any) -> Any:
        principal = operator_principal(services, organisation)
        if not crisis_id:
            return write_own_entry(services.store, principal, kind=kind, text=text, case_ids=case or [],
                                   amends=amends)
        return write_entry(services.store, crisis_id, principal, kind=kind, text=text, visibility=visibility,
                           case_ids=case or [], amends=amends)

    item = _run(act)
    if as_json:
        print_json(item.as_dict())
    else:
        typer.echo(f"Entrée n° {item.id} écrite ({item.kind_label}, visibilité : {item.visibility}).")


@log_app.command("list")
def list_(crisis_id: CrisisOrOwn = "", organisation: ReaderOption = "", at: AtOption = None,
          as_json: JsonOption = False) -> None:
    """La main courante : entrées, messages NexSIS, alertes, demandes, dans l'ordre."""
    if not crisis_id:
        _print_own(organisation, at, as_json)
        return
    crisis, items = _run(lambda services: read_log(services, crisis_id, organisation, _aware(at)))
    print_log(crisis, items, as_json)


def _print_own(organisation: str, at: datetime | None, as_json: bool) -> None:
    from adapters.crisis.logbook import own_log_of
    from domain.local_time import format_local, zone_name, zone_of

    if not organisation:
        raise typer.BadParameter("indiquez l'organisation (--as) dont lire la main courante", param_hint="--as")

    def act(services: Any) -> tuple[Any, list]:
        principal = operator_principal(services, organisation)
        return zone_of(principal.level, principal.code), own_log_of(services.store, principal, _aware(at))[1]

    zone, items = _run(act)
    if as_json:
        print_json([i.as_dict() for i in items])
        return
    typer.echo(f"Main courante de {organisation} (heures en {zone_name(zone)})")
    if not items:
        typer.echo("Aucune entrée.")
    for i in items:
        amends = f" (corrige n° {i.amends})" if i.amends else ""
        typer.echo(f"{format_local(i.at, zone, stated=False)}  n° {i.id} [{i.kind_label}] "
                   f"{i.author['name'] if i.author else ''}{amends} : {i.text}")


@log_app.command("export")
def export(
    crisis_id: CrisisArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Fichier à écrire (.csv, .xlsx ou .html).")],
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx ou html (par défaut : l'extension du fichier).")
                   ] = "",
    organisation: ReaderOption = "",
    at: AtOption = None,
) -> None:
    """Exporter la main courante (CSV, XLSX, page HTML à imprimer), heures dans le fuseau de la crise."""
    from zoneinfo import ZoneInfo

    from adapters.crisis import log_export
    from adapters.crisis.logbook import crisis_reports
    from adapters.secret_file import open_private

    try:
        name = log_export.check_format(fmt or out.suffix)
    except log_export.UnknownFormat as e:
        raise typer.BadParameter(str(e), param_hint="--format") from e

    def act(services: Any) -> bytes:
        crisis, items = read_log(services, crisis_id, organisation, _aware(at))
        zone = ZoneInfo(crisis.time_zone)
        if name == "csv":
            return log_export.to_csv(items, zone).encode("utf-8-sig")
        if name == "xlsx":
            return log_export.to_xlsx(items, zone, crisis.title)
        reports = crisis_reports(services.store, crisis, at)
        return log_export.to_html(crisis.as_dict(), items, reports, zone, as_of=at).encode("utf-8")

    body = _run(act)
    with open_private(out) as f:  # owner-only, like every export
        f.write(body)
    typer.echo(f"Écrit : {out}")


# ---- situation reports -------------------------------------------------------------------------------

@report_app.command("add")
def report_add(
    crisis_id: CrisisArgument,
    organisation: AsOption,
    text: Annotated[str, typer.Option("--text", help="Le point de situation.")],
    request: Annotated[str | None, typer.Option("--request", help="La demande d'information à laquelle il "
                                                                  "répond.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Écrire un point de situation : son texte et les chiffres du territoire de la crise, figés."""
    from adapters.crisis.crises import find_crisis
    from adapters.crisis.logbook import write_report
    from projections.read.crisis_log import crisis_view_figures

    def act(services: Any) -> dict:
        principal = operator_principal(services, organisation)
        crisis = find_crisis(services.store, crisis_id, principal)
        figures = crisis_view_figures(services.store, services.geography, crisis)
        return write_report(services.store, crisis_id, principal, text=text, figures=figures, request_id=request)

    report = _run(act)
    if as_json:
        print_json(report)
    else:
        typer.echo(f"Point de situation n° {report['number']} de {report['organisation_id']} écrit.")


@report_app.command("list")
def report_list(crisis_id: CrisisArgument, at: AtOption = None, as_json: JsonOption = False) -> None:
    """Les points de situation de la crise, dans l'ordre, avec leurs chiffres."""
    from zoneinfo import ZoneInfo

    from adapters.crisis.logbook import crisis_as_of, crisis_reports
    from domain.local_time import format_local, zone_name

    def act(services: Any) -> tuple[Any, list]:
        crisis = crisis_as_of(services.store, crisis_id, None, _aware(at))
        return crisis, crisis_reports(services.store, crisis, at)

    crisis, reports = _run(act)
    if as_json:
        print_json(reports)
        return
    zone = ZoneInfo(crisis.time_zone)
    typer.echo(f"Points de situation — {crisis.title} (heures en {zone_name(zone)})")
    if not reports:
        typer.echo("Aucun point de situation.")
    for r in reports:
        f = r["figures"]
        typer.echo(f"{format_local(r['at'], zone, stated=False)}  {r['organisation_id']} n° {r['number']} — "
                   f"affaires en cours : {f.get('cases_active', '—')} : {r['text']}")
