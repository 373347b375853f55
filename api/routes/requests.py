"""Requests between authorities (demandes): send one, list your inbox and outbox, read one with its history
(its first opening by a person of the addressee records « seen »), answer, move it along, cancel it. Every
act is an event (adapters.crisis.requests); who may do what is domain.access's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from adapters.crisis import requests as use
from adapters.services import Services
from api.dependencies import Reader, ServicesDep
from api.refusals import act
from api.schemas import RequestAnswer, RequestItem, RequestList, RequestSend, RequestText
from domain.access import Principal

router = APIRouter(tags=["Demandes"])


def send(services: Services, recipients: Any, principal: Principal, body: RequestSend) -> dict:
    services.ensure_directory()
    return use.issue(services.store, services.directory, recipients, principal, to=body.to, kind=body.kind,
                     text=body.text, deadline=body.deadline, crisis_id=body.crisis_id,
                     case_id=body.case_id).as_dict()


def do(services: Services, recipients: Any, principal: Principal, request_id: str, what: str, text: str) -> dict:
    """One of the acts that take a text: progress, done, close, cancel, information asked or given,
    escalate, return."""
    store = services.store
    acts: dict[str, Callable[[], Any]] = {
        "progress": lambda: use.start(store, recipients, request_id, principal, text),
        "done": lambda: use.finish(store, recipients, request_id, principal, text),
        "close": lambda: use.close(store, request_id, principal, text),
        "cancel": lambda: use.cancel(store, recipients, request_id, principal, text),
        "info-asked": lambda: use.ask_info(store, recipients, request_id, principal, text),
        "info-given": lambda: use.give_info(store, recipients, request_id, principal, text),
        "escalate": lambda: use.escalate(store, services.directory, services.geography, recipients, request_id,
                                         principal, text),
        "return": lambda: use.give_back(store, recipients, request_id, principal, text),
    }
    return acts[what]().as_dict()


@router.post("/api/v1/requests", summary="Envoyer une demande à une organisation", response_model=RequestItem)
async def send_one(body: RequestSend, principal: Reader, services: ServicesDep, request: Request) -> dict:
    return await act(lambda: send(services, request.app.state.recipients, principal, body))


@router.get("/api/v1/requests", summary="Demandes reçues (inbox) ou envoyées (outbox) ; toutes celles que vous "
                                        "voyez sans `box`", response_model=RequestList)
async def list_requests(principal: Reader, services: ServicesDep,
                        box: Annotated[str | None, Query(description="inbox ou outbox")] = None,
                        crisis_id: Annotated[str | None, Query(description="Celles d'une crise")] = None) -> dict:
    found = await act(lambda: use.visible_requests(services.store, principal, box=box, crisis_id=crisis_id))
    return {"items": [r.as_dict(history=False) for r in found]}


@router.get("/api/v1/requests/{request_id}", summary="Une demande et son historique", response_model=RequestItem)
async def get_one(request_id: str, principal: Reader, services: ServicesDep) -> dict:
    return (await act(lambda: use.open_request(services.store, request_id, principal))).as_dict()


@router.post("/api/v1/requests/{request_id}/answer", summary="Répondre à une demande (ACCEPTEE, PARTIELLE, "
                                                             "REFUSEE, DIFFEREE)", response_model=RequestItem)
async def answer(request_id: str, body: RequestAnswer, principal: Reader, services: ServicesDep,
                 request: Request) -> dict:
    return (await act(lambda: use.answer(services.store, request.app.state.recipients, request_id, principal,
                                         code=body.answer, comment=body.comment, deadline=body.deadline))).as_dict()


def _route(what: str, summary: str) -> None:
    async def route(request_id: str, body: RequestText, principal: Reader, services: ServicesDep,
                    request: Request) -> dict:
        return await act(lambda: do(services, request.app.state.recipients, principal, request_id, what, body.text))

    route.__name__ = "request_" + what.replace("-", "_")
    router.add_api_route(f"/api/v1/requests/{{request_id}}/{what}", route, methods=["POST"], summary=summary,
                         response_model=RequestItem)


for _what, _summary in (
    ("cancel", "Annuler une demande (son émetteur)"),
    ("progress", "Signaler une demande acceptée en cours de traitement (son destinataire)"),
    ("done", "Signaler une demande réalisée (son destinataire)"),
    ("close", "Clore une demande réalisée ou refusée (son émetteur)"),
    ("info-asked", "Demander un complément à l'émetteur (le destinataire ; `text` : la question)"),
    ("info-given", "Apporter le complément demandé (l'émetteur ; `text` : le complément)"),
    ("escalate", "Transmettre la demande à l'autorité supérieure (le destinataire)"),
    ("return", "Renvoyer une demande transmise à l'organisation qui l'a transmise"),
):
    _route(_what, _summary)
