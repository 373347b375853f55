"""Alerts: the list a person may see, acknowledging one (API and the emailed link), and their live feed.

The emailed link `/acquittement/{jeton}` opens a plain page whose button posts a form: no script, no login
session, the signed token being the proof. Following the link (a GET, as mail scanners do) never
acknowledges anything by itself.
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from adapters.crisis.crises import get_crisis, organisation_of
from adapters.crisis.requests import get_request
from adapters.notify import alert_store
from adapters.notify.callouts import get_callout
from adapters.notify.email_body import local_time
from adapters.notify.tokens import BadToken
from adapters.notify.use_cases import (
    UnknownAlert,
    acknowledge_as,
    acknowledge_by_token,
    alert_for_token,
    visible_alerts,
)
from adapters.services import Services
from api.dependencies import Reader, ServicesDep
from api.forms import from_this_site
from api.pages import render_page
from api.routes.live import cancel_all
from api.schemas import AckResult, AlertList
from domain.access import Denied, Principal, may_see_alert, may_see_callout, may_see_crisis, may_see_request
from domain.alert import Alert
from domain.callout import CallOut
from domain.crisis import Crisis
from domain.request import Request as Demande

log = logging.getLogger(__name__)

router = APIRouter(tags=["Alertes"])
POLL_SECONDS = 1.0


@router.get("/api/v1/alerts", summary="Alertes qui vous concernent (vous ou les organisations sous votre autorité)",
            response_model=AlertList)
async def list_alerts(principal: Reader, services: ServicesDep) -> dict:
    return {"items": await run_in_threadpool(visible_alerts, services.store, principal)}


@router.post("/api/v1/alerts/{alert_id}/ack", summary="Accuser réception d'une alerte", response_model=AckResult)
async def ack_alert(alert_id: str, principal: Reader, services: ServicesDep) -> dict:
    return await _acknowledge(services, alert_id, principal)


async def _acknowledge(services: Services, alert_id: str, principal: Principal) -> dict:
    """The acknowledgement by a signed-in person (API or dashboard form): 404 unknown, 403 not theirs."""
    try:
        outcome = await run_in_threadpool(acknowledge_as, services.store, alert_id, principal)
    except UnknownAlert as e:
        raise HTTPException(404, str(e)) from e
    except Denied as e:
        raise HTTPException(403, str(e)) from e
    return outcome.as_dict()


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A plain page in the shared frame (api.pages): no script of its own, forms posted as they are."""
    main = (f'<div class="fr-my-4w"><h1>{html.escape(title)}</h1>{body}'
            '<p class="fr-text--sm">L\'accusé de réception est enregistré avec votre nom, l\'heure et le canal utilisé.'
            "</p></div>")
    return HTMLResponse(render_page(title=title, main=main, tagline="Alertes et mobilisation"), status_code=status,
                        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


def _describe(alert: Alert) -> str:
    d = alert.details
    zone = d.get("time_zone") or "Europe/Paris"
    when = local_time(alert.raised_at.isoformat(), zone)
    return f"<p>{html.escape(alert.reason)}</p><p>Décidée le {html.escape(when)}</p>"


def _already(alert: Alert) -> str:
    by = alert.acknowledged_by or {}
    zone = alert.details.get("time_zone") or "Europe/Paris"
    when = local_time(alert.acknowledged_at.isoformat(), zone) if alert.acknowledged_at else ""
    return (f"<p>Réception déjà confirmée par {html.escape(by.get('name') or '?')} le {html.escape(when)} "
            f"({html.escape(by.get('channel') or '')}).</p>")


_INVALID = ("<p>Ce lien d'accusé de réception n'est pas valide (incomplet, modifié ou émis par un autre Tocsin).</p>"
            "<p>Accusez réception depuis le tableau de bord.</p>")


@router.get("/acquittement/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ack_page(token: str, services: ServicesDep) -> HTMLResponse:
    """The confirmation page: reading it records nothing."""
    try:
        alert, person = await run_in_threadpool(alert_for_token, services.store, services.settings, token)
    except (BadToken, UnknownAlert) as e:
        log.info("acknowledgement link refused: %s", e)
        return _page("Lien non valide", _INVALID, 404)
    prefix = "EXERCICE — " if alert.exercise else ""
    if alert.acknowledged_at is not None:
        return _page(f"{prefix}Alerte déjà acquittée", _describe(alert) + _already(alert))
    form = (f"<p>Alerte adressée à {html.escape(person.get('name') or '')}.</p>"
            f'<form method="post" action="/acquittement/{html.escape(token)}">'
            '<button type="submit" class="fr-btn">Confirmer la réception de l\'alerte</button></form>')
    return _page(f"{prefix}Confirmer la réception", _describe(alert) + form)


@router.post("/acquittement/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ack_confirm(token: str, services: ServicesDep) -> HTMLResponse:
    try:
        outcome = await run_in_threadpool(acknowledge_by_token, services.store, services.settings, token)
    except (BadToken, UnknownAlert) as e:
        log.info("acknowledgement link refused: %s", e)
        return _page("Lien non valide", _INVALID, 404)
    if not outcome.recorded:
        return _page("Alerte déjà acquittée", _describe(outcome.alert) + _already(outcome.alert))
    return _page("Réception confirmée", _describe(outcome.alert) +
                 "<p>Merci : votre accusé de réception est enregistré et visible de ceux qui ont émis l'alerte.</p>")


# ---- live: `alert` events on /api/v1/stream ---------------------------------------------------------


class AlertFeed:
    """Sends every change of an alert (raised, delivered, acknowledged…) as an `alert` event to the
    live stream's subscribers who may see it, and likewise the platform's other acts (`callout`, `crisis`).
    Reads the own acts' events after its position (the partial index makes it cheap) every POLL_SECONDS."""

    def __init__(self, services: Services, hub: Any) -> None:
        self.services = services
        self.hub = hub
        self.position = 0
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        def head() -> int:
            with self.services.store.connect() as conn:
                return alert_store.head(conn, self.services.store)

        alert_store.ensure_tables(self.services.store)
        self.position = await run_in_threadpool(head)
        self._task = asyncio.create_task(self._run(), name="tocsin-alert-feed")

    async def stop(self) -> None:
        if self._task:
            await cancel_all([self._task])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.publish()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database is away: try again
                log.warning("live alert feed failed", exc_info=True)

    async def publish(self) -> int:
        """Send what changed since the last call: `alert` events, `callout` events (the live tally),
        `crisis` events (opened, a case attached or detached, closed: to those who take part in it) and
        `request` events (a request between authorities: to its parties and the authorities above them)."""
        changed = await run_in_threadpool(self._changed)
        from api.routes.live import _sse

        for thing in changed:
            if isinstance(thing, Alert):
                message = _sse("alert", thing.summary())
                for sub in list(self.hub.subscribers):
                    if may_see_alert(sub.principal, thing.organisation_id, thing.recipients):
                        sub.offer(message)
            elif isinstance(thing, Demande):
                message = _sse("request", thing.as_dict())
                parties = thing.parties()
                for sub in list(self.hub.subscribers):
                    if may_see_request(sub.principal, organisation_of(sub.principal), parties):
                        sub.offer(message)
            elif isinstance(thing, Crisis):
                message = _sse("crisis", thing.summary())
                for sub in list(self.hub.subscribers):
                    if may_see_crisis(sub.principal, thing.territory):
                        sub.offer(message)
            else:
                message = _sse("callout", thing.summary())
                for sub in list(self.hub.subscribers):
                    if may_see_callout(sub.principal, thing.organisation_ids, thing.group, thing.launched_by):
                        sub.offer(message)
        return len(changed)

    def _changed(self) -> list[Alert | CallOut | Crisis | Demande]:
        store = self.services.store
        with store.connect() as conn:
            rows = alert_store.own_acts_after(conn, store, self.position)
        if not rows:
            return []
        self.position = rows[-1][0]
        out: list[Alert | CallOut | Crisis | Demande] = []
        for oid, topic in dict.fromkeys((o, t.rpartition(".")[0]) for _, o, t in rows):
            if topic == "domain.alert:Alert":
                alert = alert_store.get_alert(store, oid)
                if alert is not None:
                    out.append(alert)
            elif topic == "domain.callout:CallOut":
                callout = get_callout(store, oid)
                if callout is not None:
                    out.append(callout)
            elif topic == "domain.request:Request":
                request = get_request(store, oid)
                if request is not None:
                    out.append(request)
            elif topic == "domain.crisis:Crisis":
                crisis = get_crisis(store, oid)
                if crisis is not None:
                    out.append(crisis)
        return out


# ---- the dashboard's acknowledgement (api/static/alerts.js) -----------------------------------------
# The dashboard's cookie is accepted for reads only; this one write from it is a same-site POST carrying
# a CSRF token bound to the session (as the logout form), which the dashboard's script reads first.

ACK_PURPOSE = "ack-alert"


async def cookie_session(request: Request) -> tuple[Any, str]:
    """The dashboard's principal and the key its CSRF token is bound to: from the token cookie (a token
    login) or the session cookie (an OpenID Connect login); 401 when neither holds a live session."""
    from api.auth import COOKIE_NAME, AuthConfig, AuthError
    from api.web_session import SESSION_COOKIE, session_principal

    config: AuthConfig = request.app.state.auth
    token = request.cookies.get(COOKIE_NAME)
    if token:
        try:
            principal, token_id = config.session(token, request.app.state.services.geography)
        except AuthError as e:
            raise HTTPException(401, str(e)) from e
        if await request.app.state.revocations.is_revoked(token_id):
            raise HTTPException(401, "vous vous êtes déconnecté")
        return principal, token_id
    if SESSION_COOKIE in request.cookies:
        found = await session_principal(request)
        if found is not None:
            return found[0], found[1].key
    raise HTTPException(401, "session requise")


@router.get("/alertes/jeton", include_in_schema=False)
async def ack_csrf(request: Request) -> JSONResponse:
    _, token_id = await cookie_session(request)
    return JSONResponse({"csrf": request.app.state.auth.csrf_token(ACK_PURPOSE, token_id)},
                        headers={"Cache-Control": "no-store"})


@router.post("/alertes/{alert_id}/acquitter", include_in_schema=False)
async def ack_from_dashboard(alert_id: str, request: Request, services: ServicesDep) -> JSONResponse:
    from api.forms import form_fields

    principal, token_id = await cookie_session(request)
    form = await form_fields(request)
    if not from_this_site(request, ACK_PURPOSE, token_id, form.get("csrf")):
        raise HTTPException(403, "accusé de réception refusé : formulaire envoyé depuis un autre site")
    return JSONResponse(await _acknowledge(services, alert_id, principal))
