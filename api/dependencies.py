"""What a request may depend on, in one place: the services, the read model, the auth configuration, and
the caller as a `domain.access.Principal` (any, reader, auditor, replayer, message poster).

Routes take them as `Annotated` aliases (`principal: Reader`, `services: ServicesDep`). The access rules
themselves are the domain's (domain.access); here they only become HTTP answers: 401 without a valid
token (or a revoked one), 403 when the role or the territory does not allow it, 404 for a territory that
does not exist.

The dependencies are async although they do no I/O (a JWKS fetch aside, cached for an hour): a sync
dependency would cost a thread hop on every request. They call each other as plain functions rather than
as sub-dependencies: each node of FastAPI's dependency graph costs its resolution on every request, which
on the views' hot path weighed as much as the view itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from adapters.geography import Geography
from adapters.services import Services
from api.auth import COOKIE_NAME, AuthConfig, AuthError, Revocations
from api.web_session import SESSION_COOKIE, SESSION_OVER, session_principal
from domain.access import Act, Denied, Principal
from domain.geography import Level, UnknownTerritory
from projections.read.model import ReadModel

UNAUTHENTICATED = "authentification requise : jeton porteur (Authorization: Bearer …) manquant"
REVOKED = "jeton révoqué (déconnexion) : reconnectez-vous"


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_geography(request: Request) -> Geography:
    geography: Geography = request.app.state.services.geography
    return geography


async def get_read_model(request: Request) -> ReadModel:
    read_model: ReadModel = request.app.state.read_model
    return read_model


async def get_auth_config(request: Request) -> AuthConfig:
    config: AuthConfig = request.app.state.auth
    return config


ServicesDep = Annotated[Services, Depends(get_services)]
GeographyDep = Annotated[Geography, Depends(get_geography)]
ReadModelDep = Annotated[ReadModel, Depends(get_read_model)]
AuthConfigDep = Annotated[AuthConfig, Depends(get_auth_config)]


# ---- the caller ---------------------------------------------------------------------------------------

def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # The dashboard's HttpOnly cookie, for reads only (SameSite=Strict; writes need the header).
    if request.method in ("GET", "HEAD"):
        return request.cookies.get(COOKIE_NAME) or None
    return None


async def current_session(request: Request) -> tuple[Principal, str]:
    """The caller and its token's id, from the request's bearer token (401 without a valid, unrevoked one);
    for a dashboard logged in with OpenID Connect, from its session cookie (reads only), the id being the
    session's key: the session in force and its habilitation still held by the directory."""
    token = token_from_request(request)
    if token is None:
        if request.method in ("GET", "HEAD") and SESSION_COOKIE in request.cookies:
            found = await session_principal(request)
            if found is None:
                raise HTTPException(401, SESSION_OVER)
            return found[0], found[1].key
        raise HTTPException(401, UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    config: AuthConfig = request.app.state.auth
    try:
        principal, token_id = config.session(token, request.app.state.services.geography)
    except AuthError as e:
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from e
    revoked: Revocations = request.app.state.revocations
    if await revoked.is_revoked(token_id):
        raise HTTPException(401, REVOKED, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return principal, token_id


async def current_principal(request: Request) -> Principal:
    """The caller, from the request's bearer token (401 without a valid one)."""
    return (await current_session(request))[0]


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def allowed(principal: Principal, act: Act) -> Principal:
    """The principal, when the domain lets it do `act` (403 otherwise)."""
    try:
        principal.check(act)
    except Denied as e:
        raise HTTPException(403, str(e)) from e
    return principal


async def reader(request: Request) -> Principal:
    """A caller allowed to read views and cases (not a service account)."""
    return allowed(await current_principal(request), Act.READ)


async def auditor(request: Request) -> Principal:
    return allowed(await current_principal(request), Act.READ_ACCESS_LOG)


async def quarantine_reader(request: Request) -> Principal:
    return allowed(await current_principal(request), Act.READ_QUARANTINE)


async def replayer(request: Request) -> Principal:
    return allowed(await current_principal(request), Act.REPLAY)


async def message_poster(request: Request) -> Principal | None:
    """A NexSIS service account, or nobody on a trusted listener (TOCSIN_INGEST_AUTH=open)."""
    config: AuthConfig = request.app.state.auth
    if config.ingest_open:
        return None
    return allowed(await current_principal(request), Act.POST_MESSAGES)


Reader = Annotated[Principal, Depends(reader)]
Auditor = Annotated[Principal, Depends(auditor)]
QuarantineReader = Annotated[Principal, Depends(quarantine_reader)]
Replayer = Annotated[Principal, Depends(replayer)]
MessagePoster = Annotated[Principal | None, Depends(message_poster)]


# ---- territories -------------------------------------------------------------------------------------

def visible_territory(principal: Principal, level: Level | str, code: str) -> tuple[Level, str]:
    """The territory, normalised, when it exists (404 otherwise) and the caller may see it (403)."""
    try:
        return principal.visible(level, code)
    except UnknownTerritory as e:
        raise HTTPException(404, str(e)) from e
    except Denied as e:
        raise HTTPException(403, str(e)) from e


async def path_territory(request: Request, level: str, code: str) -> tuple[Level, str]:
    """The `{level}/{code}` of a route's path, within the reader's perimeter."""
    return visible_territory(await reader(request), level, code)


PathTerritory = Annotated[tuple[Level, str], Depends(path_territory)]
