"""`tocsin audit …` and `tocsin replay …`: each command translates arguments into one replay/ call.

`api.cli.main` adds them to `tocsin` with `register(app)`.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from api.cli.french import SUBCOMMAND
from api.cli.support import JsonOption, open_services_from_env, print_json
from domain.access import OPERATOR
from domain.geography import Level, UnknownTerritory
from domain.local_time import PARIS, BadTime, format_local, parse_local, zone_of

audit_app = typer.Typer(help="Audit : historique complet, chaîne d'empreintes scellée, paquets vérifiables.",
                        no_args_is_help=True, subcommand_metavar=SUBCOMMAND)
replay_app = typer.Typer(help="Rejeu : vues à un instant passé, chronologies, rapports de retour d'expérience.",
                         no_args_is_help=True, subcommand_metavar=SUBCOMMAND)



def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(replay_app, name="replay")



def _print_json(value: Any) -> None:
    print_json(value, default=_json_default)


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _time(value: str | None, zone: ZoneInfo = PARIS) -> datetime | None:
    """A time typed by a person: read in the territory's zone (Paris when none) unless it has an offset."""
    if value is None:
        return None
    try:
        return parse_local(value, zone)
    except BadTime as error:
        raise typer.BadParameter(str(error)) from None


# --- audit -----------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    bundle: Annotated[Path | None, typer.Option("--bundle", help="Vérifier un paquet exporté (sans base).")] = None,
    public_key: Annotated[list[Path] | None,
                          typer.Option("--public-key", help="Clé publique de référence (PEM).")] = None,
    as_json: JsonOption = False,
    metrics_file: Annotated[Path | None, typer.Option(
        "--metrics-file",
        help="Écrire le résultat au format Prometheus dans ce fichier (collecteur « textfile » de node_exporter)."
    )] = None,
) -> None:
    """Vérifier toute la chaîne d'empreintes et ses sceaux (ou un paquet exporté)."""
    if bundle is not None:
        from replay.audit.bundle_check import verify_bundle

        pinned = public_key[0].read_bytes() if public_key else None
        report: Any = verify_bundle(bundle, pinned)
    else:
        from replay.audit.keys import trusted_keys
        from replay.audit.seals import journal_file
        from replay.audit.verify import verify_store

        services = open_services_from_env()
        settings = services.settings
        keys = trusted_keys(settings.data_dir, list(public_key or []), configured=settings.audit_seal_key)
        report = verify_store(services.store, keys, journal=journal_file(settings.data_dir, settings.schema))
        if metrics_file is not None:  # a command ends before any scrape: its result goes to a file
            from adapters.metrics import write_textfile

            write_textfile(metrics_file)
    if as_json:
        _print_json(report.as_dict())
    else:
        typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("seal")
def audit_seal(
    every: Annotated[float | None, typer.Option("--every", help="Sceller en continu toutes les N secondes.")] = None,
) -> None:
    """Sceller la tête de la chaîne (signature Ed25519, clé hors base)."""
    from replay.audit.chain import ChainBroken, seal
    from replay.audit.keys import load_signing_key

    services = open_services_from_env()
    key = load_signing_key(services.settings.data_dir, configured=services.settings.audit_seal_key)
    last_position = None
    while True:
        try:
            made = seal(services.store, key, services.settings.data_dir)
        except ChainBroken as broken:
            typer.echo(f"scellement refusé : {broken.report.summary()}", err=True)
            raise typer.Exit(1) from None
        if made is None:
            typer.echo("Chaîne vide : rien à sceller.")
        elif made.position != last_position:
            typer.echo(f"Sceau : position {made.position} (notification {made.notification_id}), "
                       f"empreinte {made.chain_hash.hex()[:16]}…, clé {made.key_id}, "
                       f"{format_local(made.sealed_at, PARIS, seconds=True)}")
            last_position = made.position
        if every is None:
            return
        time.sleep(every)


@audit_app.command("public-key")
def audit_public_key() -> None:
    """Afficher la clé publique de scellement (PEM) à publier pour les vérifications externes."""
    from adapters.settings import Settings
    from replay.audit.keys import key_id, load_signing_key, public_pem

    settings = Settings.from_env()
    public = load_signing_key(settings.data_dir, configured=settings.audit_seal_key).public_key()
    typer.echo(public_pem(public), nl=False)
    typer.echo(f"# empreinte : {key_id(public)}", err=True)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Fichier du paquet (.zip).")],
    case: Annotated[str | None, typer.Option("--case", help="Identifiant CISU de l'affaire.")] = None,
    territory: Annotated[str | None, typer.Option(help="INSEE, département, zone ou FR.")] = None,
    since: Annotated[str | None, typer.Option("--from", help="Début (ISO 8601, heure des messages).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Fin exclue (ISO 8601).")] = None,
    without_personal_data: Annotated[bool, typer.Option(
        "--sans-donnees-personnelles",
        help="Sans messages bruts ni données personnelles : la chaîne se vérifie sur leurs empreintes.")] = False,
) -> None:
    """Exporter un paquet autonome (événements, messages bruts, empreintes, sceaux, clé publique), lisible
    par son seul propriétaire (0600)."""
    from domain.identity import case_uuid
    from replay.audit.bundle import export_bundle, territory_originators

    if (case is None) == (territory is None):
        raise typer.BadParameter("indiquez --case AFFAIRE ou --territory CODE")
    services = open_services_from_env()
    start, end = _time(since), _time(until)
    scope: dict[str, str | None]
    if case is not None:
        originators, scope = [case_uuid(case)], {"case_id": case, "originator_id": str(case_uuid(case))}
    else:
        assert territory is not None  # exactly one of --case and --territory, checked above
        originators = territory_originators(services.store, services.geography, territory, start, end)
        scope = {"territory": territory, "from": since, "to": until}
    try:
        manifest = export_bundle(services.store, services.settings.data_dir, out, originators, scope, start, end,
                                 personal=not without_personal_data)
    except LookupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Paquet écrit : {out} ({manifest['events']} événements, maillons {manifest['positions'][0]} "
               f"à {manifest['positions'][1]}, clé {manifest['key_id']})")


@audit_app.command("history")
def audit_history(
    case_id: Annotated[str, typer.Argument(help="Identifiant CISU de l'affaire.")],
    as_json: JsonOption = False,
) -> None:
    """Historique complet d'une affaire : chaque événement, sa provenance, son message brut (auditeur)."""
    from replay.audit.history import case_audit_history

    # The CLI operator holds the keys on the server: the operator's role reads the full history.
    history = case_audit_history(open_services_from_env().store, case_id, role=OPERATOR.code)
    if history is None:
        typer.echo(f"affaire inconnue : {case_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        _print_json(history)
        return
    for e in history:
        p, m = e["provenance"], e["message"] or {}
        sealed = f"scellé position {e['sealed_by']['position']}" if e["sealed_by"] else "pas encore scellé"
        typer.echo(f"#{e['position']} v{e['originator_version']} {e['type']} enregistré {e['recorded_at']} ({sealed})")
        typer.echo(f"    {p.get('kind')} de {m.get('sender_id')} envoyé {m.get('sent_at')}, reçu {m.get('received_at')}"
                   f" via {m.get('source')}")
        typer.echo(f"    distributionID {m.get('distribution_id')}, sha256 {m.get('sha256')}")
        typer.echo(f"    maillon {e['chain']['chain_hash'][:16]}…, événement {e['chain']['event_hash'][:16]}…")


@audit_app.command("crisis")
def audit_crisis(
    crisis_id: Annotated[str, typer.Argument(help="Identifiant de la crise.")],
    as_json: JsonOption = False,
) -> None:
    """Historique d'une crise : chaque acte (crise, main courante, points de situation, demandes, alertes à la
    population), qui l'a fait, quand, son maillon dans la chaîne d'audit (auditeur)."""
    from replay.audit.history import crisis_audit_history

    history = crisis_audit_history(open_services_from_env().store, crisis_id, role=OPERATOR.code)
    if history is None:
        typer.echo(f"crise inconnue : {crisis_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        _print_json(history)
        return
    for e in history:
        sealed = f"scellé position {e['sealed_by']['position']}" if e["sealed_by"] else "pas encore scellé"
        by = e["by"] or {}
        who = f" par {by.get('name')} ({by.get('organisation_id') or by.get('role')})" if by else ""
        typer.echo(f"#{e['position']} {e['part']} v{e['originator_version']} {e['type']}{who}, "
                   f"enregistré {e['recorded_at']} ({sealed})")
        typer.echo(f"    maillon {e['chain']['chain_hash'][:16]}…, événement {e['chain']['event_hash'][:16]}…")


# --- replay ----------------------------------------------------------------------------------------


@replay_app.command("view")
def replay_view(
    level: Annotated[str, typer.Argument(help="commune, departement, zone, national, cases (liste) ou case.")],
    code: Annotated[str, typer.Argument(help="Code INSEE, département, zone, FR, ou identifiant d'affaire.")],
    at: Annotated[str, typer.Option("--at", help="Instant (ISO 8601).")],
    happened_by: Annotated[bool, typer.Option("--happened-by/--known-at",
                                              help="Ce qui s'était passé à cet instant (heure des messages) "
                                                   "ou ce que la plateforme savait (heure d'enregistrement).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Une vue telle qu'elle était à un instant passé."""
    from replay.as_of import replay_view as replay
    from replay.event_log import HAPPENED_BY, KNOWN_AT

    zone = zone_of(level, code) if level in {lv.value for lv in Level} else PARIS
    moment = _time(at, zone)
    assert moment is not None
    try:
        result = replay(open_services_from_env().store, level, code, moment, HAPPENED_BY if happened_by else KNOWN_AT)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if as_json:
        _print_json(result.as_dict())
        return
    sense = "survenu avant" if happened_by else "connu de la plateforme à"
    origin = (f"depuis le point de reprise de la notification {result.checkpoint}" if result.checkpoint
              else "depuis le premier événement")
    when = format_local(moment, zone, seconds=True)
    typer.echo(f"Vue {level} {code}, {sense} {when} ({result.events} événements rejoués "
               f"{origin}, jusqu'à la notification {result.position}, {result.seconds:g} s)")
    view = result.view
    if view is None:
        typer.echo("  rien à cet instant.")
        return
    if level == "case":
        typer.echo(f"  {view['nature_code']} {view['nature_label']} — {view['status']}, commune {view['commune']}, "
                   f"moyens engagés {view['resources_engaged']}/{view['resources_total']}")
        return
    for key, value in (view.get("figures") or {}).items():
        typer.echo(f"  {key} : {value}")
    if "most_serious" in view:
        typer.echo(f"  ouvertes dans l'heure : {view['opened_last_hour']}, dans les 24 h : {view['opened_last_24h']}")
        typer.echo("  affaires en cours les plus graves :")
    for row in view.get("most_serious", view.get("cases", [])):
        typer.echo(f"  - {row['case_id']} {row['nature_code'] or '?'} {row['status']} ({row['commune']})")


@replay_app.command("checkpoint")
def replay_checkpoint(
    every: Annotated[int, typer.Option("--every", min=1, help="Un point de reprise tous les N événements.")] = 50_000,
    watch: Annotated[float | None, typer.Option("--watch", help="Continuer : reprendre toutes les N secondes.")] = None,
) -> None:
    """Construire les points de reprise des vues (rejeu rapide à n'importe quel instant)."""
    from replay.checkpoints.build import build_checkpoints

    services = open_services_from_env()
    while True:
        written = build_checkpoints(services.store, every, log=typer.echo)
        if written:
            typer.echo(f"{len(written)} point(s) de reprise écrit(s).")
        elif watch is None:
            typer.echo(f"Rien à faire : aucun nouveau point de reprise (moins de {every} événements nouveaux).")
        if watch is None:
            return
        time.sleep(watch)


def _territory(value: str) -> tuple[Level, str]:
    from adapters.geography import get_geography
    from projections.read.territories import typed_territory

    try:
        return typed_territory(value, get_geography())
    except UnknownTerritory as error:
        raise typer.BadParameter(str(error)) from None


def _timeline(territory: str, since: str, until: str, interval: str | None) -> Any:
    from replay.timeline import build_timeline, parse_interval

    level, code = _territory(territory)
    zone = zone_of(level, code)
    start, end = _time(since, zone), _time(until, zone)
    assert start is not None and end is not None
    try:
        return build_timeline(open_services_from_env().store, level, code, start, end,
                              parse_interval(interval, start, end))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


TerritoryOption = Annotated[str, typer.Option(
    "--territory", help="niveau:code (ex. departement:29, zone:ouest, FR) ou un nom (Brest).")]
FromOption = Annotated[str, typer.Option(
    "--from", help="Début de la fenêtre (heure des messages) : 2026-12-07T10:00, ou 10:00 (aujourd'hui),"
                   " à l'heure du territoire sauf décalage indiqué (10:00+01:00).")]
ToOption = Annotated[str, typer.Option("--to", help="Fin de la fenêtre, lue comme --from ; au plus tard"
                                          " l'heure de la lecture.")]
IntervalOption = Annotated[str | None, typer.Option("--interval",
                                                    help="Pas : 15min, 1h, 1j (par défaut : ~24 à 48 pas).")]


@replay_app.command("timeline")
def replay_timeline(territory: TerritoryOption, since: FromOption, until: ToOption, interval: IntervalOption = None,
                    as_json: JsonOption = False) -> None:
    """Chronologie d'une crise : affaires ouvertes et closes, victimes, moyens, délais, pics."""
    from replay.report import timeline_text

    timeline = _timeline(territory, since, until, interval)
    if as_json:
        _print_json(timeline.as_dict())
    else:
        typer.echo(timeline_text(timeline))


@replay_app.command("report")
def replay_report(territory: TerritoryOption, since: FromOption, until: ToOption,
                  out: Annotated[Path, typer.Option("--out", "-o", help="Dossier du rapport (créé au besoin).")],
                  interval: IntervalOption = None,
                  crisis: Annotated[str | None, typer.Option("--crisis", help="Joindre la main courante et les "
                                                              "points de situation de cette crise.")] = None) -> None:
    """Rapport de retour d'expérience : page HTML autonome (graphiques, tableaux) + CSV et JSON des chiffres."""
    from adapters.geography import get_geography
    from replay.report import write_report
    from replay.requests import delays, requests_in

    timeline = _timeline(territory, since, until, interval)
    try:
        name = get_geography().label(timeline.level, timeline.code)
    except KeyError:
        name = timeline.code
    requests = requests_in(open_services_from_env().store, get_geography(), timeline.level, timeline.code,
                           timeline.start, timeline.end)
    log = _crisis_log(crisis, timeline.end) if crisis else None
    files = write_report(timeline, out, territory_name=name, log=log, requests=delays(requests))
    typer.echo(f"Rapport écrit dans {out} : " + ", ".join(p.name for p in files))


def _crisis_log(crisis_id: str, until: Any) -> Any:
    """The whole log book (the operator's reading) and the reports of a crisis, as they stood at `until`."""
    from adapters.crisis.logbook import crisis_reports
    from api.cli.logbook import read_log
    from replay.report import CrisisLog

    services = open_services_from_env()
    try:
        crisis, items = read_log(services, crisis_id, "", until)
        return CrisisLog(crisis.title, items, crisis_reports(services.store, crisis, until))
    except (LookupError, ValueError) as e:
        typer.echo(f"Refusé : {e}", err=True)
        raise typer.Exit(1) from e
    finally:
        services.close()


@replay_app.command("log")
def replay_log(crisis_id: Annotated[str, typer.Argument(help="Identifiant de la crise.")],
               at: Annotated[str, typer.Option("--at", help="Le moment (ISO 8601 ; une heure seule : "
                                                            "aujourd'hui, à l'heure de Paris).")],
               as_json: JsonOption = False) -> None:
    """La main courante et les points de situation d'une crise tels qu'ils étaient à un moment passé."""
    from adapters.crisis.logbook import crisis_reports
    from api.cli.logbook import print_log, read_log
    from domain.local_time import PARIS, parse_local

    try:
        moment = parse_local(at, PARIS)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--at") from e
    services = open_services_from_env()
    try:
        crisis, items = read_log(services, crisis_id, "", moment)
        reports = crisis_reports(services.store, crisis, moment)
    except (LookupError, ValueError) as e:
        typer.echo(f"Refusé : {e}", err=True)
        raise typer.Exit(1) from e
    finally:
        services.close()
    if as_json:
        _print_json({"as_of": moment.isoformat(), "log": [i.as_dict() for i in items], "reports": reports})
        return
    print_log(crisis, items, False)
    for r in reports:
        typer.echo(f"Point de situation {r['organisation_id']} n° {r['number']} : {r['text']}")


@replay_app.command("requests")
def replay_requests(
    crisis_id: Annotated[str, typer.Option("--crisis", help="Identifiant de la crise.")],
    at: Annotated[str, typer.Option("--at", help="Instant : 2026-12-07T10:00, ou 10:00 (aujourd'hui), à l'heure du "
                                                 "territoire de la crise sauf décalage indiqué.")],
    as_json: JsonOption = False,
) -> None:
    """Les demandes d'une crise telles qu'elles étaient à un instant passé, avec leur historique jusque-là."""
    from adapters.crisis.crises import UnknownCrisis, find_crisis
    from domain.local_time import zone_name
    from replay.requests import crisis_requests_as_of

    services = open_services_from_env()
    try:
        crisis = find_crisis(services.store, crisis_id, None)
        zone = ZoneInfo(crisis.time_zone)
        moment = _time(at, zone)
        assert moment is not None
        items = crisis_requests_as_of(services.store, crisis.id, moment)
    except UnknownCrisis as e:
        typer.echo(f"Refusé : {e}", err=True)
        raise typer.Exit(1) from e
    finally:
        services.close()
    if as_json:
        _print_json(items)
        return
    typer.echo(f"Demandes de la crise « {crisis.title} » au {format_local(moment, zone)} "
               f"(heures : {zone_name(zone)}) :")
    if not items:
        typer.echo("  aucune demande émise à cet instant.")
    for r in items:
        typer.echo(f"  {r['id']}  {r['kind_label']} : {r['from_organisation_id']} → {r['owner_organisation_id']} "
                   f"— {r['status_label']}" + (" — EN RETARD" if r["overdue"] else ""))
        for step in r["history"]:
            who = (step.get("by") or {}).get("name") or "Tocsin"
            typer.echo(f"      {format_local(step['at'], zone, stated=False)}  {step['label']} ({who})")


@replay_app.command("playback")
def replay_playback(
    since: FromOption, until: ToOption,
    sandbox: Annotated[str, typer.Option("--sandbox", help="Nom du bac à sable (schéma sandbox_NOM).")],
    speed: Annotated[float, typer.Option("--speed", min=1, max=1000, help="Vitesse : ×1 à ×1000.")] = 1.0,
    prelude: Annotated[bool, typer.Option("--prelude/--no-prelude",
                                          help="Charger d'abord la situation au début de la fenêtre.")] = True,
) -> None:
    """Rejouer une fenêtre passée dans un bac à sable, à la vitesse choisie (exercice), sans toucher aux vues
    en service."""
    from adapters.services import open_services
    from replay.playback import playback, sandbox_settings

    start, end = _time(since), _time(until)
    assert start is not None and end is not None
    live = open_services_from_env()
    try:
        settings = sandbox_settings(live.settings, sandbox)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    target = open_services(settings)
    window = f"du {format_local(start, PARIS)} au {format_local(end, PARIS)}"
    typer.echo(f"Bac à sable {settings.schema} : rejeu {window} à ×{speed:g} "
               f"(tableau de bord : TOCSIN_DB_SCHEMA={settings.schema} tocsin serve)")
    try:
        report = playback(live.store, target.ingestor, start, end, speed, sandbox=settings.schema, prelude=prelude,
                          log=typer.echo)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    finally:
        target.close()
    typer.echo(f"Terminé en {report.seconds:g} s : {report.prelude} messages de situation initiale, {report.played} "
               f"rejoués ; {report.accepted} enregistrés, {report.duplicates} déjà présents, {report.refused} refusés.")
