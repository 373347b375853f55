"""The dashboard's pages: login (an identity provider's token, or the demonstration), the dashboard, logout.
With an OpenID Connect provider configured, /connexion and the logout of its sessions are api/routes/login.py's.

Server-rendered HTML from api/templates in the DSFR frame of api/pages.py (string.Template: no template
engine to install) and vanilla scripts in api/static; nothing is fetched from the internet. The dashboard
authenticates its API calls with an HttpOnly, SameSite=Strict cookie holding the bearer token, accepted for reads only.

The forms that change a session (login, demonstration login, logout) cannot be sent from another site:
the browser's Origin and Sec-Fetch-Site must name this one, and each form carries a CSRF token signed by
the server and bound to what it acts on (the login form's nonce cookie, the session's token id).
Logging out revokes the token for every server process, not only the cookie of this browser. Login
attempts are rate-limited per client address (429 with Retry-After), before the body is read.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from adapters.directory.demo import DEMO_DOMAIN, demo_grants
from api.auth import COOKIE_NAME, LOGIN_COOKIE, AuthConfig, AuthError, Revocations
from api.dependencies import AuthConfigDep, GeographyDep
from api.forms import form_fields as _form
from api.forms import from_this_site
from api.forms import login_limited as _login_limited
from api.pages import render_page, template
from api.routes import login as oidc_login
from api.routes.annuaire import GRANTERS
from api.web_session import SESSION_COOKIE, current_web_session, drop_session_cookie, session_principal, web_sessions
from domain.access import ROLES, Act, Principal, role_may
from domain.geography import NATIONAL, Level, parse_territory
from domain.local_time import zone_name, zone_of

router = APIRouter(include_in_schema=False)
DEMO_ROLES = [r for r in ROLES.values() if role_may(r, Act.READ)]
LEVEL_NAMES = {Level.COMMUNE: "une commune", Level.DEPARTEMENT: "un département", Level.ZONE: "une zone",
               Level.NATIONAL: "le national"}
FORGED = "Formulaire expiré ou envoyé depuis un autre site : rechargez la page de connexion."


def _login_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    config: AuthConfig = request.app.state.auth
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    csrf = html.escape(config.csrf_token("login", nonce))
    demo = ""
    if config.demo_login:
        options = "".join(
            f'<option value="{r.code}">{html.escape(r.label)}</option>' for r in DEMO_ROLES
        )
        demo = template("login_demo.html").substitute(role_options=options, csrf=csrf,
                                                       people=_demo_people_form(request, csrf))
    login = (template("login_token.html").substitute(csrf=csrf) if config.interactive_login
             else template("login_unconfigured.html").template)
    main = template("login.html").substitute(
        error=(f'<div class="fr-alert fr-alert--error fr-alert--sm fr-mb-4w" role="alert">'
               f"<p>{html.escape(error)}</p></div>" if error else ""),
        login=login,
        demo=demo,
    )
    page = render_page(title="Connexion", main=main, demo=config.demo_login,
                       scripts='<script src="/static/login.js" defer></script>')
    response = HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
    if request.cookies.get(LOGIN_COOKIE) != nonce:
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/connexion")
    return response


def _demo_people_form(request: Request, csrf: str) -> str:
    """The demonstration people of the directory (adapters.directory.demo), to enter as one of them."""
    grants = demo_grants(request.app.state.services)
    if not grants:
        return ""
    options = "".join(
        f'<option value="{html.escape(g.id)}">{html.escape(g.person_name)} — {html.escape(g.position or "")}, '
        f"{html.escape(g.organisation_name)}</option>" for g in grants)
    return ('<form method="post" action="/connexion/demo" id="demo-person-form" class="fr-mb-3w">'
            f'<input type="hidden" name="csrf" value="{csrf}">'
            '<div class="fr-select-group"><label class="fr-label" for="person">Personne de l\'annuaire'
            '<span class="fr-hint-text">Personnes fictives de démonstration, avec leur fonction et leur organisation'
            f'</span></label><select class="fr-select" id="person" name="person">{options}</select></div>'
            '<button class="fr-btn" type="submit" id="demo-person-submit">Entrer sous cette identité</button></form>')


async def _checked_login_form(request: Request, offered: bool) -> dict[str, str] | Response:
    """The login form's fields, once the login is offered (404 otherwise), the caller within its rate
    and the form known to come from this server's own login page."""
    if not offered:
        raise HTTPException(404)
    if (limited := _login_limited(request)) is not None:
        return limited
    form = await _form(request)
    if not from_this_site(request, "login", request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _login_page(request, FORGED, status=403)
    return form


def _signed_in(request: Request, token: str) -> Response:
    config: AuthConfig = request.app.state.auth
    try:
        config.principal(token, request.app.state.services.geography)
    except AuthError as e:
        return _login_page(request, f"Connexion refusée : {e}", status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE_NAME, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=config.token_ttl, path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/connexion")  # a new nonce for the next login
    return response


@router.get("/connexion", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    if getattr(request.app.state, "oidc", None) is not None:  # OpenID Connect: straight to the provider
        return await oidc_login.start(request)
    return _login_page(request)


@router.post("/connexion")
async def login(request: Request) -> Response:
    config: AuthConfig = request.app.state.auth
    # No identity provider: nothing to log in with (see the page).
    form = await _checked_login_form(request, config.interactive_login)
    if isinstance(form, Response):
        return form
    token = form.get("token", "").strip()
    if not token:
        return _login_page(request, "Collez un jeton pour vous connecter.", status=400)
    return _signed_in(request, token)


@router.post("/connexion/demo")
async def login_demo(request: Request) -> Response:
    config: AuthConfig = request.app.state.auth
    form = await _checked_login_form(request, config.demo_login)
    if isinstance(form, Response):
        return form
    if "person" in form:  # one of the directory's demonstration people, under their habilitation
        grant = await run_in_threadpool(request.app.state.services.directory.active, form["person"][:100])
        if grant is None or not grant.email.endswith(DEMO_DOMAIN):
            return _login_page(request, "Choisissez une personne de démonstration dans la liste.", status=400)
        token = config.mint(grant.role, grant.territory, subject=grant.email,
                            name=f"{grant.person_name} ({grant.position or ROLES[grant.role].label})")
        return _signed_in(request, token)
    role, territory = form.get("role", ""), form.get("territory", "").strip()
    if role not in ROLES:
        return _login_page(request, "Choisissez un rôle dans la liste.", status=400)
    try:
        level, code = demo_territory(request.app.state.services.geography, role, territory)
        token = config.mint(role, f"{level.value}:{code}", name=f"Démonstration ({ROLES[role].label})")
    except (AuthError, ValueError) as e:
        return _login_page(request, f"Impossible d'entrer en démonstration : {e}", status=400)
    return _signed_in(request, token)


def demo_territory(geography: Any, role: str, text: str) -> tuple[Level, str]:
    """The territory the demonstration form names, for a role: a code (bare codes at the role's level, or
    `niveau:code`), else a name (« Rennes », « Ille-et-Vilaine »), the best match at one of the role's
    levels. Refusals name the role and the text as the person typed them."""
    spec = ROLES[role]
    try:
        level, code = parse_territory(text or NATIONAL, default=spec.default_level, known=geography)
    except ValueError:
        level = None
    if level is not None and level in spec.levels:
        return level, code
    for found, found_code, _ in geography.search(text, 200) if text else []:
        if found in spec.levels:
            return found, found_code
    where = " ou ".join(LEVEL_NAMES[lvl] for lvl in spec.levels)
    raise ValueError(f"aucun territoire « {text} » pour le rôle {spec.label} ({where})")


@router.get("/connexion/territoires")
async def demo_territories(config: AuthConfigDep, geography: GeographyDep, q: str = "",
                           role: str = "mayor") -> list[dict[str, Any]]:
    """Territory search for the demonstration form (public data, demonstration mode only)."""
    if not config.demo_login:
        raise HTTPException(404)
    if role not in ROLES:
        return []
    levels = ROLES[role].levels
    found = geography.search(q, 200) if q else []
    return [
        {"territory": f"{lvl.value}:{code}", "label": label}
        for lvl, code, label in found
        if lvl in levels
    ][:15]


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    """End the session everywhere: its token is revoked, not only this browser's cookie deleted."""
    config: AuthConfig = request.app.state.auth
    if request.cookies.get(SESSION_COOKIE) and web_sessions(request) is not None:
        return await oidc_login.logout(request)  # an OpenID Connect session: ended here, then at the provider
    token = request.cookies.get(COOKIE_NAME)
    response = RedirectResponse("/connexion", status_code=303)
    if token:
        try:
            principal, token_id = config.session(token, request.app.state.services.geography)
        except AuthError:  # expired or forged: nothing to revoke, only the cookie to drop
            pass
        else:
            form = await _form(request)
            if not from_this_site(request, "logout", token_id, form.get("csrf")):
                return PlainTextResponse("Déconnexion refusée : formulaire envoyé depuis un autre site.",
                                         status_code=403)
            revocations: Revocations = request.app.state.revocations
            await revocations.revoke(token_id, principal.expires_at, config.leeway)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    config: AuthConfig = request.app.state.auth
    if request.cookies.get(SESSION_COOKIE) and (sessions := web_sessions(request)) is not None:
        # An OpenID Connect session: it acts under a habilitation the directory still holds.
        found = await session_principal(request)
        if found is None:
            if await current_web_session(request) is not None:  # none chosen yet, or the chosen one withdrawn
                return RedirectResponse("/connexion/habilitation", status_code=303)
            away = RedirectResponse("/connexion", status_code=303)
            drop_session_cookie(request, away)
            return away
        principal, session = found
        several = len(await run_in_threadpool(sessions.grants, session.email)) > 1
        switch = ('<li><a class="fr-btn fr-icon-refresh-line" id="switch-grant" href="/connexion/habilitation">'
                  "Changer d'habilitation</a></li>") if several else ""
        return _dashboard(request, principal, session.key, switch)
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return RedirectResponse("/connexion", status_code=303)
    try:
        principal, token_id = config.session(token, request.app.state.services.geography)
        revocations: Revocations = request.app.state.revocations
        if await revocations.is_revoked(token_id):
            raise AuthError("vous vous êtes déconnecté")
    except AuthError as e:
        response = _login_page(request, f"Session terminée : {e}", status=401)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response
    return _dashboard(request, principal, token_id)


def _analyse_panels(principal: Principal) -> str:
    """The replay, quarantine and access-log panels, for the roles that may use them (the API refuses the
    others anyway: the panels only spare them controls that would answer 403)."""
    zone = zone_of(principal.level, principal.code)
    fields = {"zone": html.escape(zone.key), "zone_name": html.escape(zone_name(zone)),
              "territory": html.escape(f"{principal.level.value}:{principal.code}"),
              "roles": html.escape(json.dumps({r.code: r.label for r in ROLES.values()}, ensure_ascii=False))}
    panels = []
    if principal.may(Act.REPLAY):
        panels.append(template("dashboard_analyse.html").substitute(fields))
    if principal.may(Act.READ_QUARANTINE):
        panels.append(template("dashboard_quarantine.html").substitute(fields))
    if principal.may(Act.READ_ACCESS_LOG):
        panels.append(template("dashboard_access_log.html").substitute(fields))
    return "\n".join(panels)


def _dashboard(request: Request, principal: Principal, csrf_binding: str, grant_switch: str = "") -> Response:
    config: AuthConfig = request.app.state.auth
    if not principal.may(Act.READ):
        return _login_page(request, "Ce compte de service n'a pas accès au tableau de bord.", status=403)
    me = principal.as_dict()
    settings = request.app.state.services.settings
    main = template("dashboard.html").substitute(
        map_attribution=f'<p class="t-hint">Fond de carte : {html.escape(settings.map_attribution)}</p>'
        if settings.map_tiles and settings.map_attribution else "",
        personal_note="" if principal.may_see_personal else
        '<p class="fr-badge fr-badge--sm fr-badge--info"'
        ' title="Votre rôle ne donne pas accès aux données personnelles">'
        "Sans données personnelles</p>",
        analyse=_analyse_panels(principal),
    )
    tools = template("dashboard_tools.html").substitute(
        role_label=html.escape(me["role_label"]),
        territory_name=html.escape(me["territory_name"]),
        user_name=html.escape(me["name"] or me["subject"]),
        logout_csrf=html.escape(config.csrf_token("logout", csrf_binding)),
        grant_switch=grant_switch,
        directory_links='<li><a class="fr-btn fr-icon-alarm-warning-line" id="crises-link" href="/crises">'
        "Crises</a></li>"
        '<li><a class="fr-btn fr-icon-mail-line" id="requests-link" href="/demandes">Demandes</a></li>'
        '<li><a class="fr-btn fr-icon-team-line" id="directory-link" href="/annuaire">Annuaire</a></li>'
        + ('<li><a class="fr-btn fr-icon-user-add-line" id="habilitations-link" href="/habilitations">'
           "Habilitations</a></li>" if principal.role.code in GRANTERS else "")
        + ('<li><a class="fr-btn fr-icon-alarm-warning-line" id="population-link" href="/alertes-population">'
           "Alertes à la population</a></li>" if principal.role.reads else ""),
    )
    page = render_page(
        title="Tableau de bord", main=main, demo=config.demo_login, header_tools=tools,
        main_class="t-page t-page--dashboard", tagline="Situation opérationnelle en temps réel",
        body_attrs=f' data-tiles="{html.escape(settings.map_tiles or "")}"'
        f' data-tiles-attribution="{html.escape(settings.map_attribution)}"',
        styles='<link rel="stylesheet" href="/static/leaflet/leaflet.css">'
        '<link rel="stylesheet" href="/static/markercluster/MarkerCluster.css">',
        scripts='<script src="/static/leaflet/leaflet.js" defer></script>'
        '<script src="/static/markercluster/leaflet.markercluster.js" defer></script>'
        '<script src="/static/map.js" defer></script>'
        '<script src="/static/dashboard.js" defer></script>'
        '<script src="/static/alerts.js" defer></script>'
        '<script src="/static/push.js" defer></script>'
        '<script src="/static/analyse.js" defer></script>',
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
