"""Replay (for the roles domain.access lets replay): any view as of a past moment, crisis timelines.

Same territory rules as the live views: a replay shows nothing a caller could not have seen live.
Replayed rows never hold personal data (the views drop it before folding).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from adapters.crisis.crises import UnknownCrisis, find_crisis
from adapters.services import Services
from api.dependencies import Replayer, ServicesDep, visible_territory
from api.schemas import JSONBytes, ReplayedView, RequestList, Timeline
from domain.access import Principal, may_replay_request
from domain.geography import level_of_code, parse_territory
from projections.read.rows import row_placement
from replay.as_of import CASE, CASES, replay_view
from replay.report import html_page
from replay.requests import crisis_requests_as_of, delays, requests_in
from replay.timeline import Timeline as TimelineFigures
from replay.timeline import build_timeline, parse_interval

router = APIRouter(prefix="/api/v1/replay", tags=["Rejeu"])
CASE_NOT_FOUND = "affaire inconnue à cet instant ou hors de votre périmètre"

Sense = Annotated[Literal["known-at", "happened-by"], Query(
    description="known-at : ce que la plateforme savait (heure d'enregistrement) ; "
                "happened-by : ce qui s'était passé (heure des messages)")]


@router.get(
    "/views/{level}/{code}",
    response_class=JSONBytes,
    response_model=ReplayedView,
    summary="Une vue telle qu'elle était à un instant passé",
    description=(
        "`level` : commune, departement, zone, national (`FR`), cases (liste des affaires d'un territoire) "
        "ou case (une affaire, par son identifiant CISU). Reconstituée à partir du journal des événements, "
        "depuis le point de reprise le plus proche. 403 pour un territoire hors de votre périmètre ; "
        "404 pour une affaire inconnue à cet instant ou hors de votre périmètre."
    ),
)
async def get_replayed_view(
    principal: Replayer, services: ServicesDep, level: str, code: str,
    at: Annotated[datetime, Query(description="Instant (ISO 8601, avec fuseau)")],
    sense: Sense = "known-at",
) -> JSONBytes:
    if at.tzinfo is None:
        raise HTTPException(422, "l'instant doit porter un fuseau horaire (ex. 2025-11-02T18:00:00+01:00)")
    if level == CASES:
        # A case list's URL gives a bare code: its level is guessed from the code's form.
        _, code = visible_territory(principal, level_of_code(code), code)
    elif level != CASE:
        territory, code = visible_territory(principal, level, code)
        level = territory.value
    result = await run_in_threadpool(replay_view, services.store, level, code, at, sense)
    if level == CASE:
        # One answer for an unknown case and one outside the perimeter: a 403 would say that it exists.
        if result.view is None or not principal.can_see_placement(row_placement(result.view)):
            raise HTTPException(404, CASE_NOT_FOUND)
    return JSONBytes(result.as_dict())


@router.get(
    "/timeline",
    response_class=JSONBytes,
    response_model=Timeline,
    summary="Chronologie d'une crise sur un territoire et une fenêtre de temps",
    description=(
        "Par intervalle : affaires ouvertes et closes, en cours, victimes, évacués, moyens engagés ; "
        "par affaire : délais de la création au premier moyen engagé et au premier moyen sur les lieux ; pics. "
        "Heures des messages."
    ),
)
async def get_timeline(
    principal: Replayer, services: ServicesDep,
    territory: Annotated[str, Query(description="niveau:code, ex. departement:29 ou national:FR")],
    start: Annotated[datetime, Query(alias="from", description="Début (ISO 8601)")],
    end: Annotated[datetime, Query(alias="to", description="Fin (ISO 8601)")],
    interval: Annotated[str | None, Query(description="Pas : 15min, 1h, 1j")] = None,
) -> JSONBytes:
    timeline = await _timeline(principal, services, territory, start, end, interval)
    result: dict[str, Any] = timeline.as_dict()
    return JSONBytes(result)


@router.get(
    "/report",
    response_class=HTMLResponse,
    summary="Rapport de retour d'expérience (page HTML autonome à télécharger)",
    description=(
        "La même page que `tocsin replay report` : synthèse, pics, graphiques, chronologie et délais par affaire, "
        "heures dans le fuseau du territoire (indiqué). Mêmes paramètres et mêmes règles que `/timeline`."
    ),
)
async def get_report(
    principal: Replayer, services: ServicesDep,
    territory: Annotated[str, Query(description="niveau:code, ex. departement:29 ou national:FR")],
    start: Annotated[datetime, Query(alias="from", description="Début (ISO 8601)")],
    end: Annotated[datetime, Query(alias="to", description="Fin (ISO 8601)")],
    interval: Annotated[str | None, Query(description="Pas : 15min, 1h, 1j")] = None,
) -> HTMLResponse:
    timeline = await _timeline(principal, services, territory, start, end, interval)
    try:
        name = services.geography.label(timeline.level, timeline.code)
    except KeyError:
        name = timeline.code
    rows = await run_in_threadpool(_request_delays, principal, services, timeline)
    # Downloaded, not shown: the page carries its own inline style, which this site's CSP would refuse.
    filename = f"rapport-{timeline.level}-{timeline.code}.html"
    return HTMLResponse(html_page(timeline, name, requests=rows), headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _request_delays(principal: Principal, services: Services, timeline: TimelineFigures) -> list[dict]:
    found = requests_in(services.store, services.geography, timeline.level, timeline.code, timeline.start,
                        timeline.end)
    return delays(r for r in found if may_replay_request(principal, r.parties()))


@router.get(
    "/requests",
    response_model=RequestList,
    summary="Les demandes d'une crise telles qu'elles étaient à un instant passé",
    description="Chaque demande avec son historique jusqu'à `at` (heure d'enregistrement des actes). Celles dont "
                "une partie est dans votre périmètre ; une crise hors de votre périmètre répond 404.",
)
async def get_requests(
    principal: Replayer, services: ServicesDep,
    crisis_id: Annotated[str, Query(description="Identifiant de la crise")],
    at: Annotated[datetime, Query(description="Instant (ISO 8601 avec fuseau)")],
) -> dict:
    if at.tzinfo is None:
        raise HTTPException(422, "l'instant doit porter un fuseau horaire (ex. 2025-11-02T18:00:00+01:00)")
    try:
        crisis = await run_in_threadpool(find_crisis, services.store, crisis_id, principal)
    except UnknownCrisis as error:
        raise HTTPException(404, str(error)) from error
    items = await run_in_threadpool(crisis_requests_as_of, services.store, crisis.id, at)
    return {"items": [r for r in items if may_replay_request(principal, [r["from_organisation"],
                                                                         r["to_organisation"]])]}


async def _timeline(principal: Principal, services: Services, territory: str, start: datetime, end: datetime,
                    interval: str | None) -> TimelineFigures:
    """One reading of a timeline request for the JSON and the report: the same refusals for both."""
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(422, "les instants doivent porter un fuseau horaire (ex. 2025-11-02T18:00:00+01:00)")
    try:
        level, code = parse_territory(territory)
        step = parse_interval(interval, start, end)
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    level, code = visible_territory(principal, level, code)
    try:
        return await run_in_threadpool(build_timeline, services.store, level, code, start, end, step)
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
