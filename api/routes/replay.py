"""Replay for analysts, auditors and national staff: any view as of a past moment, crisis timelines.

Same territory rules as the live views (api.auth.check_territory): a replay shows nothing a caller
could not have seen live. Replayed rows never hold personal data (the views drop it before folding).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import Principal, check_territory, current_principal, outside, parse_territory
from api.responses import JSONBytes
from projections.read.rows import row_placement
from replay.as_of import CASE, CASES, KNOWN_AT, replay_view
from replay.checkpoints import level_of_code
from replay.timeline import build_timeline, parse_interval

router = APIRouter(prefix="/api/v1/replay", tags=["Rejeu"])

REPLAY_ROLES = frozenset({"analyst", "auditor", "national"})


async def replayer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role.code not in REPLAY_ROLES:
        raise HTTPException(403, "le rejeu est réservé aux analystes, aux auditeurs et au niveau national")
    return principal


Replayer = Annotated[Principal, Depends(replayer)]
Sense = Annotated[Literal["known-at", "happened-by"], Query(
    description="known-at : ce que la plateforme savait (heure d'enregistrement) ; "
                "happened-by : ce qui s'était passé (heure des messages)")]


@router.get(
    "/views/{level}/{code}",
    response_class=JSONBytes,
    summary="Une vue telle qu'elle était à un instant passé",
    description=(
        "`level` : commune, departement, zone, national (`FR`), cases (liste des affaires d'un territoire) "
        "ou case (une affaire, par son identifiant CISU). Reconstituée à partir du journal des événements, "
        "depuis le point de reprise le plus proche. 403 hors de votre périmètre."
    ),
)
async def get_replayed_view(
    request: Request, principal: Replayer, level: str, code: str,
    at: Annotated[datetime, Query(description="Instant (ISO 8601, avec fuseau)")],
    sense: Sense = KNOWN_AT,
) -> JSONBytes:
    if at.tzinfo is None:
        raise HTTPException(422, "l'instant doit porter un fuseau horaire (ex. 2025-11-02T18:00:00+01:00)")
    if level == CASES:
        check_territory(principal, level_of_code(code).value, code)
    elif level != CASE:
        check_territory(principal, level, code)
    store = request.app.state.services.store
    result = await run_in_threadpool(replay_view, store, level, code, at, sense)
    if level == CASE:
        if result.view is None:
            raise HTTPException(404, f"affaire inconnue à cet instant : {code}")
        if not principal.can_see_placement(row_placement(result.view)):
            raise outside("commune", result.view["commune"])
    return JSONBytes(result.as_dict())


@router.get(
    "/timeline",
    response_class=JSONBytes,
    summary="Chronologie d'une crise sur un territoire et une fenêtre de temps",
    description=(
        "Par intervalle : affaires ouvertes et closes, en cours, victimes, évacués, moyens engagés ; "
        "par affaire : délais de la création au premier moyen engagé et au premier moyen sur les lieux ; pics. "
        "Heures des messages."
    ),
)
async def get_timeline(
    request: Request, principal: Replayer,
    territory: Annotated[str, Query(description="niveau:code, ex. departement:29 ou national:FR")],
    start: Annotated[datetime, Query(alias="from", description="Début (ISO 8601)")],
    end: Annotated[datetime, Query(alias="to", description="Fin (ISO 8601)")],
    interval: Annotated[str | None, Query(description="Pas : 15min, 1h, 1j")] = None,
) -> JSONBytes:
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(422, "les instants doivent porter un fuseau horaire (ex. 2025-11-02T18:00:00+01:00)")
    try:
        level, code = parse_territory(territory)
        step = parse_interval(interval, start, end)
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    check_territory(principal, level.value, code)
    try:
        timeline = await run_in_threadpool(build_timeline, request.app.state.services.store, level, code, start, end,
                                           step)
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    result: dict[str, Any] = timeline.as_dict()
    return JSONBytes(result)
