"""For auditors: the access log (who read which case, when) and the quarantine, within their territory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from adapters.ingest.quarantine import list_entries
from adapters.store import access_log
from api.dependencies import Auditor, QuarantineReader, ServicesDep
from api.schemas import AccessLogEntry, QuarantineEntry

router = APIRouter(prefix="/api/v1", tags=["Audit"])


@router.get("/access-log", response_model=list[AccessLogEntry], summary="Journal des lectures d'affaires (auditeurs)")
async def get_access_log(
    principal: Auditor,
    services: ServicesDep,
    case_id: Annotated[str | None, Query(description="Une seule affaire")] = None,
    since: Annotated[datetime | None, Query(description="Lectures depuis cette date (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    return await run_in_threadpool(
        access_log.entries, services.store, case_id=case_id, since=since, limit=limit, offset=offset,
        **principal.access_log_scope(),
    )


@router.get("/quarantine", response_model=list[QuarantineEntry],
            summary="Messages en quarantaine (auditeurs de niveau national)")
async def get_quarantine(
    principal: QuarantineReader,
    services: ServicesDep,
    all: Annotated[bool, Query(description="inclure les messages réintégrés")] = False,
) -> list[dict[str, Any]]:
    entries = await run_in_threadpool(list_entries, services.store, include_resolved=all)
    return [e.as_dict() for e in entries]
