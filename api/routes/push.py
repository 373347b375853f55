"""Web Push subscriptions over HTTP: the dashboard's service worker (api/static/push.js, sw.js) registers
the browser of the person logged in, with the server's VAPID public key that this router serves.

    GET  /api/v1/push/key                      the VAPID public key (none: push not configured here)
    POST /api/v1/push/subscriptions            subscribe this browser (the subscription's JSON)
    POST /api/v1/push/subscriptions/removal    unsubscribe it (its endpoint)
    GET  /notifications/jeton                  the dashboard's CSRF token for the two writes

The writes take a bearer token, or the dashboard's cookie with a CSRF token in the `X-Tocsin-CSRF`
header, bound to its session and sent from this site (as the dashboard's acknowledgement).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from adapters.directory import push_subscriptions
from api.dependencies import ServicesDep, current_principal
from api.forms import from_this_site
from api.routes.alerts import cookie_session
from api.schemas import PushEndpointIn, PushKeyOut, PushSubscriptionIn, PushSubscriptionOut
from domain.access import Principal
from domain.directory import DirectoryError

router = APIRouter(tags=["Alertes"])
PUSH_PURPOSE = "push-subscription"


def _server_key(request: Request) -> str | None:
    """The VAPID public key, read once (the key file is created at the first read where none is set)."""
    state = request.app.state
    if not hasattr(state, "vapid_public_key"):
        from adapters.notify.push import application_server_key, vapid_key

        settings = state.services.settings
        state.vapid_public_key = application_server_key(vapid_key(settings)) if settings.vapid_subject else None
    key: str | None = state.vapid_public_key
    return key


async def _subscriber(request: Request) -> Principal:
    if request.headers.get("authorization"):
        return await current_principal(request)
    principal, binding = await cookie_session(request)
    if not from_this_site(request, PUSH_PURPOSE, binding, request.headers.get("x-tocsin-csrf")):
        raise HTTPException(403, "abonnement refusé : jeton de formulaire absent ou envoyé depuis un autre site")
    return principal


@router.get("/api/v1/push/key", summary="Clé publique VAPID pour s'abonner aux notifications push",
            response_model=PushKeyOut)
async def push_key(request: Request) -> dict[str, Any]:
    await current_principal(request)
    return {"application_server_key": await run_in_threadpool(_server_key, request)}


@router.post("/api/v1/push/subscriptions", summary="Recevoir les alertes en notification push sur ce navigateur",
             response_model=PushSubscriptionOut)
async def subscribe(request: Request, services: ServicesDep, body: PushSubscriptionIn) -> dict[str, Any]:
    """Pour la personne connectée (sous une habilitation de l'annuaire) ; à nouveau : rien de nouveau."""
    principal = await _subscriber(request)
    try:
        held = await run_in_threadpool(
            lambda: push_subscriptions.subscribe(services, principal, endpoint=body.endpoint, keys=body.keys))
    except DirectoryError as e:
        raise HTTPException(422, str(e)) from e
    return {"subscribed": True, "subscriptions": held}


@router.post("/api/v1/push/subscriptions/removal", summary="Ne plus recevoir de notifications sur ce navigateur",
             response_model=PushSubscriptionOut)
async def unsubscribe(request: Request, services: ServicesDep, body: PushEndpointIn) -> dict[str, Any]:
    principal = await _subscriber(request)
    try:
        held = await run_in_threadpool(
            lambda: push_subscriptions.unsubscribe(services, principal, endpoint=body.endpoint))
    except DirectoryError as e:
        raise HTTPException(422, str(e)) from e
    return {"subscribed": False, "subscriptions": held}


@router.get("/notifications/jeton", include_in_schema=False)
async def push_csrf(request: Request) -> JSONResponse:
    _, binding = await cookie_session(request)
    return JSONResponse({"csrf": request.app.state.auth.csrf_token(PUSH_PURPOSE, binding)},
                        headers={"Cache-Control": "no-store"})
