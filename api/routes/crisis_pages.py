"""The crises' pages for people: « Crises » (those I take part in; a form to open one for a préfecture, a
zone or national staff) and a crisis's own page (its header, figures, map, cases, and the sections of its
requests, log book, situation reports, alerts and call-outs, kept live by api/static/crisis.js).

    GET  /crises                           the crises I take part in, the form to open one
    POST /crises                           open
    GET  /crises/{id}                      the crisis's page
    POST /crises/{id}/rattachement         attach a case by its id
    POST /crises/{id}/detachement          detach a case, with a reason
    POST /crises/{id}/cloture              close, with a summary

Every act goes through adapters.crisis.crises, as the JSON API's do, under the dashboard's own login; the
forms carry a CSRF token bound to that session and are accepted from this site only (as the directory's
pages, api/routes/annuaire.py). Times are written in the crisis's territory's zone, the zone stated.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.crisis.crises import (
    UnknownCrisis,
    attach_case,
    close_crisis,
    detach_case,
    find_crisis,
    open_crisis,
    visible_crises,
)
from api.auth import AuthConfig
from api.pages import render_page
from api.web_session import page_principal, posted_form
from domain.access import CRISIS_ROLES, Denied, Principal, check_may_manage_crisis
from domain.crisis import KINDS, Crisis, CrisisClosed
from domain.geography import Level, UnknownTerritory, parse_territory
from domain.local_time import format_local, zone_name, zone_of
from domain.nature import FAMILY_LABELS

router = APIRouter(include_in_schema=False)

CSRF_PURPOSE = "crises"
FORGED = "Formulaire expiré ou envoyé depuis un autre site : rechargez la page et recommencez."
NOTICES = {"ouverte": "Crise ouverte.", "rattachee": "Affaire rattachée à la crise.",
           "deja": "Cette affaire était déjà rattachée.", "detachee": "Affaire détachée de la crise.",
           "close": "Crise close."}
LEVEL_WORDS = {"departement": "Département", "zone": "Zone de défense", "national": "National"}


# ---- the frame ---------------------------------------------------------------------------------------

def _html(request: Request, title: str, main: str, *, status: int = 200, scripts: str = "", styles: str = "",
          body_attrs: str = "", main_class: str = "fr-container t-page") -> HTMLResponse:
    config: AuthConfig = request.app.state.auth
    page = render_page(title=title, main=main, demo=config.demo_login, scripts=scripts, styles=styles,
                       body_attrs=body_attrs, main_class=main_class)
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _nav(here: str) -> str:
    links = [("/", "Tableau de bord"), ("/crises", "Crises"), ("/demandes", "Demandes"), ("/annuaire", "Annuaire")]
    current = ' aria-current="page"'
    items = "".join(f'<li><a class="fr-link" href="{href}"{current if href == here else ""}>{label}</a></li>'
                    for href, label in links)
    return (f'<nav aria-label="Pages" class="fr-mt-2w fr-mb-3w"><ul class="fr-raw-list t-stack" id="pages">'
            f"{items}</ul></nav>")


def _alert(message: str, kind: str = "error") -> str:
    role = "alert" if kind == "error" else "status"
    return (f'<div class="fr-alert fr-alert--{kind} fr-alert--sm fr-mb-3w" role="{role}">'
            f"<p>{html.escape(message)}</p></div>")


def _refusal(request: Request, message: str, status: int = 403) -> HTMLResponse:
    return _html(request, "Accès refusé", f'{_nav("")}<h1 class="fr-h3">Accès refusé</h1>{_alert(message)}'
                 '<p><a class="fr-link" href="/crises">Retour aux crises</a></p>', status=status)


def _territory_label(request: Request, territory: str) -> str:
    level, _, code = territory.partition(":")
    try:
        return str(request.app.state.services.geography.label(Level(level), code))
    except (KeyError, ValueError):
        return territory


def _exercise_badge(crisis: Crisis) -> str:
    return '<p class="fr-badge fr-badge--warning fr-badge--sm t-exercise">Exercice</p>' if crisis.exercise else ""


def _status_badge(crisis: Crisis) -> str:
    return ('<p class="fr-badge fr-badge--success fr-badge--sm">Ouverte</p>' if crisis.is_open
            else '<p class="fr-badge fr-badge--sm">Close</p>')


def _may_manage(principal: Principal, crisis: Crisis) -> bool:
    try:
        check_may_manage_crisis(principal, crisis.territory, crisis.organisation_id)
    except Denied:
        return False
    return True


async def _checked_form(request: Request) -> tuple[Principal, dict[str, str]] | Response:
    checked = await posted_form(request, CSRF_PURPOSE)
    if checked is None:
        return _refusal(request, FORGED)
    if isinstance(checked, Response):
        return checked
    principal, _, form = checked
    return principal, form


# ---- « Crises » --------------------------------------------------------------------------------------

@router.get("/crises", response_class=HTMLResponse)
async def crises_page(request: Request, fait: str = "") -> Response:
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    return await _crises(request, *found, notice=NOTICES.get(fait, ""))


async def _crises(request: Request, principal: Principal, binding: str, *, error: str = "", notice: str = "",
                  form: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    services = request.app.state.services
    crises = await run_in_threadpool(visible_crises, services.store, principal)
    rows = "".join(
        f'<tr data-crisis="{html.escape(str(c.id))}"><td><a class="fr-link" href="/crises/{c.id}">'
        f"{html.escape(c.title)}</a> {_exercise_badge(c)}</td><td>{html.escape(KINDS[c.kind].label)}</td>"
        f"<td>{html.escape(_territory_label(request, c.territory))}</td>"
        f"<td>{html.escape(format_local(c.start, zone_of(*c.territory.split(':', 1))))}</td>"
        f"<td>{_status_badge(c)}</td><td>{len(c.cases)}</td></tr>"
        for c in crises)
    listing = ('<div class="fr-table"><table id="crises"><caption>Crises auxquelles vous prenez part</caption>'
               '<thead><tr><th scope="col">Crise</th><th scope="col">Type</th><th scope="col">Territoire</th>'
               '<th scope="col">Début</th><th scope="col">Statut</th><th scope="col">Affaires rattachées</th></tr>'
               f"</thead><tbody>{rows}</tbody></table></div>") if crises else \
        '<p id="crises">Aucune crise ouverte ou close sur votre territoire.</p>'
    opening = _open_form(request, principal, binding, form or {}) if principal.role.code in CRISIS_ROLES else ""
    main = (f"{_nav('/crises')}<h1 class=\"fr-h3\">Crises</h1>"
            f"{_alert(notice, 'success') if notice else ''}{_alert(error) if error else ''}"
            f"{listing}{opening}")
    return _html(request, "Crises", main, status=status)


def _open_form(request: Request, principal: Principal, binding: str, form: dict[str, str]) -> str:
    config: AuthConfig = request.app.state.auth
    csrf = html.escape(config.csrf_token(CSRF_PURPOSE, binding))
    chosen = form.get("kind", "")
    kinds = "".join(f'<option value="{k.code}"{" selected" if k.code == chosen else ""}>{html.escape(k.label)}</option>'
                    for k in KINDS.values())
    zone = zone_of(principal.level, principal.code)
    territory = form.get("territory") or principal.territory
    checked = " checked" if form.get("exercise") else ""
    return (
        '<form method="post" action="/crises" id="open-form" class="t-card fr-mt-4w fr-mb-3w">'
        '<h2 class="fr-h5">Ouvrir une crise</h2>'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        '<div class="fr-input-group"><label class="fr-label" for="title">Intitulé</label>'
        f'<input class="fr-input" id="title" name="title" required maxlength="200" '
        f'value="{html.escape(form.get("title", ""))}"></div>'
        '<div class="fr-select-group"><label class="fr-label" for="kind">Type de crise'
        '<span class="fr-hint-text">Il dit quelles affaires s\'y rattachent d\'elles-mêmes à leur arrivée</span>'
        f'</label><select class="fr-select" id="kind" name="kind" required>{kinds}</select></div>'
        '<div class="fr-input-group"><label class="fr-label" for="territory">Territoire'
        '<span class="fr-hint-text">Le vôtre ou une partie : departement:35, zone:ouest, national:FR</span></label>'
        f'<input class="fr-input" id="territory" name="territory" required maxlength="60" '
        f'value="{html.escape(territory)}"></div>'
        '<div class="fr-input-group"><label class="fr-label" for="start">Début'
        f'<span class="fr-hint-text">À l\'heure du territoire de la crise ({html.escape(zone_name(zone))} pour le '
        "vôtre) ; vide : maintenant. Les affaires arrivées depuis s'y rattachent.</span></label>"
        f'<input class="fr-input" type="datetime-local" id="start" name="start" '
        f'value="{html.escape(form.get("start", ""))}"></div>'
        '<div class="fr-checkbox-group fr-mb-3w">'
        f'<input type="checkbox" id="exercise" name="exercise" value="1"{checked}>'
        '<label class="fr-label" for="exercise">Crise d\'exercice (« EXERCICE » partout)</label></div>'
        '<button class="fr-btn" type="submit" id="open-submit">Ouvrir la crise</button></form>'
    )


def _start_field(text: str, territory: str, principal: Principal) -> datetime | None:
    """The form's start, a wall-clock time in the crisis territory's zone (None: now)."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise ValueError("début illisible : attendu une date et une heure") from e
    level, code = parse_territory(territory, default=principal.level, known=principal.geography)
    return moment.replace(tzinfo=zone_of(level, code)) if moment.tzinfo is None else moment


@router.post("/crises")
async def open_from_page(request: Request) -> Response:
    checked = await _checked_form(request)
    if isinstance(checked, Response):
        return checked
    principal, form = checked
    services = request.app.state.services
    binding = (await page_principal(request) or (principal, ""))[1]
    territory = form.get("territory", "").strip()[:60]
    try:
        start = _start_field(form.get("start", "")[:40], territory, principal)
        crisis = await run_in_threadpool(lambda: open_crisis(
            services.store, principal, title=form.get("title", ""), kind=form.get("kind", ""), territory=territory,
            start=start, exercise=bool(form.get("exercise"))))
    except Denied as e:
        return await _crises(request, principal, binding, error=f"Ouverture refusée : {e}", form=form, status=403)
    except (UnknownTerritory, ValueError) as e:
        return await _crises(request, principal, binding, error=f"Ouverture impossible : {e}", form=form,
                             status=422)
    return RedirectResponse(f"/crises/{crisis.id}?fait=ouverte", status_code=303)


# ---- a crisis's page ---------------------------------------------------------------------------------

@router.get("/crises/{crisis_id}", response_class=HTMLResponse)
async def crisis_page(request: Request, crisis_id: str, fait: str = "") -> Response:
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    return await _crisis(request, *found, crisis_id, notice=NOTICES.get(fait, ""))


async def _crisis(request: Request, principal: Principal, binding: str, crisis_id: str, *, notice: str = "",
                  error: str = "", status: int = 200) -> HTMLResponse:
    services = request.app.state.services
    try:
        crisis = await run_in_threadpool(find_crisis, services.store, crisis_id, principal)
    except UnknownCrisis as e:
        return _html(request, "Crise introuvable", f'{_nav("")}<h1 class="fr-h3">Crise introuvable</h1>'
                     f'{_alert(str(e))}<p><a class="fr-link" href="/crises">Retour aux crises</a></p>', status=404)
    config: AuthConfig = request.app.state.auth
    manage = _may_manage(principal, crisis) and crisis.is_open
    csrf = html.escape(config.csrf_token(CSRF_PURPOSE, binding)) if manage else ""
    level, _, code = crisis.territory.partition(":")
    zone = zone_of(level, code)
    cid = html.escape(str(crisis.id))
    settings = services.settings
    closed = "" if crisis.is_open else (
        f'<p id="closed-note">Close le {html.escape(format_local(crisis.closed_at, zone))} par '
        f'{html.escape((crisis.closed_by or {}).get("name") or "")}'
        + (f" : « {html.escape(crisis.closing_summary)} »" if crisis.closing_summary else "") + "</p>")
    tools = (
        f'<form method="post" action="/crises/{cid}/rattachement" id="attach-form" class="t-inline-fields">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        '<div class="fr-input-group"><label class="fr-label" for="attach-case">Rattacher une affaire'
        '<span class="fr-hint-text">Son identifiant CISU</span></label>'
        '<input class="fr-input" id="attach-case" name="case_id" required maxlength="200"></div>'
        '<button class="fr-btn fr-btn--secondary" type="submit" id="attach-submit">Rattacher</button></form>'
    ) if manage else ""
    closing = (
        f'<form method="post" action="/crises/{cid}/cloture" id="close-form" class="t-card fr-mt-3w">'
        '<h2 class="fr-h6">Clore la crise</h2>'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        '<div class="fr-input-group"><label class="fr-label" for="summary">Bilan de clôture'
        '<span class="fr-hint-text">Ce qui s\'est passé, ce qui reste à faire ; une crise close n\'accepte plus '
        "aucun acte</span></label>"
        '<textarea class="fr-input" id="summary" name="summary" rows="3" maxlength="2000"></textarea></div>'
        '<button class="fr-btn fr-btn--tertiary" type="submit" id="close-submit">Clore la crise</button></form>'
    ) if manage else ""
    families = ", ".join(html.escape(FAMILY_LABELS[f].lower()) for f in crisis.families) or "toutes"
    header = (
        f'{_nav("/crises")}<div class="t-titlebar"><div class="t-titlebar__main">'
        f'<h1 class="fr-h3 t-title" id="title">{html.escape(crisis.title)}</h1>'
        f'<ul class="fr-badges-group" id="badges"><li>{_status_badge(crisis)}</li>'
        + (f"<li>{_exercise_badge(crisis)}</li>" if crisis.exercise else "") + "</ul>"
        f'<p class="t-hint" id="crisis-meta">{html.escape(KINDS[crisis.kind].label)} — '
        f"{html.escape(_territory_label(request, crisis.territory))} — début le "
        f"{html.escape(format_local(crisis.start, zone))} — ouverte par "
        f"{html.escape(crisis.opened_by.get('name') or '')}. Rattachées d'elles-mêmes : les affaires de "
        f"nature {families}. Heures en {html.escape(zone_name(zone))}.</p>{closed}</div>"
        '<div class="t-status" aria-label="État des données"><p class="t-live fr-badge fr-badge--sm fr-badge--no-icon" '
        'id="live" role="status"><span class="t-dot"></span><span>Connexion…</span></p></div></div>'
    )
    main = (
        '<div class="fr-container fr-container--fluid">'
        f"{header}{_alert(notice, 'success') if notice else ''}{_alert(error) if error else ''}"
        '<p class="t-hint" id="scope" hidden></p>'
        '<section class="t-figures" aria-label="Chiffres de la crise">'
        '<div class="t-card t-figure"><div class="t-figure__value" id="f-active">–</div>'
        '<div class="t-figure__label">Affaires en cours</div><div class="t-figure__sub" id="f-total"></div></div>'
        '<div class="t-card t-figure t-figure--alert"><div class="t-figure__value" id="f-victims">–</div>'
        '<div class="t-figure__label">Victimes des affaires en cours</div><div class="t-figure__sub" id="f-triage">'
        "</div></div>"
        '<div class="t-card t-figure"><div class="t-figure__value" id="f-resources">–</div>'
        '<div class="t-figure__label">Moyens engagés</div><div class="t-figure__sub" id="f-resources-total"></div>'
        "</div>"
        '<div class="t-card t-figure"><div class="t-figure__value" id="f-evacuated">–</div>'
        '<div class="t-figure__label">Évacués</div><div class="t-figure__sub" id="f-displaced"></div></div>'
        "</section>"
        '<div class="t-card fr-mb-3w"><h2 class="fr-h6" id="families-title">Par nature</h2>'
        '<ul class="t-list" id="families" aria-labelledby="families-title"></ul></div>'
        '<div class="t-grid">'
        '<section class="t-card t-mapcard" aria-labelledby="map-title">'
        '<div class="t-card__head"><h2 id="map-title" class="fr-h6">Carte des affaires rattachées</h2></div>'
        '<div class="t-map" id="map" role="region" aria-label="Carte des affaires rattachées à la crise"></div>'
        '<div class="t-legend" id="legend" role="group" aria-label="Légende"></div></section>'
        '<section class="t-card" aria-labelledby="list-title">'
        '<h2 id="list-title" class="fr-h6">Affaires rattachées</h2>'
        f"{tools}"
        '<div class="fr-table fr-table--sm fr-table--multiline t-cases"><div class="fr-table__wrapper">'
        '<div class="fr-table__container" tabindex="0"><div class="fr-table__content">'
        '<table aria-describedby="list-title"><thead><tr><th scope="col">Nature</th><th scope="col">Lieu</th>'
        '<th scope="col">Victimes</th><th scope="col">Moyens</th><th scope="col">Rattachée</th>'
        + ('<th scope="col">Action</th>' if manage else "")
        + '</tr></thead><tbody id="cases"></tbody></table></div></div></div></div>'
        '<p class="t-hint" id="pending" hidden></p></section></div>'
        + "".join(
            f'<section class="t-card fr-mt-3w" aria-labelledby="{key}-title" id="{key}-section">'
            f'<h2 class="fr-h6" id="{key}-title">{title}</h2><div id="{key}" aria-live="polite">'
            '<p class="t-hint">Chargement…</p></div></section>'
            for key, title in (("requests", "Demandes"), ("log", "Main courante"),
                               ("reports", "Points de situation"), ("mobilisation", "Alertes et appels")))
        + closing + "</div>"
    )
    attrs = {
        "crisis": str(crisis.id), "time-zone": zone.key, "time-zone-name": zone_name(zone),
        "manage": "1" if manage else "", "csrf": csrf and html.unescape(csrf),
        "tiles": settings.map_tiles or "",
        "tiles-attribution": settings.map_attribution,
    }
    body = "".join(f' data-{k}="{html.escape(v)}"' for k, v in attrs.items())
    return _html(
        request, crisis.title, main, status=status, body_attrs=body, main_class="t-page t-page--dashboard",
        styles='<link rel="stylesheet" href="/static/leaflet/leaflet.css">'
        '<link rel="stylesheet" href="/static/markercluster/MarkerCluster.css">',
        scripts='<script src="/static/leaflet/leaflet.js" defer></script>'
        '<script src="/static/markercluster/leaflet.markercluster.js" defer></script>'
        '<script src="/static/map.js" defer></script><script src="/static/crisis.js" defer></script>',
    )


async def _crisis_act(request: Request, crisis_id: str, act: Any, done: str) -> Response:
    checked = await _checked_form(request)
    if isinstance(checked, Response):
        return checked
    principal, form = checked
    services = request.app.state.services
    try:
        outcome = await run_in_threadpool(lambda: act(services.store, principal, form))
    except UnknownCrisis:
        return await _crisis(request, principal, "", crisis_id)
    except Denied as e:
        return _refusal(request, str(e))
    except (CrisisClosed, LookupError, ValueError) as e:
        binding = (await page_principal(request) or (principal, ""))[1]
        return await _crisis(request, principal, binding, crisis_id, error=str(e), status=422)
    suffix = done if outcome is not False else "deja"
    return RedirectResponse(f"/crises/{quote(crisis_id, safe='')}?fait={suffix}", status_code=303)


@router.post("/crises/{crisis_id}/rattachement")
async def attach_from_page(request: Request, crisis_id: str) -> Response:
    def act(store: Any, principal: Principal, form: dict[str, str]) -> bool:
        case_id = form.get("case_id", "").strip()
        before = find_crisis(store, crisis_id, principal)
        if case_id in before.cases:
            return False
        attach_case(store, crisis_id, principal, case_id)
        return True

    return await _crisis_act(request, crisis_id, act, "rattachee")


@router.post("/crises/{crisis_id}/detachement")
async def detach_from_page(request: Request, crisis_id: str) -> Response:
    return await _crisis_act(request, crisis_id, lambda store, principal, form: detach_case(
        store, crisis_id, principal, form.get("case_id", ""), form.get("reason", "")), "detachee")


@router.post("/crises/{crisis_id}/cloture")
async def close_from_page(request: Request, crisis_id: str) -> Response:
    return await _crisis_act(request, crisis_id, lambda store, principal, form: close_crisis(
        store, crisis_id, principal, form.get("summary", "")), "close")
