"""« Alertes à la population », the page: a mairie drafts an alert to its commune's population; the
préfecture of its département approves it (published as CAP 1.2) or refuses it with a reason; either may
cancel it. Under the dashboard's own login, each form carrying a CSRF token bound to that session and sent
from this site only, as the directory's pages do (api/routes/annuaire.py). Every act goes through
adapters.crisis.population_alerts, as the API's do.

    GET  /alertes-population                     my territory's alerts, the draft form for a mairie
    POST /alertes-population                     draft
    POST /alertes-population/{id}/{acte}         valider, refuser, annuler

Server-rendered HTML only (no script).
"""

from __future__ import annotations

import html
import logging
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.cap.gateway import gateway_for
from adapters.crisis import population_alerts as use_cases
from api.auth import AuthConfig
from api.routes.annuaire import FORGED, _alert, _html, _refusal
from api.web_session import page_principal, posted_form
from domain.access import Denied, Principal, acts_for
from domain.local_time import format_local
from domain.population_alert import (
    CATEGORIES,
    CERTAINTIES,
    RESPONSE_TYPES,
    SEVERITIES,
    TO_APPROVE,
    URGENCIES,
    Refused,
)

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

PATH = "/alertes-population"
CSRF_PURPOSE = "alertes-population"
NOTICES = {"redigee": "Alerte rédigée : la préfecture est alertée pour la valider.",
           "validee": "Alerte validée.", "refusee": "Alerte refusée.", "annulee": "Alerte annulée."}


def _options(values: dict[str, str], selected: str | None = None, empty: bool = False) -> str:
    out = '<option value="">—</option>' if empty else ""
    return out + "".join(f'<option value="{html.escape(k)}"{" selected" if k == selected else ""}>'
                         f"{html.escape(label)} ({html.escape(k)})</option>" for k, label in values.items())


def _field(name: str, label: str, *, maxlength: int, area: bool = False, required: bool = True) -> str:
    req = " required" if required else ""
    control = (f'<textarea class="fr-input" id="{name}" name="{name}" maxlength="{maxlength}"{req}></textarea>'
               if area else f'<input class="fr-input" id="{name}" name="{name}" maxlength="{maxlength}"{req}>')
    return f'<div class="fr-input-group"><label class="fr-label" for="{name}">{label}</label>{control}</div>'


def _select(name: str, label: str, values: dict[str, str], selected: str | None = None, empty: bool = False) -> str:
    return (f'<div class="fr-select-group"><label class="fr-label" for="{name}">{label}</label>'
            f'<select class="fr-select" id="{name}" name="{name}">{_options(values, selected, empty)}</select></div>')


def _draft_form(principal: Principal, csrf: str) -> str:
    return (
        f'<form method="post" action="{PATH}" id="draft-form" class="t-card fr-mb-3w">'
        '<h2 class="fr-h5">Rédiger une alerte à la population</h2>'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f'<input type="hidden" name="insee" value="{html.escape(principal.code)}">'
        + _field("event", "Quoi : l'événement, en quelques mots (« Inondation »)", maxlength=100)
        + _field("headline", "Titre diffusé", maxlength=160)
        + _field("description", "Ce qui se passe", maxlength=2000, area=True)
        + _field("instruction", "Ce que la population doit faire", maxlength=1000, area=True)
        + _field("area_desc", "Où (facultatif : par défaut la commune entière)", maxlength=300, required=False)
        + _select("category", "Catégorie", CATEGORIES, "Safety")
        + _select("severity", "Gravité", SEVERITIES, "Severe")
        + _select("urgency", "Urgence", URGENCIES, "Immediate")
        + _select("certainty", "Certitude", CERTAINTIES, "Observed")
        + _select("response_type", "Consigne principale (facultatif)", RESPONSE_TYPES, empty=True)
        + '<div class="fr-checkbox-group fr-mb-2w"><input type="checkbox" id="exercise" name="exercise" value="1">'
        '<label class="fr-label" for="exercise">Exercice</label></div>'
        '<button class="fr-btn" type="submit">Soumettre à la préfecture</button></form>')


def _acts(principal: Principal, a: dict, csrf: str) -> str:
    url = f"{PATH}/{html.escape(a['id'])}"
    hidden = f'<input type="hidden" name="csrf" value="{csrf}">'
    out = ""
    if a["state"] == TO_APPROVE and acts_for(principal, f"prefecture.{a['departement']}"):
        out += (f'<form method="post" action="{url}/valider" class="fr-mb-1w">{hidden}'
                '<button class="fr-btn fr-btn--sm" type="submit">Valider et publier</button></form>'
                f'<form method="post" action="{url}/refuser" class="fr-mb-1w">{hidden}'
                f'<label class="fr-label" for="reason-{html.escape(a["id"])}">Raison du refus</label>'
                f'<input class="fr-input" id="reason-{html.escape(a["id"])}" name="reason" required maxlength="1000">'
                '<button class="fr-btn fr-btn--sm fr-btn--secondary" type="submit">Refuser</button></form>')
    if a["state"] not in ("annulée", "refusée") and (
            acts_for(principal, f"mairie.{a['insee']}") or acts_for(principal, f"prefecture.{a['departement']}")):
        out += (f'<form method="post" action="{url}/annuler">{hidden}'
                f'<label class="fr-label" for="cancel-{html.escape(a["id"])}">Raison de l\'annulation</label>'
                f'<input class="fr-input" id="cancel-{html.escape(a["id"])}" name="reason" required maxlength="1000">'
                '<button class="fr-btn fr-btn--sm fr-btn--tertiary" type="submit">Annuler l\'alerte</button></form>')
    return out


def _row(principal: Principal, a: dict, csrf: str) -> str:
    zone = ZoneInfo(a["time_zone"])
    c = a["content"]
    publication = "".join(
        f"<li>CAP {html.escape(m['msg_type'])} : {html.escape(m['status'])}"
        + (f" — {html.escape(m['attempts'][-1]['reason'])}" if m["attempts"] and m["attempts"][-1]["reason"] else "")
        + "</li>" for m in a["messages"])
    refused = next((v["reason"] for v in reversed(a["versions"]) if v.get("reason")), None)
    return (
        f'<tr data-alert="{html.escape(a["id"])}"><td>{html.escape(a["commune"])} ({html.escape(a["insee"])})</td>'
        f"<td>{'EXERCICE — ' if a['exercise'] else ''}<strong>{html.escape(c['headline'])}</strong>"
        f"<br>{html.escape(c['description'])}<br><em>{html.escape(c['instruction'])}</em></td>"
        f"<td>{html.escape(SEVERITIES.get(c['severity'], c['severity']))}</td>"
        f"<td>{html.escape(format_local(a['drafted_at'], zone))}"
        f"<br>{html.escape(a['drafted_by'].get('name') or '')}</td>"
        f'<td class="t-state">{html.escape(a["state"])}'
        + (f"<br>Raison : {html.escape(refused)}" if refused else "")
        + (f"<ul>{publication}</ul>" if publication else "")
        + f"</td><td>{_acts(principal, a, csrf)}</td></tr>")


async def _page(request: Request, principal: Principal, binding: str, *, notice: str | None = None,
                error: str | None = None, status: int = 200) -> HTMLResponse:
    services = request.app.state.services
    config: AuthConfig = request.app.state.auth
    csrf = html.escape(config.csrf_token(CSRF_PURPOSE, binding))
    items = await run_in_threadpool(use_cases.visible, services.store, principal)
    rows = "".join(_row(principal, a, csrf) for a in items)
    listing = (
        '<div class="fr-table fr-table--multiline"><table id="population-alerts"><caption>Alertes de votre '
        'territoire</caption><thead><tr><th scope="col">Commune</th><th scope="col">Message</th>'
        '<th scope="col">Gravité</th><th scope="col">Rédigée</th><th scope="col">État</th>'
        f'<th scope="col">Actions</th></tr></thead><tbody>{rows}</tbody></table></div>'
    ) if items else '<p id="population-alerts">Aucune alerte à la population dans votre territoire.</p>'
    drafts = principal.role.code == "mayor" and acts_for(principal, f"mairie.{principal.code}")
    main = (
        '<nav aria-label="Pages" class="fr-mt-2w fr-mb-3w"><ul class="fr-raw-list t-stack" id="pages">'
        '<li><a class="fr-link" href="/">Tableau de bord</a></li></ul></nav>'
        '<h1 class="fr-h3">Alertes à la population</h1>'
        + (_alert(notice, "success") if notice else "") + (_alert(error) if error else "")
        + "<p>La mairie rédige l'alerte ; la préfecture du département la valide, et elle est alors publiée "
        "au format CAP 1.2 vers la passerelle de diffusion, ou la refuse en donnant sa raison. Chaque acte est "
        "enregistré avec son auteur, son organisation et son habilitation.</p>"
        + (_draft_form(principal, csrf) if drafts else "") + listing)
    return _html("Alertes à la population", main, request, status)


@router.get(PATH, response_class=HTMLResponse)
async def page(request: Request, fait: str | None = None) -> Response:
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    principal, binding = found
    return await _page(request, principal, binding, notice=NOTICES.get(fait or ""))


async def _checked(request: Request) -> tuple[Principal, str, dict[str, str]] | Response:
    checked = await posted_form(request, CSRF_PURPOSE)
    if checked is None:
        log.warning("population alert form refused: missing or invalid CSRF token, or sent from another site")
        return _refusal(request, FORGED)
    return checked


async def _run(request: Request, principal: Principal, binding: str, act: Any, done: str) -> Response:
    try:
        await run_in_threadpool(act)
    except use_cases.UnknownPopulationAlert as e:
        return await _page(request, principal, binding, error=str(e), status=404)
    except Denied as e:
        return _refusal(request, str(e))
    except Refused as e:
        return await _page(request, principal, binding, error=f"Refusé : {e}", status=422)
    return RedirectResponse(f"{PATH}?fait={done}", status_code=303)


@router.post(PATH)
async def draft(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    principal, binding, form = checked
    services = request.app.state.services
    content = {k: form.get(k, "") for k in ("event", "headline", "description", "instruction", "area_desc",
                                            "category", "severity", "urgency", "certainty", "response_type")}
    return await _run(request, principal, binding, lambda: use_cases.draft(
        services.store, services.geography, request.app.state.recipients, principal, insee=form.get("insee", ""),
        content=content, exercise=form.get("exercise") == "1"), "redigee")


@router.post(PATH + "/{alert_id}/{act}")
async def decide(request: Request, alert_id: str, act: str) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    principal, binding, form = checked
    s = request.app.state.services
    reason = form.get("reason", "")
    acts = {
        "valider": (lambda: use_cases.approve(s.store, s.settings, s.geography, gateway_for(s.settings), principal,
                                              alert_id), "validee"),
        "refuser": (lambda: use_cases.refuse(s.store, principal, alert_id, reason), "refusee"),
        "annuler": (lambda: use_cases.cancel(s.store, s.settings, s.geography, gateway_for(s.settings), principal,
                                             alert_id, reason), "annulee"),
    }
    if act not in acts:
        return await _page(request, principal, binding, error="action inconnue", status=404)
    run, done = acts[act]
    return await _run(request, principal, binding, run, done)
