"""Crises: open one over your territory, list those you take part in, read one, close it, attach and
detach cases. Every act is an event (adapters.crisis.crises); the rules are domain.access's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from adapters.crisis.crises import (
    attach_case,
    close_crisis,
    detach_case,
    find_crisis,
    open_crisis,
    visible_crises,
)
from api.dependencies import Reader, ReadModelDep, ServicesDep
from api.refusals import act
from api.schemas import (
    CrisisAttachRequest,
    CrisisCloseRequest,
    CrisisDetachRequest,
    CrisisItem,
    CrisisList,
    CrisisRequest,
    CrisisView,
)
from domain.access import Principal
from domain.crisis import Crisis
from domain.geography import Level
from projections.read.crisis_view import as_seen_by, case_ids, crisis_view
from projections.read.model import ReadModel
from projections.read.territories import territory_name

router = APIRouter(tags=["Crises"])


@router.post("/api/v1/crises", summary="Ouvrir une crise sur votre territoire", response_model=CrisisItem)
async def open_one(body: CrisisRequest, principal: Reader, services: ServicesDep) -> dict:
    crisis = await act(lambda: open_crisis(services.store, principal, title=body.title, kind=body.kind,
                                            territory=body.territory, start=body.start, exercise=body.exercise))
    return crisis.as_dict()  # nothing attached yet


async def _seen(crises: list[Crisis], principal: Principal, read_model: ReadModel) -> list[dict]:
    """The crises as the reader may read them: only the cases of its perimeter (projections.read.crisis_view)."""
    described = [c.as_dict() for c in crises]
    rows = await read_model.cases_by_id(frozenset().union(*(case_ids(c) for c in described)))
    return [as_seen_by(c, rows, principal) for c in described]


@router.get("/api/v1/crises", summary="Crises auxquelles vous prenez part", response_model=CrisisList)
async def list_crises(principal: Reader, services: ServicesDep, read_model: ReadModelDep, closed: bool = True
                      ) -> dict:
    found = await run_in_threadpool(lambda: visible_crises(services.store, principal, include_closed=closed))
    return {"items": await _seen(found, principal, read_model)}


@router.get("/api/v1/crises/{crisis_id}", summary="Une crise", response_model=CrisisItem)
async def get_one(crisis_id: str, principal: Reader, services: ServicesDep, read_model: ReadModelDep) -> dict:
    [seen] = await _seen([await act(lambda: find_crisis(services.store, crisis_id, principal))], principal,
                         read_model)
    return seen


@router.post("/api/v1/crises/{crisis_id}/close", summary="Clore une crise", response_model=CrisisItem)
async def close_one(crisis_id: str, body: CrisisCloseRequest, principal: Reader, services: ServicesDep) -> dict:
    return (await act(lambda: close_crisis(services.store, crisis_id, principal, body.summary))).as_dict()


@router.post("/api/v1/crises/{crisis_id}/cases", summary="Rattacher une affaire à la crise",
             response_model=CrisisItem)
async def attach(crisis_id: str, body: CrisisAttachRequest, principal: Reader, services: ServicesDep) -> dict:
    return (await act(lambda: attach_case(services.store, crisis_id, principal, body.case_id))).as_dict()


@router.post("/api/v1/crises/{crisis_id}/cases/{case_id}/detach", summary="Détacher une affaire de la crise",
             response_model=CrisisItem)
async def detach(crisis_id: str, case_id: str, body: CrisisDetachRequest, principal: Reader,
                 services: ServicesDep) -> dict:
    return (await act(lambda: detach_case(services.store, crisis_id, principal, case_id, body.reason))).as_dict()


@router.get("/api/v1/crises/{crisis_id}/view", summary="Vue d'une crise : chiffres, carte et affaires rattachées",
            description="Les affaires rattachées que votre périmètre contient (un maire : celles de sa commune), "
                        "leurs chiffres calculés comme ceux des vues de territoire, sans données personnelles ; "
                        "les heures dans le fuseau du territoire de la crise.",
            response_model=CrisisView)
async def view(crisis_id: str, principal: Reader, services: ServicesDep, read_model: ReadModelDep,
               limit: Annotated[int, Query(ge=0, le=5000, description="Affaires listées au plus")] = 500) -> dict:
    crisis = (await act(lambda: find_crisis(services.store, crisis_id, principal))).as_dict()
    rows = await read_model.cases_by_id(frozenset(c["case_id"] for c in crisis["cases"]))
    level, _, code = crisis["territory"].partition(":")
    _, label = territory_name(read_model.geography, Level(level), code)
    return crisis_view(crisis, rows, principal, read_model.geography, territory_name=label, limit=limit)
