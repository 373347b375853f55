"""The dashboard's pages: login (token or demonstration), the dashboard itself, logout.

Server-rendered HTML from api/templates (string.Template: no template engine to install) and a small
vanilla script in api/static; nothing is fetched from the internet. The dashboard authenticates its
API calls with an HttpOnly, SameSite=Strict cookie holding the bearer token, accepted for reads only.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import COOKIE_NAME, AuthConfig, AuthError
from api.dependencies import AuthConfigDep, GeographyDep
from domain.access import ROLES, Act, role_may
from domain.geography import NATIONAL, parse_territory

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

DEMO_ROLES = [r for r in ROLES.values() if role_may(r, Act.READ)]


def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body())[:64_000].decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


def _login_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    config: AuthConfig = request.app.state.auth
    demo = ""
    if config.demo_login:
        options = "".join(
            f'<option value="{r.code}">{html.escape(r.label)}</option>' for r in DEMO_ROLES
        )
        demo = _template("login_demo.html").substitute(role_options=options)
    page = _template("login.html").substitute(
        error=f'<p class="t-alert t-alert--error" role="alert">{html.escape(error)}</p>' if error else "",
        demo=demo,
    )
    return HTMLResponse(page, status_code=status)


def _signed_in(request: Request, token: str) -> Response:
    config: AuthConfig = request.app.state.auth
    try:
        config.principal(token, request.app.state.services.geography)
    except AuthError as e:
        return _login_page(request, f"Connexion refusée : {e}", status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE_NAME, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=config.token_ttl, path="/")
    return response


@router.get("/connexion", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/connexion")
async def login(request: Request) -> Response:
    token = (await _form(request)).get("token", "").strip()
    if not token:
        return _login_page(request, "Collez un jeton pour vous connecter.", status=400)
    return _signed_in(request, token)


@router.post("/connexion/demo")
async def login_demo(request: Request) -> Response:
    config: AuthConfig = request.app.state.auth
    if not config.demo_login:
        return _login_page(request, "Le mode démonstration est désactivé sur ce serveur.", status=403)
    form = await _form(request)
    role, territory = form.get("role", ""), form.get("territory", "").strip()
    try:
        if role in ROLES:  # a bare code is read at the role's level (an unknown role is refused by mint)
            level, code = parse_territory(territory or NATIONAL, default=ROLES[role].default_level)
            territory = f"{level.value}:{code}"
        token = config.mint(role, territory, name=f"Démonstration ({ROLES[role].label})" if role in ROLES else None)
    except (AuthError, ValueError) as e:
        return _login_page(request, f"Impossible de créer le jeton de démonstration : {e}", status=400)
    return _signed_in(request, token)


@router.get("/connexion/territoires")
async def demo_territories(config: AuthConfigDep, geography: GeographyDep, q: str = "",
                           role: str = "mayor") -> list[dict[str, Any]]:
    """Territory search for the demonstration form (public data, demonstration mode only)."""
    if not config.demo_login or role not in ROLES:
        return []
    levels = ROLES[role].levels
    found = geography.search(q, 200) if q else []
    return [
        {"territory": f"{lvl.value}:{code}", "label": label}
        for lvl, code, label in found
        if lvl in levels
    ][:15]


@router.get("/deconnexion")
async def logout() -> Response:
    response = RedirectResponse("/connexion", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    config: AuthConfig = request.app.state.auth
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return RedirectResponse("/connexion", status_code=303)
    try:
        principal = config.principal(token, request.app.state.services.geography)
    except AuthError as e:
        response = _login_page(request, f"Session terminée : {e}", status=401)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response
    if not principal.may(Act.READ):
        return _login_page(request, "Ce compte de service n'a pas accès au tableau de bord.", status=403)
    me = principal.as_dict()
    settings = request.app.state.services.settings
    page = _template("dashboard.html").substitute(
        map_tiles=html.escape(settings.map_tiles or ""),
        map_attribution=f'<p class="t-hint">Fond de carte : {html.escape(settings.map_attribution)}</p>'
        if settings.map_tiles and settings.map_attribution else "",
        role_label=html.escape(me["role_label"]),
        territory_name=html.escape(me["territory_name"]),
        user_name=html.escape(me["name"] or me["subject"]),
        personal_note="" if principal.may_see_personal else
        '<span class="t-tag t-tag--info" title="Votre rôle ne donne pas accès aux données personnelles">'
        "Sans données personnelles</span>",
        demo_banner='<div class="t-demo">Mode démonstration : jetons émis localement, données simulées</div>'
        if config.demo_login else "",
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
