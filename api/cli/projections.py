"""`tocsin projections …` and `tocsin view …`: each command translates arguments into one call.

api/cli/main.py adds them to the `tocsin` app with `register(app)`. The views are the registry's.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from api.cli.french import SUBCOMMAND
from api.cli.support import JsonOption, open_services_from_env, print_json
from domain.local_time import PARIS, format_local, zone_of
from projections.presentation import number
from projections.registry import ALL, BY_NAME, NAMES, VIEWS, UnknownView, View, select

projections_app = typer.Typer(
    help=f"Vues ({', '.join(v.label for v in VIEWS)}) : état, suivi, reconstruction.",
    no_args_is_help=True, subcommand_metavar=SUBCOMMAND,
)

LEVEL_LABELS = {"commune": "commune", "departement": "département", "zone": "zone de défense", "national": "national"}


def register(app: typer.Typer) -> None:
    app.add_typer(projections_app, name="projections")
    app.command("view")(view)


def _views(names: list[str]) -> list[View]:
    try:
        return select(names)
    except UnknownView as unknown:
        raise typer.BadParameter(str(unknown)) from None


def _when(value: str | None, zone: ZoneInfo = PARIS, *, seconds: bool = True) -> str:
    """A time in the zone of the territory it concerns (Paris for the platform's own), the zone stated."""
    return format_local(value, zone, seconds=seconds)


# ---- projections ----------------------------------------------------------------------------------


@projections_app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Position de chaque vue, retard sur le journal d'événements, débit."""
    from projections.read.queries import projection_status

    services = open_services_from_env()
    try:
        rows = projection_status(services.store)
    finally:
        services.close()
    if as_json:
        print_json(rows)
        return
    head = rows[0]["head"] if rows else 0
    typer.echo(f"Dernier événement enregistré : n° {head}")
    for r in rows:
        rate = f"{r['events_per_second']:.0f} év./s" if r["events_per_second"] else "débit non mesuré"
        typer.echo(
            f"{r['name']:<12} ({BY_NAME[r['name']].label}) : position {r['position']},"
            f" retard {r['lag_events']} événement(s)"
            f" / {r['lag_seconds']:.1f} s, {rate}, mise à jour {_when(r['updated_at'])}"
        )
        if r["rebuild"]:
            state = "en cours" if r["rebuild"]["running"] else "interrompue (relancer la reconstruction)"
            typer.echo(
                f"    reconstruction {state}, commencée le {_when(r['rebuild']['started_at'])} :"
                f" position {r['rebuild']['position']} / {head}"
            )


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str, typer.Argument(help=f"{', '.join(NAMES)}, ou {ALL[0]}.")],
    processes: Annotated[
        int | None, typer.Option("--processes", min=1, help="Processus de calcul (défaut : selon la taille).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Reconstruire une vue depuis zéro dans de nouvelles tables, puis les substituer d'un coup."""
    from projections.store.rebuild import RebuildBusy
    from projections.store.rebuild import rebuild as run_rebuild

    views = _views([name])
    services = open_services_from_env()
    try:
        report = run_rebuild(services.store, views, partitions=processes)
    except RebuildBusy as busy:
        typer.echo(str(busy), err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()
    if as_json:
        print_json({**report.__dict__, "events_per_second": round(report.rate)})
        return
    typer.echo(
        f"Vue(s) reconstruite(s) : {', '.join(report.names)} — {report.events} événements repris depuis zéro"
        f" en {report.total_seconds:.1f} s ({report.rate:.0f} év./s, {report.partitions} processus),"
        f" {report.caught_up} arrivés pendant la reconstruction ; position {report.position}."
    )


def follow_views(services: Any, views: list[View], batch_size: int, stop: threading.Event) -> None:
    """Keep `views` up to date until `stop`, through database outages and failovers.

    Several workers may run (on several machines): one leads, holding an advisory lock on the primary, and
    the others stand by, taking over when its session ends (its process or its database died). With NATS
    configured, each committed batch is also signalled there (adapters/nats/signal.py)."""
    import logging

    from adapters.nats.signal import SignalPublisher, views_subject
    from adapters.store.locks import Leadership, lock_key
    from projections.store.worker import ProjectionWorker

    log = logging.getLogger("tocsin.projections")
    settings = services.store.settings
    publisher = SignalPublisher(settings.nats_url, views_subject(settings.schema)) if settings.nats_url else None
    leadership = Leadership(services.store.database_url, lock_key(settings.schema, "projections"))
    waiting = False
    try:
        while not stop.is_set():
            try:
                if not leadership.try_acquire():
                    if not waiting:
                        log.warning("another projection worker leads: standing by to take over")
                        waiting = True
                    stop.wait(0.5)
                    continue
                if waiting:
                    log.warning("projection worker: took over")
                    waiting = False
                on_commit = publisher.publish if publisher else None
                with ProjectionWorker(services.store, views, batch_size=batch_size, on_commit=on_commit) as worker:
                    try:
                        worker.run(stop, still_leading=leadership.still_held)
                    finally:
                        worker.resign()  # tocsin_leader{kind="view"} back to 0 while another process leads
            except Exception:  # a failover, an outage: start again from the views' stored positions
                log.warning("projection worker interrupted; resuming in 1 s", exc_info=True)
                leadership.release()
                try:
                    services.store.tocsin_recorder.datastore.pool.check()
                except Exception:  # noqa: BLE001 - still down: the next attempt will tell
                    pass
                stop.wait(1.0)
    finally:
        leadership.release()
        if publisher is not None:
            publisher.close()


@projections_app.command("run")
def run(
    only: Annotated[list[str] | None, typer.Option("--only", help="Ne tenir que ces vues (répétable).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Rattraper le retard puis s'arrêter.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Événements par transaction.")] = 5000,
) -> None:
    """Tenir les vues à jour en continu (ou rattraper le retard une fois avec --once)."""
    from projections.store.worker import ProjectionWorker

    views = _views(only or [ALL[0]])
    services = open_services_from_env()
    try:
        if once:
            with ProjectionWorker(services.store, views, batch_size=batch_size) as worker:
                count = worker.catch_up()
            typer.echo(f"{count} événement(s) traité(s) ; vues à jour.")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        exporter = _serve_metrics(services)
        typer.echo(f"Suivi des vues : {', '.join(v.name for v in views)} (Ctrl-C pour arrêter)")
        try:
            follow_views(services, views, batch_size, stop)
        finally:
            if exporter is not None:
                exporter.shutdown()
        typer.echo("Arrêt du suivi des vues.")
    finally:
        services.close()


def _serve_metrics(services: Any) -> Any:
    """/metrics, /healthz and /readyz on TOCSIN_METRICS_PORT when it is set: ready when the database
    answers and the views are within TOCSIN_READY_VIEW_LAG seconds of the store."""
    settings = services.settings
    if settings.metrics_port is None:
        return None
    from adapters.metrics import serve_metrics
    from projections.read.readiness import views_readiness

    def ready() -> tuple[bool, dict]:
        readiness = views_readiness(services.store, settings.ready_view_lag)
        return readiness.ready, readiness.as_dict()

    return serve_metrics(settings.metrics_address, settings.metrics_port, settings.metrics_token, ready)[0]


# ---- view -----------------------------------------------------------------------------------------


def view(
    territory: Annotated[str, typer.Argument(
        metavar="TERRITOIRE",
        help="niveau:code (commune:35238, departement:35, zone:ouest, FR) ou un nom (Rennes, Ille-et-Vilaine).")],
    as_json: JsonOption = False,
    top: Annotated[int, typer.Option(min=0, max=100, help="Nombre d'affaires les plus graves.")] = 5,
    now: Annotated[str | None, typer.Option(help="Instant de référence des fenêtres 1 h / 24 h (ISO 8601).")] = None,
) -> None:
    """Afficher la vue d'un territoire : affaires, natures, victimes, moyens, affaires les plus graves."""
    from domain.geography import UnknownTerritory
    from projections.read.queries import territory_view
    from projections.read.territories import typed_territory

    reference = None
    if now is not None:
        from domain.case_state import parse_time

        reference = parse_time(now)
        if reference is None:
            raise typer.BadParameter(f"date invalide (ISO 8601 attendu) : {now}")
    services = open_services_from_env()
    try:
        lvl, code = typed_territory(territory, services.geography)
        result = territory_view(services.store, lvl, code, now=reference, top=top, geography=services.geography)
    except UnknownTerritory as unknown:
        typer.echo(str(unknown), err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()
    if as_json:
        print_json(result)
    else:
        _print_view(result)


def _print_view(v: dict[str, Any]) -> None:
    for line in view_lines(v):
        typer.echo(line)


def view_lines(v: dict[str, Any]) -> list[str]:
    """`tocsin view` as lines of French text: times in the territory's zone, numbers as French writes them."""
    zone = zone_of(v["level"], v["code"])
    n = number
    out = [f"{v['label']} — {LEVEL_LABELS[v['level']]} ({v['code']})"]
    out.append(
        f"  Affaires : {n(v['cases_active'])} en cours, {n(v['cases_closed'])} closes"
        f" ({n(v['cases_total'])} au total) ;"
        f" ouvertes dans la dernière heure : {n(v['opened_last_hour'])},"
        f" dans les dernières 24 h : {n(v['opened_last_24h'])}"
    )
    if v["families"]:
        out.append("  Par nature :")
        for f in v["families"]:
            out.append(f"    {f['label']} : {n(f['active'])} en cours sur {n(f['total'])}")
            # Each sub-nature under its own family (a wildfire is a fire, a storm a natural hazard).
            for s in v["subfamilies"]:
                if s.get("family") == f["family"]:
                    out.append(f"      dont {s['label']} : {n(s['active'])} en cours sur {n(s['total'])}")
    victims = v["victims"]
    live = victims["open"]
    out.append(f"  Victimes des affaires en cours : {live['headline']}")
    out.append(f"    Évacués : {n(live['evacuated'])}, déplacés : {n(live['displaced'])}")
    declared = ", ".join(f"{c['label'].lower()} {n(c['cases'])}" for c in live["declared"])
    if declared:
        out.append(f"    Affaires en cours selon le nombre de victimes déclaré au signalement : {declared}")
    t = victims["triage"]
    out.append(
        f"  Depuis le début (affaires closes comprises), bilan EMSI : urgences absolues {n(t['red'])},"
        f" urgences relatives {n(t['yellow'])}, impliqués {n(t['green'])}, décédés {n(t['black'])},"
        f" disparus {n(t['missing'])} ; évacués {n(victims['evacuated'])}, déplacés {n(victims['displaced'])}"
    )
    resources = v["resources"]
    out.append(f"  Moyens : {n(resources['engaged'])} engagés, {n(resources['total'])} au total")
    for k in resources["by_kind"]:
        phases = ", ".join(f"{p['label'].lower()} {n(p['count'])}" for p in k["by_phase"])
        name = k["kind"] if k["label"] == k["kind"] else f"{k['kind']} ({k['label']})"
        out.append(f"    {name} : {n(k['total'])} ({phases})")
    if v["most_serious"]:
        out.append("  Affaires en cours les plus graves :")
        for c in v["most_serious"]:
            opened = _when(c["opened_at"], zone, seconds=False) if c["opened_at"] else "date inconnue"
            out.append(
                f"    [gravité {n(c['severity'])}] {c['case_id']} — {c['nature_label'] or c['family_label']},"
                f" {c['commune_name']} ({c['commune']}), ouverte le {opened}"
            )
    out.append(f"  Mise à jour : {_when(v['updated_at'], zone)} (position {n(v['position'])})")
    return out

