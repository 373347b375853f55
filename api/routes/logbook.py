"""A crisis's log book (main courante) and situation reports: write, read (now or as at a past moment),
export as CSV, XLSX or a printable page. The use cases are adapters.crisis.logbook's and
projections.read.crisis_log's; the rules domain.access's (a crisis outside one's perimeter: 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from adapters.crisis import log_export
from adapters.crisis.crises import find_crisis
from adapters.crisis.logbook import crisis_as_of, crisis_reports, own_log_of, write_entry, write_own_entry, write_report
from api.dependencies import Reader, ReadModelDep, ServicesDep
from api.refusals import act
from api.schemas import (
    LogEntryItem,
    LogEntryRequest,
    LogList,
    OwnLogList,
    ReportItem,
    ReportList,
    ReportRequest,
)
from domain.access import Principal
from domain.geography import Level
from domain.local_time import zone_of
from projections.read.crisis_log import crisis_log, report_figures

router = APIRouter(tags=["Crises"])

AtQuery = Annotated[datetime | None, Query(description="Telle qu'elle était à ce moment (ISO 8601 avec fuseau)")]


def _aware(at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise HTTPException(422, "le moment doit préciser son fuseau horaire")
    return at


@router.post("/api/v1/crises/{crisis_id}/log", summary="Écrire dans la main courante de la crise",
             response_model=LogEntryItem)
async def write(crisis_id: str, body: LogEntryRequest, principal: Reader, services: ServicesDep) -> dict:
    item = await act(lambda: write_entry(services.store, crisis_id, principal, kind=body.kind, text=body.text,
                                          visibility=body.visibility, case_ids=body.case_ids, amends=body.amends))
    return item.as_dict()


def _log(services: Any, crisis_id: str, principal: Principal, at: datetime | None) -> tuple[Any, list]:
    crisis = crisis_as_of(services.store, crisis_id, principal, at)
    return crisis, crisis_log(services.store, services.geography, crisis, principal, at=at)


@router.get("/api/v1/crises/{crisis_id}/log", summary="La main courante de la crise (entrées, messages NexSIS, "
            "alertes, demandes), dans l'ordre", response_model=LogList)
async def read(crisis_id: str, principal: Reader, services: ServicesDep, at: AtQuery = None) -> dict:
    crisis, items = await act(lambda: _log(services, crisis_id, principal, _aware(at)))
    return {"crisis_id": str(crisis.id), "time_zone": crisis.time_zone, "as_of": at.isoformat() if at else None,
            "items": [i.as_dict() for i in items]}


async def _export(fmt: str, crisis_id: str, principal: Principal, services: Any, at: datetime | None) -> Response:
    def build() -> tuple[bytes, str]:
        crisis, items = _log(services, crisis_id, principal, _aware(at))
        zone = ZoneInfo(crisis.time_zone)
        if fmt == "csv":
            body = log_export.to_csv(items, zone).encode("utf-8-sig")  # a spreadsheet reads the accents
        elif fmt == "xlsx":
            body = log_export.to_xlsx(items, zone, crisis.title)
        else:
            reports = crisis_reports(services.store, crisis, at)
            body = log_export.to_html(crisis.as_dict(), items, reports, zone, as_of=at).encode("utf-8")
        return body, f"main-courante-{crisis.id}.{fmt}"

    body, name = await act(build)
    # Downloaded, the page too (as the after-action report): it carries its own inline style, for printing
    # from the file, which this site's content security policy would refuse.
    return Response(body, media_type=log_export.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/api/v1/crises/{crisis_id}/log.csv", summary="La main courante en CSV (heures dans le fuseau de la "
            "crise)", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def export_csv(crisis_id: str, principal: Reader, services: ServicesDep, at: AtQuery = None) -> Response:
    return await _export("csv", crisis_id, principal, services, at)


@router.get("/api/v1/crises/{crisis_id}/log.xlsx", summary="La main courante en classeur XLSX",
            response_class=Response, responses={200: {"content": {log_export.FORMATS["xlsx"]: {}}}})
async def export_xlsx(crisis_id: str, principal: Reader, services: ServicesDep, at: AtQuery = None) -> Response:
    return await _export("xlsx", crisis_id, principal, services, at)


@router.get("/api/v1/crises/{crisis_id}/log.html", summary="La main courante et les points de situation, page "
            "autonome à télécharger et imprimer", response_class=Response,
            responses={200: {"content": {"text/html": {}}}})
async def export_html(crisis_id: str, principal: Reader, services: ServicesDep, at: AtQuery = None) -> Response:
    return await _export("html", crisis_id, principal, services, at)


# ---- an organisation's own log book, outside any crisis ----------------------------------------------

@router.post("/api/v1/log", summary="Écrire dans la main courante de votre organisation (hors crise)",
             response_model=LogEntryItem)
async def write_own(body: LogEntryRequest, principal: Reader, services: ServicesDep) -> dict:
    if body.visibility != "organisation":
        raise HTTPException(422, "hors crise, une entrée n'est lue que par votre organisation (visibility : "
                                 "organisation)")
    item = await act(lambda: write_own_entry(services.store, principal, kind=body.kind, text=body.text,
                                              case_ids=body.case_ids, amends=body.amends))
    return item.as_dict()


@router.get("/api/v1/log", summary="La main courante de votre organisation (hors crise)", response_model=OwnLogList)
async def read_own(principal: Reader, services: ServicesDep, at: AtQuery = None) -> dict:
    organisation, items = await act(lambda: own_log_of(services.store, principal, _aware(at)))
    return {"organisation_id": organisation, "time_zone": zone_of(principal.level, principal.code).key,
            "as_of": at.isoformat() if at else None, "items": [i.as_dict() for i in items]}


# ---- situation reports -----------------------------------------------------------------------------

@router.post("/api/v1/crises/{crisis_id}/reports", summary="Écrire un point de situation (chiffres figés)",
             response_model=ReportItem)
async def add_report(crisis_id: str, body: ReportRequest, principal: Reader, services: ServicesDep,
                     read_model: ReadModelDep) -> dict:
    crisis = await act(lambda: find_crisis(services.store, crisis_id, principal))
    level, _, code = crisis.territory.partition(":")
    figures = report_figures(await read_model.territory_view(Level(level), code))
    return await act(lambda: write_report(services.store, crisis_id, principal, text=body.text, figures=figures,
                                           request_id=body.request_id))


@router.get("/api/v1/crises/{crisis_id}/reports", summary="Les points de situation de la crise, dans l'ordre",
            response_model=ReportList)
async def list_reports(crisis_id: str, principal: Reader, services: ServicesDep, at: AtQuery = None) -> dict:
    def read() -> tuple[Any, list]:
        crisis = crisis_as_of(services.store, crisis_id, principal, _aware(at))
        return crisis, crisis_reports(services.store, crisis, at)

    crisis, reports = await act(read)
    return {"crisis_id": str(crisis.id), "time_zone": crisis.time_zone, "as_of": at.isoformat() if at else None,
            "items": reports}
