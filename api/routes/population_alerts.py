"""Alerts to the population: a mairie drafts, its préfecture approves (published as CAP 1.2) or refuses,
then updates and cancels by CAP's rules. Outside the caller's perimeter an alert answers 404 like an
unknown one; inside it, an act the caller may not do answers 403, one the alert's state refuses 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from adapters.cap.gateway import gateway_for
from adapters.crisis import population_alerts as use_cases
from api.dependencies import Reader, ServicesDep
from api.refusals import act
from api.schemas import (
    PopulationAlertContent,
    PopulationAlertDetail,
    PopulationAlertDraft,
    PopulationAlertList,
    PopulationAlertReason,
)
from domain.population_alert import PopulationAlert

router = APIRouter(tags=["Alertes à la population"])
PREFIX = "/api/v1/population-alerts"


async def _detail(services: Any, do: Callable[[], PopulationAlert]) -> dict:
    def run() -> dict:
        alert = do()
        return {**use_cases.summary(alert), "history": use_cases.history(services.store, alert)}

    return await act(run)


@router.post(PREFIX, summary="Rédiger une alerte à la population (mairie)", response_model=PopulationAlertDetail)
async def draft(body: PopulationAlertDraft, principal: Reader, services: ServicesDep, request: Request) -> dict:
    return await _detail(services, lambda: use_cases.draft(
        services.store, services.geography, request.app.state.recipients, principal, insee=body.insee,
        content=body.model_dump(), crisis_id=body.crisis_id, exercise=body.exercise))


@router.get(PREFIX, summary="Alertes à la population de votre territoire", response_model=PopulationAlertList)
async def list_alerts(principal: Reader, services: ServicesDep) -> dict:
    return {"items": await run_in_threadpool(use_cases.visible, services.store, principal)}


@router.get(PREFIX + "/{alert_id}", summary="Une alerte à la population, son historique et ses messages CAP",
            response_model=PopulationAlertDetail)
async def show(alert_id: str, principal: Reader, services: ServicesDep) -> dict:
    return await _detail(services, lambda: use_cases.find(services.store, alert_id, principal))


@router.post(PREFIX + "/{alert_id}/approve", summary="Valider et publier en CAP (préfecture)",
             response_model=PopulationAlertDetail)
async def approve(alert_id: str, principal: Reader, services: ServicesDep) -> dict:
    return await _detail(services, lambda: use_cases.approve(
        services.store, services.settings, services.geography, gateway_for(services.settings), principal, alert_id))


@router.post(PREFIX + "/{alert_id}/refuse", summary="Refuser, avec la raison (préfecture)",
             response_model=PopulationAlertDetail)
async def refuse(alert_id: str, body: PopulationAlertReason, principal: Reader, services: ServicesDep) -> dict:
    return await _detail(services, lambda: use_cases.refuse(services.store, principal, alert_id, body.reason))


@router.post(PREFIX + "/{alert_id}/update", summary="Nouvelle version, à valider puis publiée en CAP Update (mairie)",
             response_model=PopulationAlertDetail)
async def update(alert_id: str, body: PopulationAlertContent, principal: Reader, services: ServicesDep,
                 request: Request) -> dict:
    return await _detail(services, lambda: use_cases.update(
        services.store, request.app.state.recipients, principal, alert_id, body.model_dump()))


@router.post(PREFIX + "/{alert_id}/cancel", summary="Annuler (publiée : message CAP Cancel)",
             response_model=PopulationAlertDetail)
async def cancel(alert_id: str, body: PopulationAlertReason, principal: Reader, services: ServicesDep) -> dict:
    return await _detail(services, lambda: use_cases.cancel(
        services.store, services.settings, services.geography, gateway_for(services.settings), principal, alert_id,
        body.reason))


@router.post(PREFIX + "/{alert_id}/publish", summary="Publier à nouveau après un échec (préfecture)",
             response_model=PopulationAlertDetail)
async def publish(alert_id: str, principal: Reader, services: ServicesDep) -> dict:
    return await _detail(services, lambda: use_cases.publish_again(
        services.store, gateway_for(services.settings), principal, alert_id))
