"""Cases: the scoped, paginated list and one case's detail with its history (reads are logged)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from adapters.store import access_log
from api.dependencies import Reader, ReadModelDep, ServicesDep, visible_territory
from api.schemas import CaseDetail, CasePage, JSONBytes, json_bytes
from domain.access import Principal
from domain.nature import NatureFamily
from projections.read.case import case_placement, describe_case
from projections.read.rows import row_placement

router = APIRouter(prefix="/api/v1/cases", tags=["Affaires"])

NOT_FOUND = "affaire inconnue ou hors de votre périmètre"


@router.get("", summary="Affaires d'un territoire (filtres, pagination)", response_class=JSONBytes,
            response_model=CasePage)
async def list_cases(
    principal: Reader,
    read_model: ReadModelDep,
    level: Annotated[str | None, Query(description="Niveau du territoire (par défaut : le vôtre)")] = None,
    code: Annotated[str | None, Query(description="Code du territoire (par défaut : le vôtre)")] = None,
    status: Annotated[Literal["open", "closed"] | None, Query(description="open (en cours) ou closed (close)")] = None,
    family: Annotated[NatureFamily | None, Query(description="Famille de nature (ex. incendie)")] = None,
    nature: Annotated[str | None, Query(description="Début du code de nature (ex. C04 ou C04.02)")] = None,
    since: Annotated[datetime | None, Query(description="Ouvertes à partir de cette date (ISO 8601)")] = None,
    sort: Annotated[Literal["severity", "recent"], Query(
        description="severity : les plus graves d'abord (par défaut) ; recent : les plus récentes d'abord",
    )] = "severity",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    if level is None and code is None:
        lvl, code = principal.level, principal.code
    elif level is None or code is None:
        raise HTTPException(422, "indiquez à la fois level et code, ou aucun des deux")
    else:
        lvl, code = visible_territory(principal, level, code)
    kwargs: dict[str, Any] = {"status": status, "family": family.value if family else None, "since": since,
                              "sort": sort}
    # The page as bytes, per caller perimeter: a hundred dashboards on one page serialise it once.
    key = ("case_page", lvl, code, principal.level, principal.code, nature, limit, offset, *sorted(kwargs.items()))
    body = read_model.peek(key)
    if body is not None:
        return Response(body, media_type="application/json")
    generation = read_model.generation
    if nature:
        # The nature code is a finer filter than the family: page after filtering, in memory.
        # (the projections' list has no nature filter: the 1,000 most recent of the family are searched)
        result = await read_model.case_list(lvl, code, **kwargs, limit=1000, offset=0)
        prefix = nature.strip().upper()
        items = [c for c in result["items"] if (c.get("nature_code") or "").startswith(prefix)]
        result = {"total": len(items), "items": items[offset: offset + limit]}
    else:
        result = await read_model.case_list(lvl, code, **kwargs, limit=limit, offset=offset)
    # Belt and braces: a row outside the perimeter never leaves, whatever the query returned.
    items = [c for c in result["items"] if _visible(principal, c)]
    body = json_bytes({"level": lvl.value, "code": code, "total": result["total"], "limit": limit, "offset": offset,
                       "items": items})
    read_model.remember(key, body, generation)
    return Response(body, media_type="application/json")


def _visible(principal: Principal, summary: dict) -> bool:
    return principal.can_see_placement(row_placement(summary))


@router.get("/{case_id}", summary="Une affaire : état courant et historique des événements (lecture journalisée)",
            response_model=CaseDetail)
async def get_case(request: Request, principal: Reader, services: ServicesDep, case_id: str) -> dict[str, Any]:
    """Les données personnelles ne sont incluses que pour les rôles qui en ont besoin ; chaque lecture
    est inscrite au journal des accès (qui, quel rôle, quelle affaire, quand)."""
    found = await run_in_threadpool(case_placement, services.store, case_id)
    if found is None or not principal.can_see_placement(found[1]):
        raise HTTPException(404, NOT_FOUND)
    case, placement = found
    personal = principal.may_see_personal
    view = await run_in_threadpool(describe_case, services.store, services.geography, case, personal=personal)
    entry = access_log.AccessRecord(
        subject=principal.subject,
        role=principal.role.code,
        territory=principal.territory,
        case_id=case_id,
        personal=personal,
        commune=placement.get("insee"),
        departement=placement.get("departement"),
        zone=placement.get("zone"),
        via=access_log.client_label(request.headers.get("x-tocsin-client")),
        organisation_id=principal.organisation_id,
        grant_id=principal.grant_id,
    )
    await run_in_threadpool(access_log.record, services.store, entry)
    return {"state": view.state, "events": view.events, "personal_included": personal}

