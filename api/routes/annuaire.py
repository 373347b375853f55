"""The directory's pages for people: « Annuaire » (who to reach, and how) and « Habilitations » (grant and
revoke, for those who grant). The JSON API (api/routes/directory.py) takes bearer tokens only; these pages
act under the dashboard's own login (the OpenID Connect session, or the token cookie), their forms carrying
a CSRF token bound to that session, as the logout form does, and sent from this site only. Every act goes
through adapters.directory.use_cases with the principal, which records its organisation and habilitation.

    GET  /annuaire                               organisations of my territory and above, their people and
                                                 on-duty schedules (astreintes)
    POST /annuaire/astreintes                    put a person on duty (the organisation's people, its parent)
    POST /annuaire/astreintes/{id}/retrait       remove an on-duty period
    POST /annuaire/alertes/reglage               make a required alert rule stricter (the organisation's people)
    POST /annuaire/alertes/regles                add a rule of the organisation's own
    POST /annuaire/alertes/regles/retrait        remove one
    GET  /habilitations                          the habilitations I grant, a form to grant one
    POST /habilitations                          grant
    POST /habilitations/{grant_id}/revocation    revoke
    GET  /invitation/{jeton}                     an invitation's link; POST accepts it (ProConnect session, same email)

Server-rendered HTML only (no script: the content security policy forbids inline ones, none is needed).
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from datetime import datetime, time
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.directory import on_duty, use_cases
from adapters.directory.lookups import Member
from adapters.notify.alert_settings import change_settings, describe
from api.auth import AuthConfig
from api.forms import form_fields, form_lists, from_this_site
from api.pages import render_page
from api.routes import alert_settings_page
from api.web_session import current_web_session, page_principal, posted_form, web_sessions
from domain.access import ROLES, Denied, Principal, check_may_set_alerts, may_see_alert
from domain.alert_settings import SettingRefused, SettingsChanged
from domain.directory import (
    ADMIN_ROLE,
    KINDS,
    POSITIONS,
    DirectoryError,
    Organisation,
    OrganisationKind,
    may_grant,
    may_set_duty,
    seeded_organisation_id,
)
from domain.local_time import format_local, zone_name

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

GRANTERS = frozenset({"prefecture", "zone", "national", ADMIN_ROLE})
PARIS = ZoneInfo("Europe/Paris")
CSRF_PURPOSE = "habilitations"
DUTY_PURPOSE = "astreintes"
ALERTS_PURPOSE = "regles-alerte"
NOTICES = {"habilitation": "Habilitation enregistrée.", "retrait": "Habilitation retirée (effet immédiat).",
           "deja-retiree": "Cette habilitation était déjà retirée."}
DUTY_NOTICES = {"astreinte": "Période d'astreinte enregistrée.", "astreinte-retiree": "Période d'astreinte retirée.",
                "regles": "Règles d'alerte enregistrées."}
COMMUNE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")  # an INSEE commune code (Corsica's 2A/2B)
FORGED = "Formulaire expiré ou envoyé depuis un autre site : rechargez la page et recommencez."


# ---- who is looking -----------------------------------------------------------------------------------

def _html(title: str, main: str, request: Request, status: int = 200) -> HTMLResponse:
    config: AuthConfig = request.app.state.auth
    page = render_page(title=title, main=main, demo=config.demo_login)
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _nav(principal: Principal, here: str) -> str:
    links = [("/", "Tableau de bord"), ("/annuaire", "Annuaire")]
    if principal.role.code in GRANTERS:
        links.append(("/habilitations", "Habilitations"))
    current = ' aria-current="page"'
    items = "".join(
        f'<li><a class="fr-link" href="{href}"{current if href == here else ""}>{label}</a></li>'
        for href, label in links)
    return (f'<nav aria-label="Pages" class="fr-mt-2w fr-mb-3w"><ul class="fr-raw-list t-stack" id="pages">'
            f"{items}</ul></nav>")


def _alert(message: str, kind: str = "error") -> str:
    return (f'<div class="fr-alert fr-alert--{kind} fr-alert--sm fr-mb-3w" role="alert">'
            f"<p>{html.escape(message)}</p></div>")


def _refusal(request: Request, message: str, status: int = 403) -> HTMLResponse:
    return _html("Accès refusé", f'<h1 class="fr-h3">Accès refusé</h1>{_alert(message)}'
                 '<p><a class="fr-link" href="/">Retour au tableau de bord</a></p>', request, status)


def _fold(text: str) -> str:
    """Lower case without accents: « prefecture » finds « Préfecture »."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _tel(phone: str) -> str:
    return "tel:" + re.sub(r"[^\d+]", "", phone)


def _kind_label(org: Organisation) -> str:
    return KINDS[org.kind].label


def _territory_label(request: Request, org: Organisation) -> str:
    try:
        return str(request.app.state.services.geography.label(org.level, org.code))
    except KeyError:
        return org.territory


def _until(until: datetime | None) -> str:
    if until is None:
        return "sans fin"
    return until.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") + " (heure de Paris)"


# ---- « Annuaire » ------------------------------------------------------------------------------------

def _contact_cells(m: Member, contacts: bool) -> str:
    if not contacts:
        return ('<td colspan="2"><span class="t-hint">Coordonnées réservées aux rôles qui joignent les personnes '
                "en crise</span></td>")
    phones = "<br>".join(f'<a class="fr-link" href="{html.escape(_tel(p))}">{html.escape(p)}</a>' for p in m.phones)
    mail = f'<a class="fr-link" href="mailto:{html.escape(m.email)}">{html.escape(m.email)}</a>'
    return f"<td>{phones or '—'}</td><td>{mail}</td>"


def _duty_section(schedule: on_duty.Schedule, may_set: bool, csrf: str, commune: str = "") -> str:
    """The organisation's on-duty schedule, in its territory's zone (stated), with the forms for those who
    keep it."""
    org_id = html.escape(schedule.organisation.id)
    zone = zone_name(schedule.zone)
    now = schedule.on_duty_now
    who = (", ".join(html.escape(schedule.name_of(p) or p) for p in now) if now else
           "personne : une alerte atteint toutes les personnes habilitées de l'organisation")
    rows = "".join(
        f'<tr data-period="{html.escape(r["id"])}"><td>{html.escape(r["name"] or "(plus habilitée)")}</td>'
        f'<td>{html.escape(format_local(r["start"], schedule.zone, stated=False))}</td>'
        f'<td>{html.escape(format_local(r["end"], schedule.zone, stated=False))}</td>'
        + (f'<td><form method="post" action="/annuaire/astreintes/{html.escape(r["id"])}/retrait">'
           f'<input type="hidden" name="csrf" value="{csrf}">'
           '<button class="fr-btn fr-btn--sm fr-btn--tertiary" type="submit">Retirer</button></form></td>'
           if may_set else "") + "</tr>"
        for r in schedule.rows())
    table = (f'<div class="fr-table fr-table--no-caption"><table><caption>Périodes d\'astreinte</caption><thead><tr>'
             f'<th scope="col">Personne</th><th scope="col">Début ({html.escape(zone)})</th>'
             f'<th scope="col">Fin, exclue ({html.escape(zone)})</th>'
             + ('<th scope="col">Action</th>' if may_set else "") + f"</tr></thead><tbody>{rows}</tbody></table></div>"
             ) if rows else '<p class="t-hint">Aucune période d\'astreinte en cours ni à venir.</p>'
    form = ""
    if may_set and schedule.candidates:
        options = "".join(f'<option value="{html.escape(m.person_id)}">{html.escape(m.name)}'
                          f"{' — ' + html.escape(m.position) if m.position else ''}</option>"
                          for m in schedule.candidates)
        form = (
            f'<form method="post" action="/annuaire/astreintes" class="fr-mt-2w duty-form">'
            f'<input type="hidden" name="csrf" value="{csrf}">'
            f'<input type="hidden" name="organisation" value="{org_id}">'
            + (f'<input type="hidden" name="commune" value="{html.escape(commune)}">' if commune else "") +
            f'<div class="fr-select-group"><label class="fr-label" for="duty-person-{org_id}">Personne d\'astreinte'
            f'</label><select class="fr-select" id="duty-person-{org_id}" name="person" required>{options}'
            "</select></div>"
            f'<div class="fr-input-group"><label class="fr-label" for="duty-start-{org_id}">Début ({html.escape(zone)})'
            f'</label><input class="fr-input" type="datetime-local" id="duty-start-{org_id}" name="start" required>'
            "</div>"
            f'<div class="fr-input-group"><label class="fr-label" for="duty-end-{org_id}">Fin, exclue '
            f'({html.escape(zone)})</label><input class="fr-input" type="datetime-local" id="duty-end-{org_id}" '
            'name="end" required></div>'
            '<button class="fr-btn fr-btn--sm" type="submit">Mettre d\'astreinte</button></form>')
    return (f'<div class="fr-mt-2w" data-duty="{org_id}"><h3 class="fr-h6">Astreinte</h3>'
            f'<p>D\'astreinte maintenant : <strong class="on-duty-now">{who}</strong></p>{table}{form}</div>')


def _may_set_duty(services: object, principal: Principal, org: Organisation) -> bool:
    acts_for = principal.organisation_id or seeded_organisation_id(principal.role.code, principal.level,
                                                                    principal.code)
    return may_set_duty(principal.role.code, principal.level, principal.code, acts_for, org,
                        services.geography)  # type: ignore[attr-defined]


def _mairies_kept(services: object, principal: Principal) -> list[Organisation]:
    """The mairies whose on-duty schedule the principal keeps from above (a préfecture's, in its
    département): those it may open from the page."""
    geography = services.geography  # type: ignore[attr-defined]
    services.ensure_directory()  # type: ignore[attr-defined]
    below = geography.children(principal.level, principal.code)
    found = services.directory.organisations_in(below)  # type: ignore[attr-defined]
    return sorted((o for o in found if o.kind is OrganisationKind.MAIRIE and _may_set_duty(services, principal, o)),
                  key=lambda o: _fold(o.name))


def _commune_picker(mairies: list[Organisation], commune: str) -> str:
    if not mairies:
        return ""
    options = "".join(f'<option value="{html.escape(o.code)}"{" selected" if o.code == commune else ""}>'
                      f"{html.escape(o.name)} ({html.escape(o.code)})</option>" for o in mairies)
    return ('<form method="get" action="/annuaire" class="fr-mb-3w" id="open-commune">'
            '<div class="fr-select-group"><label class="fr-label" for="commune">Ouvrir une mairie de votre '
            'territoire (astreintes)</label>'
            f'<select class="fr-select" id="commune" name="commune"><option value="">— Choisir une commune —'
            f"</option>{options}</select></div>"
            '<button class="fr-btn fr-btn--secondary fr-btn--sm" type="submit">Ouvrir</button></form>')


@router.get("/annuaire", response_class=HTMLResponse)
async def directory_page(request: Request, q: str = "", fait: str = "", commune: str = "") -> Response:
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    return await _directory(request, *found, query=q, notice=DUTY_NOTICES.get(fait, ""), commune=commune)


async def _directory(request: Request, principal: Principal, binding: str, *, query: str = "", notice: str = "",
                     error: str = "", status: int = 200, commune: str = "") -> HTMLResponse:
    services = request.app.state.services
    config: AuthConfig = request.app.state.auth
    csrf = html.escape(config.csrf_token(DUTY_PURPOSE, binding))
    alerts_csrf = html.escape(config.csrf_token(ALERTS_PURPOSE, binding))
    query = query.strip()[:100]
    wanted = _fold(query)
    commune = commune.strip()[:5].upper() if COMMUNE.match(commune.strip().upper()) else ""

    def gather() -> tuple[list[tuple[Organisation, list[Member], bool, on_duty.Schedule, dict | None]],
                          list[Organisation]]:
        mairies = _mairies_kept(services, principal)
        orgs = use_cases.organisations(services, principal, None)
        opened = [o for o in mairies if o.code == commune]  # only a mairie the principal keeps the schedule of
        out = []
        for org in [*opened, *[o for o in orgs if o not in opened]]:
            members, contacts = use_cases.people(services, principal, org.id)
            rules = describe(services.store, org.id) if may_see_alert(principal, org.id, ()) else None
            out.append((org, members, contacts, on_duty.schedule(services, principal, org.id), rules))
        return out, mairies

    try:
        listed, mairies = await run_in_threadpool(gather)
    except (Denied, DirectoryError) as e:
        return _refusal(request, f"Annuaire indisponible : {e}")
    sections = []
    for org, members, contacts, schedule, rules in listed:
        org_text = _fold(f"{org.name} {_kind_label(org)} {_territory_label(request, org)}")
        if wanted and wanted not in org_text:
            members = [m for m in members if wanted in _fold(f"{m.name} {m.position or ''} {m.email}")]
            if not members:
                continue
        rows = "".join(
            f'<tr data-person="{html.escape(m.person_id)}"><td>{html.escape(m.name)}</td>'
            f"<td>{html.escape(m.position or '')}</td>{_contact_cells(m, contacts)}</tr>" for m in members)
        table = ('<div class="fr-table fr-table--no-caption"><table><caption>Personnes</caption><thead><tr>'
                 "<th scope=\"col\">Nom</th><th scope=\"col\">Fonction</th><th scope=\"col\">Téléphone</th>"
                 f'<th scope="col">Courriel</th></tr></thead><tbody>{rows}</tbody></table></div>') if members else \
            '<p class="t-hint">Personne n\'est encore habilité dans cette organisation.</p>'
        sections.append(
            f'<section class="t-card fr-mb-3w" data-organisation="{html.escape(org.id)}">'
            f'<h2 class="fr-h5">{html.escape(org.name)}</h2>'
            f'<p class="t-hint">{html.escape(_kind_label(org))} — {html.escape(_territory_label(request, org))}</p>'
            f"{table}{_duty_section(schedule, _may_set_duty(services, principal, org), csrf, commune)}"
            + ("" if rules is None else
               alert_settings_page.alert_rules_section(org.id, rules, _may_set_alerts(principal, org.id), alerts_csrf))
            + "</section>")
    results = "".join(sections) or f'<p id="no-result">Aucun résultat pour « {html.escape(query)} ».</p>'
    main = (
        f"{_nav(principal, '/annuaire')}"
        '<h1 class="fr-h3">Annuaire</h1>'
        + (_alert(notice, "success") if notice else "") + (_alert(error) if error else "") +
        "<p>Les organisations de votre territoire et celles dont il dépend, et les personnes à joindre. "
        "Touchez un numéro pour appeler, une adresse pour écrire.</p>"
        '<form method="get" action="/annuaire" role="search" class="fr-search-bar fr-mb-3w" id="search">'
        '<label class="fr-label" for="q">Rechercher une organisation ou une personne</label>'
        f'<input class="fr-input" type="search" id="q" name="q" maxlength="100" value="{html.escape(query)}" '
        'placeholder="Nom, fonction, organisation">'
        + (f'<input type="hidden" name="commune" value="{html.escape(commune)}">' if commune else "") +
        '<button class="fr-btn" type="submit" title="Rechercher">Rechercher</button></form>'
        f"{_commune_picker(mairies, commune)}{results}"
    )
    return _html("Annuaire", main, request, status)


async def _duty_form(request: Request) -> tuple[Principal, str, dict[str, str]] | Response:
    checked = await posted_form(request, DUTY_PURPOSE)
    if checked is None:
        log.warning("on-duty form refused: missing or invalid CSRF token, or sent from another site")
        return _refusal(request, FORGED)
    return checked


@router.post("/annuaire/astreintes")
async def set_duty(request: Request) -> Response:
    checked = await _duty_form(request)
    if isinstance(checked, Response):
        return checked
    principal, binding, form = checked
    services = request.app.state.services
    try:
        period = await run_in_threadpool(
            lambda: on_duty.set_period(services, principal, form.get("organisation", "")[:200],
                                       person=form.get("person", "")[:254], start=form.get("start", "")[:40],
                                       end=form.get("end", "")[:40]))
    except Denied as e:
        return _refusal(request, f"Astreinte refusée : {e}")
    except DirectoryError as e:
        return await _directory(request, principal, binding, error=f"Astreinte refusée : {e}", status=422)
    log.info("on-duty period %s set from the page in %s", period.id, period.organisation_id)
    back = form.get("commune", "").upper()
    return RedirectResponse("/annuaire?fait=astreinte" + (f"&commune={back}" if COMMUNE.match(back) else ""),
                            status_code=303)


@router.post("/annuaire/astreintes/{period_id}/retrait")
async def remove_duty(request: Request, period_id: str) -> Response:
    checked = await _duty_form(request)
    if isinstance(checked, Response):
        return checked
    principal, binding, _ = checked
    services = request.app.state.services
    try:
        await run_in_threadpool(on_duty.remove_period, services, principal, period_id[:100])
    except Denied as e:
        return _refusal(request, f"Retrait refusé : {e}")
    except DirectoryError as e:
        return await _directory(request, principal, binding, error=f"Retrait refusé : {e}", status=404)
    return RedirectResponse("/annuaire?fait=astreinte-retiree", status_code=303)


# ---- « Règles d'alerte » (issue #19) ---------------------------------------------------------------------

def _may_set_alerts(principal: Principal, organisation_id: str) -> bool:
    try:
        check_may_set_alerts(principal, organisation_id)
    except Denied:
        return False
    return True


async def _change_alerts(request: Request, change: str) -> Response:
    """Apply one form of the « Règles d'alerte » block: the organisation's whole new settings, through the
    same use case as the API's PUT (change_settings); a refusal is shown, in French, on the page."""
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    principal, binding = found
    form = await form_lists(request)
    first = {k: v[0] for k, v in form.items()}
    if not from_this_site(request, ALERTS_PURPOSE, binding, first.get("csrf")):
        log.warning("alert rules form refused: missing or invalid CSRF token, or sent from another site")
        return _refusal(request, FORGED)
    services = request.app.state.services
    organisation_id = first.get("organisation", "")[:200]

    def act() -> None:
        org = services.directory.organisation(organisation_id)
        if org is None or not may_see_alert(principal, organisation_id, ()):
            raise LookupError(organisation_id)  # unknown, or outside the perimeter: the same answer
        check_may_set_alerts(principal, organisation_id)
        described = describe(services.store, organisation_id)
        if change == "reglage":
            tunings, own = alert_settings_page.with_tuning(described, first.get("rule", "")[:200], form)
        elif change == "ajout":
            tunings, own = alert_settings_page.with_own_rule(described, form)
        else:
            tunings, own = alert_settings_page.without_own_rule(described, first.get("rule", "")[:200])
        change_settings(services.store, principal, organisation_id, (org.level, org.code), tunings, own,
                        expected_version=described["version"])

    try:
        await run_in_threadpool(act)
    except LookupError:
        return _refusal(request, "Organisation inconnue ou hors de votre périmètre.", 404)
    except Denied as e:
        return _refusal(request, f"Réglage refusé : {e}")
    except SettingsChanged as e:
        return await _directory(request, principal, binding, error=f"Réglage non enregistré : {e}", status=409)
    except SettingRefused as e:
        return await _directory(request, principal, binding, error=f"Réglage refusé : {e}", status=422)
    log.info("alert settings of %s changed from the page (%s)", organisation_id, change)
    return RedirectResponse("/annuaire?fait=regles", status_code=303)


@router.post("/annuaire/alertes/reglage")
async def tune_rule(request: Request) -> Response:
    return await _change_alerts(request, "reglage")


@router.post("/annuaire/alertes/regles")
async def add_own_rule(request: Request) -> Response:
    return await _change_alerts(request, "ajout")


@router.post("/annuaire/alertes/regles/retrait")
async def remove_own_rule(request: Request) -> Response:
    return await _change_alerts(request, "retrait")


# ---- « Habilitations » -------------------------------------------------------------------------------

def _granted_organisations(services: object, principal: Principal) -> list[Organisation]:
    """The organisations the principal grants for: those of its territory and of the territories just
    below it (a préfecture's communes, a zone's départements, the national level's zones) that the
    domain's rule gives it."""
    geography = services.geography  # type: ignore[attr-defined]
    territories = [(principal.level, principal.code), *geography.children(principal.level, principal.code)]
    found = services.directory.organisations_in(territories)  # type: ignore[attr-defined]
    return [o for o in found if may_grant(principal.role.code, principal.level, principal.code, o, geography)]


async def _granter(request: Request) -> tuple[Principal, str] | Response:
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    if found[0].role.code not in GRANTERS:
        return _refusal(request, "Seuls les préfectures, les états-majors de zone, le niveau national et les "
                        "administrateurs donnent des habilitations.")
    return found


@router.get("/habilitations", response_class=HTMLResponse)
async def habilitations_page(request: Request, fait: str = "") -> Response:
    found = await _granter(request)
    if isinstance(found, Response):
        return found
    return await _habilitations(request, *found, notice=NOTICES.get(fait, ""))


async def _habilitations(request: Request, principal: Principal, binding: str, *, notice: str = "",
                         error: str = "", status: int = 200) -> HTMLResponse:
    services = request.app.state.services
    config: AuthConfig = request.app.state.auth
    csrf = html.escape(config.csrf_token(CSRF_PURPOSE, binding))

    def gather() -> tuple[list[Organisation], list[Member]]:
        services.ensure_directory()
        orgs = _granted_organisations(services, principal)
        return orgs, services.directory.members([o.id for o in orgs])

    orgs, members = await run_in_threadpool(gather)
    names = {o.id: o.name for o in orgs}
    rows = "".join(
        f'<tr data-grant="{html.escape(m.grant_id)}"><td>{html.escape(names.get(m.organisation_id, m.organisation_id))}'
        f"</td><td>{html.escape(m.name)}</td><td>{html.escape(m.email)}</td><td>{html.escape(m.position or '')}</td>"
        f"<td>{html.escape(ROLES[m.role].label if m.role in ROLES else m.role)}</td><td>{html.escape(_until(m.until))}"
        f'</td><td><form method="post" action="/habilitations/{html.escape(m.grant_id)}/revocation">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        '<button class="fr-btn fr-btn--sm fr-btn--tertiary" type="submit">Retirer</button></form></td></tr>'
        for m in members)
    listing = ('<div class="fr-table"><table id="grants"><caption>Habilitations en vigueur</caption><thead><tr>'
               '<th scope="col">Organisation</th><th scope="col">Nom</th><th scope="col">Courriel</th>'
               '<th scope="col">Fonction</th><th scope="col">Rôle</th><th scope="col">Jusqu\'au</th>'
               f'<th scope="col">Action</th></tr></thead><tbody>{rows}</tbody></table></div>') if members else \
        '<p id="grants">Aucune habilitation en vigueur dans les organisations dont vous avez la charge.</p>'
    options = "".join(f'<option value="{html.escape(o.id)}">{html.escape(o.name)} — '
                      f"{html.escape(_kind_label(o))}</option>" for o in sorted(orgs, key=lambda o: o.name))
    positions = "".join(f'<option value="{html.escape(p.label)}"></option>' for p in POSITIONS)
    form = (
        '<form method="post" action="/habilitations" id="grant-form" class="t-card fr-mb-3w">'
        '<h2 class="fr-h5">Habiliter une personne</h2>'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        '<div class="fr-select-group"><label class="fr-label" for="organisation">Organisation</label>'
        f'<select class="fr-select" id="organisation" name="organisation" required>{options}</select></div>'
        '<div class="fr-input-group"><label class="fr-label" for="name">Nom et prénom</label>'
        '<input class="fr-input" id="name" name="name" required maxlength="120"></div>'
        '<div class="fr-input-group"><label class="fr-label" for="email">Courriel (celui de son compte ProConnect)'
        '</label><input class="fr-input" type="email" id="email" name="email" required maxlength="254"></div>'
        '<div class="fr-input-group"><label class="fr-label" for="position">Fonction</label>'
        '<input class="fr-input" id="position" name="position" list="positions" required maxlength="120">'
        f'<datalist id="positions">{positions}</datalist></div>'
        '<div class="fr-input-group"><label class="fr-label" for="until">Jusqu\'au (facultatif, inclus, heure de '
        'Paris)</label><input class="fr-input" type="date" id="until" name="until"></div>'
        '<button class="fr-btn" type="submit">Habiliter</button></form>')
    main = (
        f"{_nav(principal, '/habilitations')}"
        '<h1 class="fr-h3">Habilitations</h1>'
        + (_alert(notice, "success") if notice else "") + (_alert(error) if error else "")
        + "<p>Les habilitations des organisations dont vous avez la charge. Chaque habilitation donnée ou "
        "retirée est enregistrée au nom de votre organisation et de votre habilitation ; un retrait prend "
        "effet immédiatement.</p>" + form + listing
    )
    return _html("Habilitations", main, request, status)


async def _checked_form(request: Request) -> tuple[Principal, str, dict[str, str]] | Response:
    found = await _granter(request)
    if isinstance(found, Response):
        return found
    principal, binding = found
    form = await form_fields(request)
    if not from_this_site(request, CSRF_PURPOSE, binding, form.get("csrf")):
        log.warning("habilitations form refused: missing or invalid CSRF token, or sent from another site")
        return _refusal(request, FORGED)
    return principal, binding, form


def _until_field(text: str) -> datetime | None:
    """The last moment of the given day in Paris (a habilitation « jusqu'au 31/12 » includes that day)."""
    text = text.strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as e:
        raise DirectoryError("date de fin illisible (attendu : jj/mm/aaaa)") from e
    return datetime.combine(day, time(23, 59, 59), PARIS)


@router.post("/habilitations")
async def grant(request: Request) -> Response:
    checked = await _checked_form(request)
    if isinstance(checked, Response):
        return checked
    principal, binding, form = checked
    services = request.app.state.services
    try:
        until = _until_field(form.get("until", ""))
        done = await run_in_threadpool(
            lambda: use_cases.grant(services, principal, organisation_id=form.get("organisation", "")[:200],
                                    email=form.get("email", ""), name=form.get("name", ""),
                                    position=form.get("position", ""), until=until))
    except Denied as e:
        return _refusal(request, f"Habilitation refusée : {e}")
    except DirectoryError as e:
        return await _habilitations(request, principal, binding, error=f"Habilitation refusée : {e}", status=422)
    log.info("habilitation %s granted from the page in %s", done.grant_id, done.organisation.id)
    return RedirectResponse("/habilitations?fait=habilitation", status_code=303)


@router.post("/habilitations/{grant_id}/revocation")
async def revoke(request: Request, grant_id: str) -> Response:
    checked = await _checked_form(request)
    if isinstance(checked, Response):
        return checked
    principal, binding, _ = checked
    services = request.app.state.services
    try:
        revoked = await run_in_threadpool(use_cases.revoke, services, principal, grant_id[:100])
    except Denied as e:
        return _refusal(request, f"Retrait refusé : {e}")
    except DirectoryError as e:
        return await _habilitations(request, principal, binding, error=f"Retrait refusé : {e}", status=404)
    return RedirectResponse(f"/habilitations?fait={'retrait' if revoked else 'deja-retiree'}", status_code=303)


# ---- invitations ------------------------------------------------------------------------------------------

INVITATION_REFUSED = ("Cette invitation n'est pas valable pour vous : elle a expiré, a déjà été utilisée, ou a été "
                      "adressée à une autre adresse que celle de votre compte ProConnect. Demandez-en une nouvelle "
                      "à la personne qui vous a invité(e).")


def _invitation_page(request: Request, body: str, status: int = 200, error: str = "") -> HTMLResponse:
    return _html("Invitation", '<h1 class="fr-h3">Invitation à rejoindre Tocsin</h1>'
                 + (_alert(error) if error else "") + body, request, status)


@router.get("/invitation/{jeton}", response_class=HTMLResponse)
async def invitation_page(request: Request, jeton: str) -> Response:
    """The link of an invitation: accepting needs the invited person logged in with ProConnect (the email
    of their account is the one invited). Tocsin's own log lines never name the token."""
    session = await current_web_session(request) if web_sessions(request) is not None else None
    if session is None:
        return _invitation_page(request, (
            "<p>Vous avez été invité(e) à recevoir une habilitation Tocsin. Pour l'accepter, connectez-vous "
            "avec ProConnect sous l'adresse à laquelle l'invitation a été envoyée, puis rouvrez ce lien.</p>"
            '<p><a class="fr-btn" href="/connexion">Se connecter avec ProConnect</a></p>'
            if web_sessions(request) is not None else
            "<p>Vous avez été invité(e) à recevoir une habilitation Tocsin, mais ce serveur n'a pas de service "
            "d'identité (ProConnect) configuré : l'invitation ne peut pas être acceptée ici. Prévenez "
            "l'administrateur de Tocsin.</p>"))
    config: AuthConfig = request.app.state.auth
    csrf = html.escape(config.csrf_token("invitation", session.key))
    return _invitation_page(request, (
        f"<p>Vous êtes connecté(e) sous l'adresse <strong>{html.escape(session.email)}</strong>. En acceptant, "
        "vous recevez l'habilitation proposée ; elle sera enregistrée à votre nom.</p>"
        f'<form method="post" action="/invitation/{html.escape(jeton)}" id="accept">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        '<button class="fr-btn" type="submit">Accepter l\'invitation</button></form>'))


@router.post("/invitation/{jeton}")
async def accept_invitation(request: Request, jeton: str) -> Response:
    session = await current_web_session(request) if web_sessions(request) is not None else None
    if session is None:
        return _invitation_page(request, '<p><a class="fr-btn" href="/connexion">Se connecter avec ProConnect</a></p>',
                                401, error="Connectez-vous avec ProConnect pour accepter une invitation.")
    form = await form_fields(request)
    if not from_this_site(request, "invitation", session.key, form.get("csrf")):
        log.warning("invitation form refused: missing or invalid CSRF token, or sent from another site")
        return _invitation_page(request, "", 403, error=FORGED)
    services = request.app.state.services
    try:
        done = await run_in_threadpool(
            lambda: use_cases.accept_invitation(services, jeton[:200], email=session.email,
                                                name=session.name or session.email.split("@")[0]))
    except DirectoryError as e:
        log.info("invitation refused for session %s: %s", session.id_hash[:12], e)
        return _invitation_page(request, '<p><a class="fr-link" href="/">Retour à l\'accueil</a></p>', 410,
                                error=INVITATION_REFUSED)
    log.info("invitation accepted: habilitation %s in %s", done.grant_id, done.organisation.id)
    return _invitation_page(request, (
        f"<p>Invitation acceptée : vous êtes habilité(e) comme « {html.escape(done.position)} » dans "
        f"{html.escape(done.organisation.name)}.</p>"
        '<p><a class="fr-btn" href="/connexion/habilitation" id="choose">Choisir mon habilitation</a></p>'))
