"""For auditors: the access log (who read which case, when) and the quarantine, within their territory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from adapters.ingest.quarantine import list_entries
from adapters.store import access_log
from api.auth import Auditor
from domain.geography import Level

router = APIRouter(prefix="/api/v1", tags=["Audit"])


@router.get("/access-log", summary="Journal des lectures d'affaires (auditeurs)")
async def get_access_log(
    request: Request,
    principal: Auditor,
    case_id: Annotated[str | None, Query(description="Une seule affaire")] = None,
    since: Annotated[datetime | None, Query(description="Lectures depuis cette date (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    scope: dict[str, str] = {}
    if principal.level is not Level.NATIONAL:
        scope = {principal.level.value: principal.code}
    rows = await run_in_threadpool(
        access_log.entries, request.app.state.services.store, case_id=case_id, since=since, limit=limit,
        offset=offset, **scope,
    )
    return rows


@router.get("/quarantine", summary="Messages en quarantaine (auditeurs de niveau national)")
async def get_quarantine(
    request: Request,
    principal: Auditor,
    all: Annotated[bool, Query(description="inclure les messages réintégrés")] = False,
) -> list[dict[str, Any]]:
    from fastapi import HTTPException

    # A refused message cannot be placed reliably: only a national perimeter sees the quarantine.
    if principal.level is not Level.NATIONAL:
        raise HTTPException(403, "la quarantaine est réservée aux auditeurs de niveau national")
    entries = await run_in_threadpool(list_entries, request.app.state.services.store, include_resolved=all)
    return [e.as_dict() for e in entries]
