"""Requests that emergency services exchanged through NexSIS, by territory: read-only, linked to their
case (the authorities' own requests are `/api/v1/requests`, another resource)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from api.dependencies import Reader, ServicesDep, visible_territory
from api.schemas import NexsisRequestPage
from projections.read.nexsis_requests import territory_requests

router = APIRouter(prefix="/api/v1/nexsis/requests", tags=["Demandes entre services (NexSIS)"])


@router.get("", summary="Demandes entre services de secours (NexSIS) d'un territoire, par affaire",
            response_model=NexsisRequestPage)
async def list_nexsis_requests(
    principal: Reader,
    services: ServicesDep,
    level: Annotated[str | None, Query(description="Niveau du territoire (par défaut : le vôtre)")] = None,
    code: Annotated[str | None, Query(description="Code du territoire (par défaut : le vôtre)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Demandes de ressource (RS-DR) et leurs réponses (RS-RR), demandes de concours EMSI et leurs
    réponses, statuts des moyens envoyés (RS-SR), des seules affaires que vous pouvez voir."""
    if level is None and code is None:
        lvl, code = principal.level, principal.code
    elif level is None or code is None:
        raise HTTPException(422, "indiquez à la fois level et code, ou aucun des deux")
    else:
        lvl, code = visible_territory(principal, level, code)
    return await run_in_threadpool(
        lambda: territory_requests(services.store, lvl, code, may_see=principal.can_see_placement,
                                   limit=limit, offset=offset))
