"""Call-outs: launch one to the organisations of your territory, list them with their live tally, answer
(from the dashboard, or from the emailed link `/reponse/{jeton}?choix=…`, a plain page whose button posts
a form: following the link records nothing)."""

from __future__ import annotations

import html
import logging
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from adapters.notify.callouts import (
    UnknownCallOut,
    answer_as,
    answer_by_token,
    callout_for_token,
    find_callout,
    launch,
    visible_callouts,
)
from adapters.notify.email_body import local_time
from adapters.notify.tokens import BadToken
from api.dependencies import Reader, ServicesDep
from api.forms import form_fields, from_this_site
from api.routes.alerts import _page, cookie_session
from api.schemas import AnswerRequest, CallOutItem, CallOutList, CallOutRequest
from domain.access import Denied
from domain.callout import CallOut, CallOutClosed, NotAsked

log = logging.getLogger(__name__)

router = APIRouter(tags=["Appels à mobilisation"])


@router.post("/api/v1/callouts", summary="Lancer un appel à mobilisation", response_model=CallOutItem)
async def launch_callout(body: CallOutRequest, principal: Reader, services: ServicesDep, request: Request) -> dict:
    try:
        launched = await run_in_threadpool(
            lambda: launch(services.store, request.app.state.recipients, principal, question=body.question,
                           organisation_ids=body.organisation_ids, deadline=body.deadline, choices=body.choices,
                           exercise=body.exercise))
    except Denied as e:
        raise HTTPException(403, str(e)) from e
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    return launched.callout.summary()


@router.get("/api/v1/callouts", summary="Appels à mobilisation qui vous concernent, avec leur décompte",
            response_model=CallOutList)
async def list_callouts(principal: Reader, services: ServicesDep) -> dict:
    return {"items": await run_in_threadpool(visible_callouts, services.store, principal)}


@router.get("/api/v1/callouts/{callout_id}", summary="Un appel à mobilisation et son décompte",
            response_model=CallOutItem)
async def get_callout(callout_id: str, principal: Reader, services: ServicesDep) -> dict:
    try:
        return (await run_in_threadpool(find_callout, services.store, callout_id, principal)).summary()
    except UnknownCallOut as e:
        raise HTTPException(404, str(e)) from e


@router.post("/api/v1/callouts/{callout_id}/answers", summary="Répondre à un appel à mobilisation",
             response_model=CallOutItem)
async def answer(callout_id: str, body: AnswerRequest, principal: Reader, services: ServicesDep) -> dict:
    try:
        callout = await run_in_threadpool(answer_as, services.store, callout_id, principal, body.choice)
    except UnknownCallOut as e:
        raise HTTPException(404, str(e)) from e
    except NotAsked as e:
        raise HTTPException(403, str(e)) from e
    except CallOutClosed as e:
        raise HTTPException(409, str(e)) from e
    return callout.summary()


_INVALID = ("<p>Ce lien de réponse n'est pas valide (incomplet, modifié ou émis par un autre Tocsin).</p>"
            "<p>Répondez depuis le tableau de bord.</p>")


def _describe(callout: CallOut) -> str:
    deadline = local_time(callout.deadline.isoformat(), "Europe/Paris")
    return f"<p>{html.escape(callout.question)}</p><p>Réponse attendue avant le {html.escape(deadline)}.</p>"


@router.get("/reponse/{token}", response_class=HTMLResponse, include_in_schema=False)
async def answer_page(token: str, services: ServicesDep, choix: str | None = None) -> HTMLResponse:
    try:
        callout, person = await run_in_threadpool(callout_for_token, services.store, services.settings, token)
    except (BadToken, UnknownCallOut) as e:
        log.info("call-out answer link refused: %s", e)
        return _page("Lien non valide", _INVALID, 404)
    prefix = "EXERCICE — " if callout.exercise else ""
    current = callout.answers.get(person["person_id"])
    said = f"<p>Votre réponse actuelle : « {html.escape(current['choice'])} ».</p>" if current else ""
    choices = [choix] if choix in callout.choices else list(callout.choices)
    forms = "".join(
        f'<form method="post" action="/reponse/{html.escape(token)}?choix={html.escape(quote(c))}">'
        f'<button type="submit" class="fr-btn fr-mb-2w">Répondre « {html.escape(c)} »</button></form>' for c in choices)
    return _page(f"{prefix}Appel à mobilisation", _describe(callout) + said + forms)


@router.post("/reponse/{token}", response_class=HTMLResponse, include_in_schema=False)
async def answer_confirm(token: str, services: ServicesDep, choix: str = "") -> HTMLResponse:
    try:
        callout = await run_in_threadpool(answer_by_token, services.store, services.settings, token, choix)
    except (BadToken, UnknownCallOut) as e:
        log.info("call-out answer link refused: %s", e)
        return _page("Lien non valide", _INVALID, 404)
    except (NotAsked, CallOutClosed) as e:
        return _page("Réponse non enregistrée", _describe_error(str(e)), 409)
    return _page("Réponse enregistrée", _describe(callout) + f"<p>Votre réponse « {html.escape(choix)} » est "
                 "enregistrée et visible de qui a lancé l'appel.</p>")


def _describe_error(message: str) -> str:
    return f"<p>{html.escape(message)}.</p>"


# ---- the dashboard's answers (api/static/alerts.js) -----------------------------------------------------
# As the dashboard's acknowledgement: its cookie, and a CSRF token bound to its session in a same-site POST.

ANSWER_PURPOSE = "callout-answer"


@router.get("/appels/jeton", include_in_schema=False)
async def answer_csrf(request: Request) -> JSONResponse:
    _, binding = await cookie_session(request)
    return JSONResponse({"csrf": request.app.state.auth.csrf_token(ANSWER_PURPOSE, binding)},
                        headers={"Cache-Control": "no-store"})


@router.post("/appels/{callout_id}/repondre", include_in_schema=False)
async def answer_from_dashboard(callout_id: str, request: Request, services: ServicesDep) -> JSONResponse:
    principal, binding = await cookie_session(request)
    form = await form_fields(request)
    if not from_this_site(request, ANSWER_PURPOSE, binding, form.get("csrf")):
        raise HTTPException(403, "réponse refusée : formulaire envoyé depuis un autre site")
    try:
        callout = await run_in_threadpool(answer_as, services.store, callout_id[:100], principal,
                                          form.get("choix", "")[:100])
    except UnknownCallOut as e:
        raise HTTPException(404, str(e)) from e
    except NotAsked as e:
        raise HTTPException(403, str(e)) from e
    except CallOutClosed as e:
        raise HTTPException(409, str(e)) from e
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    return JSONResponse(callout.summary())
