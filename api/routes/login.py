"""The dashboard's OpenID Connect login (ProConnect): to the provider and back, the choice of the
habilitation to act under, the logout at Tocsin and at the provider.

    GET  /connexion               -> 303 to the provider (state, nonce, PKCE S256), when a provider is configured
    GET  /connexion/retour        <- the provider's answer: checked, then a session is opened
    GET  /connexion/habilitation  the person's habilitations, to choose one (or whom to ask, with none)
    POST /connexion/habilitation  act under the chosen one (CSRF token bound to the session)
    POST /deconnexion             (api/routes/dashboard.py) ends the session here, then at the provider
    GET  /deconnexion/fin         where the provider sends the browser back after its logout

The redirect URI is built from TOCSIN_PUBLIC_URL, else from the address this server listens on, never
from the request's Host header (which a client chooses). The login under way is bound to the browser
that started it (a cookie whose hash keys the stored state, nonce and verifier) and taken once: a
forged, replayed or cross-browser callback finds nothing and is refused with a French page; the reason
goes to the log in English, without the token, the code or a personal claim.
"""

from __future__ import annotations

import hmac
import html
import logging
from string import Template

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.identity.oidc import LoginRefused, OidcClient, OidcError
from adapters.identity.sessions import LOGIN_TTL, Session, WebSessions
from api.auth import AuthConfig
from api.forms import form_fields as _form
from api.forms import from_this_site
from api.forms import login_limited as _login_limited
from api.pages import render_page, template
from api.web_session import (
    current_web_session,
    drop_session_cookie,
    secure_cookies,
    set_session_cookie,
    web_sessions,
)
from domain.access import ROLES
from domain.directory import Grant

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

CALLBACK = "/connexion/retour"
CHOICE = "/connexion/habilitation"
LOGGED_OUT = "/deconnexion/fin"
LOGIN_BINDING = "tocsin_oidc_login"  # the browser's half of the login under way

RETRY = '<p><a class="fr-btn" href="/connexion">Se connecter à nouveau</a></p>'
NO_HABILITATION = """
<p>Vous êtes bien identifié(e) par ProConnect sous l'adresse <strong>$email</strong>, mais aucune habilitation
Tocsin n'est associée à cette adresse : vous n'avez accès à aucune donnée.</p>
<p>Pour en obtenir une, adressez-vous :</p>
<ul>
  <li>élu(e) ou agent d'une mairie : à la <strong>préfecture de votre département</strong> (service
  interministériel de défense et de protection civiles, SIDPC) ;</li>
  <li>agent d'une préfecture, d'un SDIS, d'un état-major de zone ou du niveau national : à
  l'<strong>administrateur Tocsin de votre organisation</strong>.</li>
</ul>
<p>Donnez-leur l'adresse ci-dessus : c'est elle qui relie votre compte ProConnect à votre habilitation.</p>
"""


def oidc_client(request: Request) -> OidcClient | None:
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    return client


def _configured(request: Request) -> tuple[OidcClient, WebSessions]:
    client, sessions = oidc_client(request), web_sessions(request)
    if client is None or sessions is None:
        raise HTTPException(404)
    return client, sessions


def public_base(request: Request) -> str | None:
    """This server's address as users reach it: TOCSIN_PUBLIC_URL, else the address it listens on."""
    public = request.app.state.services.settings.public_url
    if public:
        return str(public).rstrip("/")
    server = request.scope.get("server")
    if not server or server[1] is None:
        return None
    host, port = server
    scheme = request.scope.get("scheme", "http")
    host = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def _page(title: str, body: str, status: int = 200, *, error: str | None = None) -> HTMLResponse:
    section = f'<section class="t-card"><h2 class="fr-h4">{html.escape(title)}</h2>{body}</section>'
    main = template("login.html").substitute(
        demo="", login=section,
        error=(f'<div class="fr-alert fr-alert--error fr-alert--sm fr-mb-4w" role="alert">'
               f"<p>{html.escape(error)}</p></div>" if error else ""),
    )
    page = render_page(title=title, main=main)
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _logout_form(request: Request, session: Session) -> str:
    config: AuthConfig = request.app.state.auth
    csrf = html.escape(config.csrf_token("logout", session.key))
    return ('<form method="post" action="/deconnexion"><input type="hidden" name="csrf" value="' + csrf + '">'
            '<button class="fr-btn fr-btn--secondary" type="submit" id="logout">Se déconnecter</button></form>')


def _refused(request: Request, message: str, reason: str, status: int = 400) -> HTMLResponse:
    log.warning("OpenID Connect login refused: %s", reason)
    response = _page("Connexion refusée", RETRY, status, error=message)
    response.delete_cookie(LOGIN_BINDING, path="/connexion")
    return response


# ---- to the provider and back ------------------------------------------------------------------------

async def start(request: Request) -> Response:
    """GET /connexion with a provider configured: off to the provider (api/routes/dashboard.py hands over)."""
    client, sessions = _configured(request)
    if (limited := _login_limited(request)) is not None:
        return limited
    base = public_base(request)
    if base is None:
        log.error("cannot build the OpenID Connect redirect URI: set TOCSIN_PUBLIC_URL")
        return _page("Connexion indisponible", "<p>Le serveur ne connaît pas sa propre adresse publique ; "
                     "prévenez l'administrateur de Tocsin (TOCSIN_PUBLIC_URL).</p>", 503)
    try:
        url, pending = await client.authorization(base + CALLBACK)
    except OidcError as e:
        log.warning("OpenID Connect login cannot start: %s", e.reason)
        return _page("Connexion indisponible", f"<p>{html.escape(e.message)}</p>{RETRY}", 503)
    secret = await run_in_threadpool(sessions.start_login, pending)
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(LOGIN_BINDING, secret, max_age=LOGIN_TTL, path="/connexion", httponly=True,
                        samesite="lax", secure=secure_cookies(request))
    return response


@router.get(CALLBACK)
async def callback(request: Request, code: str | None = None, state: str | None = None,
                   error: str | None = None, iss: str | None = None) -> Response:
    client, sessions = _configured(request)
    secret = request.cookies.get(LOGIN_BINDING)
    pending = await run_in_threadpool(sessions.take_login, secret) if secret else None
    if error is not None:
        return _refused(request, "La connexion a été annulée ou refusée par le service d'identité.",
                        f"the provider answered error={error[:64]!r}", 400)
    if pending is None:
        return _refused(request, "Cette réponse de connexion est inconnue, expirée ou déjà utilisée : "
                        "recommencez depuis la page de connexion.",
                        "callback without a login under way in this browser (forged, replayed or expired)")
    if not state or not hmac.compare_digest(state.encode(), pending.state.encode()):
        return _refused(request, "Cette réponse de connexion ne correspond pas à votre demande : recommencez "
                        "depuis la page de connexion.", "state mismatch")
    if not code:
        return _refused(request, "Réponse de connexion incomplète : recommencez.", "callback without a code")
    if iss is not None and iss.rstrip("/") != client.issuer:  # RFC 9207: an answer from another provider
        return _refused(request, "Cette réponse de connexion vient d'un autre service d'identité.",
                        "callback's iss names another issuer")
    try:
        identity = await client.complete(code, pending)
    except LoginRefused as e:
        return _refused(request, e.message, e.reason)
    except OidcError as e:
        return _refused(request, e.message, e.reason, 503)
    previous = await current_web_session(request)
    if previous is not None:  # a new login in this browser ends the session it had (no two at once)
        await run_in_threadpool(sessions.end, previous)
    cookie, session = await run_in_threadpool(sessions.open, identity.email, identity.name, identity.id_token)
    log.info("OpenID Connect login: session %s opened (%s)", session.id_hash[:12],
             "habilitation chosen" if session.grant_id else "no single habilitation")
    response = RedirectResponse("/" if session.grant_id else CHOICE, status_code=303)
    set_session_cookie(request, response, cookie, sessions.ttl)
    response.delete_cookie(LOGIN_BINDING, path="/connexion")
    return response


# ---- which habilitation -------------------------------------------------------------------------------

def _describe(grant: Grant, request: Request) -> str:
    geography = request.app.state.services.geography
    try:
        territory = geography.label(grant.level, grant.code)
    except KeyError:
        territory = grant.territory
    role = ROLES[grant.role].label if grant.role in ROLES else grant.role
    return f"{role} — {grant.organisation_name} ({territory})"


@router.get(CHOICE, response_class=HTMLResponse)
async def choice_page(request: Request) -> Response:
    _, sessions = _configured(request)
    session = await current_web_session(request)
    if session is None:
        return RedirectResponse("/connexion", status_code=303)
    grants = await run_in_threadpool(sessions.grants, session.email)
    if not grants:
        body = Template(NO_HABILITATION).substitute(email=html.escape(session.email)) + _logout_form(request, session)
        return _page("Aucune habilitation", body, 403)
    config: AuthConfig = request.app.state.auth
    csrf = html.escape(config.csrf_token("habilitation", session.key))
    items = []
    for g in grants:
        current = g.id == session.grant_id
        items.append(
            f'<li><form method="post" action="{CHOICE}"><input type="hidden" name="csrf" value="{csrf}">'
            f'<input type="hidden" name="grant" value="{html.escape(g.id)}">'
            f'<button class="fr-btn{"" if current else " fr-btn--secondary"}" type="submit" '
            f'data-grant="{html.escape(g.id)}">{html.escape(_describe(g, request))}</button>'
            + (' <span class="fr-badge fr-badge--sm">actuelle</span>' if current else "") + "</form></li>")
    body = (f"<p>{html.escape(session.name or session.email)}, vous avez plusieurs habilitations. Choisissez "
            "celle sous laquelle vous agissez : vous verrez son territoire, et vos actes seront enregistrés "
            "à son nom. Vous pourrez en changer.</p>"
            f'<ul class="fr-raw-list t-stack" id="habilitations">{"".join(items)}</ul>'
            + _logout_form(request, session))
    return _page("Choisir une habilitation", body)


@router.post(CHOICE)
async def choose(request: Request) -> Response:
    _, sessions = _configured(request)
    session = await current_web_session(request)
    if session is None:
        return RedirectResponse("/connexion", status_code=303)
    form = await _form(request)
    if not from_this_site(request, "habilitation", session.key, form.get("csrf")):
        return _page("Choix refusé", '<p><a href="/connexion/habilitation">Recommencer</a></p>', 403,
                     error="Formulaire expiré ou envoyé depuis un autre site.")
    chosen = await run_in_threadpool(sessions.choose, session, form.get("grant", ""))
    if chosen is None:
        return _page("Choix refusé", '<p><a href="/connexion/habilitation">Recommencer</a></p>', 403,
                     error="Cette habilitation n'est pas (ou plus) la vôtre.")
    return RedirectResponse("/", status_code=303)


# ---- the end ------------------------------------------------------------------------------------------

async def logout(request: Request) -> Response:
    """POST /deconnexion with a session cookie (api/routes/dashboard.py hands over): the session ends here
    for every server process, then the browser goes to the provider's end-session endpoint."""
    client, sessions = _configured(request)
    session = await current_web_session(request)
    if session is None:  # already over: only the cookie to drop
        response = RedirectResponse(LOGGED_OUT, status_code=303)
        drop_session_cookie(request, response)
        return response
    form = await _form(request)
    if not from_this_site(request, "logout", session.key, form.get("csrf")):
        return _page("Déconnexion refusée", "", 403, error="Formulaire envoyé depuis un autre site.")
    await run_in_threadpool(sessions.end, session)
    base = public_base(request)
    target = await client.logout_url(session.id_token, base + LOGGED_OUT) if base else None
    response = RedirectResponse(target or LOGGED_OUT, status_code=303)
    drop_session_cookie(request, response)
    return response


@router.get(LOGGED_OUT, response_class=HTMLResponse)
async def logged_out(request: Request) -> Response:
    _configured(request)
    return _page("Vous êtes déconnecté(e)", "<p>Votre session Tocsin est terminée, et celle du service "
                 "d'identité aussi.</p>" + RETRY)
