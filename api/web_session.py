"""The dashboard's session cookie after an OpenID Connect login, as the HTTP layer reads it: which session
(adapters.identity.sessions), and which principal it acts as now.

The cookie holds only a random secret (the session's row keeps its hash); it is HttpOnly, SameSite=Lax
(the provider's redirect back to Tocsin is a navigation from another site, which a Strict cookie would
not survive) and Secure behind TLS. Like the token cookie, it authenticates reads only (GET, HEAD):
whatever changes something needs a form's CSRF token bound to the session.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from adapters.identity.sessions import Session, WebSessions
from api.auth import COOKIE_NAME, AuthConfig, AuthError, Revocations
from api.forms import form_fields, from_this_site
from domain.access import Principal

SESSION_COOKIE = "tocsin_session"
SESSION_OVER = "session terminée, expirée ou habilitation retirée : reconnectez-vous"


def web_sessions(request: Request) -> WebSessions | None:
    """The sessions of OpenID Connect logins; None when no provider is configured."""
    sessions: WebSessions | None = getattr(request.app.state, "sessions", None)
    return sessions


async def current_web_session(request: Request) -> Session | None:
    """The session this request's cookie names, when in force (no I/O when read recently)."""
    sessions = web_sessions(request)
    secret = request.cookies.get(SESSION_COOKIE)
    if sessions is None or not secret:
        return None
    return sessions.cached(secret) or await run_in_threadpool(sessions.find, secret)


async def session_principal(request: Request) -> tuple[Principal, Session] | None:
    """The principal of the request's session: in force, with a habilitation the directory still holds."""
    session = await current_web_session(request)
    if session is None:
        return None
    sessions = web_sessions(request)
    assert sessions is not None  # a session was found
    principal = await run_in_threadpool(sessions.principal, session)
    return None if principal is None else (principal, session)


def secure_cookies(request: Request) -> bool:
    """Secure cookies behind TLS: the public address is https, or this request came in over TLS."""
    public = request.app.state.services.settings.public_url or ""
    return public.lower().startswith("https://") or request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, secret: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=secure_cookies(request))


def drop_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request))


async def page_principal(request: Request) -> tuple[Principal, str] | None:
    """The dashboard's principal and the key its CSRF tokens are bound to (the OpenID Connect session's
    key, or the token's id); None when not logged in (or the session is over). The token cookie is read
    for forms too: a form's CSRF token, checked by the caller, is what a cookie alone cannot forge."""
    if request.cookies.get(SESSION_COOKIE) and web_sessions(request) is not None:
        found = await session_principal(request)
        return None if found is None else (found[0], found[1].key)
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    config: AuthConfig = request.app.state.auth
    try:
        principal, token_id = config.session(token, request.app.state.services.geography)
    except AuthError:
        return None
    revocations: Revocations = request.app.state.revocations
    if await revocations.is_revoked(token_id):
        return None
    return principal, token_id


async def posted_form(request: Request, purpose: str) -> tuple[Principal, str, dict[str, str]] | Response | None:
    """A form a dashboard page posted for `purpose`: the principal, the key its CSRF tokens are bound to and
    the form's fields; a redirection to the login page when not logged in; None when the form is forged (no
    CSRF token of this session for this purpose, or sent from another site): the caller answers with its
    page's refusal."""
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    principal, binding = found
    form = await form_fields(request)
    if not from_this_site(request, purpose, binding, form.get("csrf")):
        return None
    return principal, binding, form
