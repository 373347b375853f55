"""The « Demandes » page: the requests an organisation received and sent, one request with its history, and
the forms to send, answer and move a request along, usable on a phone.

Server-rendered in the DSFR frame; the forms work without a script. They act under the dashboard's own
login (api.routes.annuaire.page_principal) with a CSRF token bound to that session, sent from this site
only, and call the same use cases as the API and the CLI (adapters.crisis.requests). A small script
(api/static/requests.js) follows the live stream's `request` events and reloads the part of the page that
shows requests, never the form being filled in.

    GET  /demandes                 inbox, outbox, the form to send one
    GET  /demandes?id=<id>         one request, its history, the forms its state and the caller allow
    POST /demandes                 send
    POST /demandes/acte            answer, cancel, progress, done, close, ask or give information, escalate, return
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.crisis import requests as use
from adapters.crisis.crises import get_crisis, organisation_of, visible_crises
from api.forms import form_fields, from_this_site
from api.pages import render_page
from api.refusals import REFUSED, status_of
from api.web_session import page_principal
from domain.access import Principal
from domain.local_time import format_local, parse_local, zone_name
from domain.request import ANSWERS, DEADLINES, KINDS, TRANSITIONS, Act, RequestError, Status
from domain.request import Request as Demande

router = APIRouter(include_in_schema=False)

CSRF_PURPOSE = "demandes"
FORGED = "Formulaire expiré ou envoyé depuis un autre site : rechargez la page et recommencez."
NOTICES = {"envoyee": "Demande envoyée : ses destinataires sont alertés.", "enregistre": "Enregistré."}
_BADGES = {Status.ISSUED: "new", Status.SEEN: "info", Status.INFO_ASKED: "warning", Status.ACCEPTED: "success",
           Status.PARTIAL: "success", Status.REFUSED: "error", Status.DEFERRED: "warning",
           Status.IN_PROGRESS: "info", Status.DONE: "success", Status.CLOSED: "", Status.CANCELLED: ""}
# The acts a form posts, and what the page calls them (French).
_ACTS: dict[str, tuple[Act, str]] = {
    "answer": (Act.ANSWER, "Répondre"),
    "ask_info": (Act.ASK_INFO, "Demander un complément"),
    "give_info": (Act.GIVE_INFO, "Apporter le complément"),
    "start": (Act.START, "Passer « en cours »"),
    "finish": (Act.FINISH, "Signaler comme réalisée"),
    "close": (Act.CLOSE, "Clore la demande"),
    "cancel": (Act.CANCEL, "Annuler la demande"),
    "escalate": (Act.ESCALATE, "Transmettre à l'autorité supérieure"),
    "return": (Act.RETURN, "Renvoyer à l'organisation qui l'a transmise"),
}


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


# ---- pages --------------------------------------------------------------------------------------------

def _page(request: Request, principal: Principal, main: str, status: int = 200) -> HTMLResponse:
    config = request.app.state.auth
    page = render_page(title="Demandes", main=main, demo=config.demo_login, tagline="Demandes entre autorités",
                       scripts='<script src="/static/requests.js" defer></script>')
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _nav() -> str:
    return ('<nav aria-label="Pages" class="fr-mt-2w fr-mb-2w"><ul class="fr-raw-list t-stack" id="pages">'
            '<li><a class="fr-link" href="/">Tableau de bord</a></li>'
            '<li><a class="fr-link" href="/crises">Crises</a></li>'
            '<li><a class="fr-link" href="/demandes" aria-current="page">Demandes</a></li>'
            '<li><a class="fr-link" href="/annuaire">Annuaire</a></li></ul></nav>')


def _alert(message: str, kind: str = "error") -> str:
    return (f'<div class="fr-alert fr-alert--{kind} fr-alert--sm fr-mb-3w" role="alert" id="request-{kind}">'
            f"<p>{e(message)}</p></div>")


def _when(moment: str | None, zone: ZoneInfo, never: str = "—") -> str:
    return e(format_local(moment, zone, never=never))


def _badge(r: dict) -> str:
    kind = _BADGES.get(Status(r["status"]), "")
    late = ' <p class="fr-badge fr-badge--sm fr-badge--error">en retard</p>' if r["overdue"] else ""
    return (f'<p class="fr-badge fr-badge--sm{" fr-badge--" + kind if kind else ""} t-request-status">'
            f'{e(r["status_label"])}</p>{late}')


def _row(r: dict) -> str:
    zone = ZoneInfo(r["time_zone"])
    due = _when(r["due_at"], zone, "sans échéance")
    return (f'<li class="t-card fr-mb-2w" data-request="{e(r["id"])}">'
            f'<div class="t-card__head"><a class="fr-link" href="/demandes?id={quote(r["id"])}">'
            f'{e(r["kind_label"])}</a><div class="t-status">{_badge(r)}</div></div>'
            f'<p class="fr-mb-1v">{e(r["text"][:300])}</p>'
            f'<p class="fr-text--sm fr-mb-0">{e(r["from_organisation"]["name"])} → '
            f'{e(r["owner_organisation"]["name"])} · échéance : {due} · <span class="t-ref">{e(r["id"])}</span></p>'
            "</li>")


def _lists(inbox: list[dict], outbox: list[dict]) -> str:
    def section(title: str, ident: str, items: list[dict], empty: str) -> str:
        rows = "".join(_row(r) for r in items) or f'<li class="t-empty">{e(empty)}</li>'
        return (f'<section class="fr-mb-4w"><h2 class="fr-h5">{e(title)} ({len(items)})</h2>'
                f'<ul class="fr-raw-list" id="{ident}">{rows}</ul></section>')

    return (section("Reçues", "inbox", inbox, "Aucune demande reçue.")
            + section("Envoyées", "outbox", outbox, "Aucune demande envoyée."))


def _send_form(csrf: str, addressees: list[Any], crises: list[Any], zone: ZoneInfo) -> str:
    options = "".join(f'<option value="{e(o.id)}">{e(o.name)} ({e(o.id)})</option>' for o in addressees)
    kinds = "".join(f'<option value="{e(k.code)}">{e(k.label)}</option>' for k in KINDS.values())
    deadlines = "".join(f'<option value="{e(code)}"{" selected" if code == "1H" else ""}>{e(label)}</option>'
                        for code, (label, _) in DEADLINES.items())
    crisis_options = '<option value="">— aucune —</option>' + "".join(
        f'<option value="{e(c.id)}">{e(c.title)}</option>' for c in crises)
    return f"""
<details class="fr-mb-4w" id="send-panel"><summary class="fr-btn fr-btn--secondary">Nouvelle demande</summary>
<form method="post" action="/demandes" class="t-card fr-mt-2w" id="request-form">
  <input type="hidden" name="csrf" value="{e(csrf)}">
  <div class="fr-select-group"><label class="fr-label" for="request-to">Destinataire</label>
    <select class="fr-select" id="request-to" name="to" required>{options}</select></div>
  <div class="fr-select-group"><label class="fr-label" for="request-kind">Type de demande</label>
    <select class="fr-select" id="request-kind" name="kind">{kinds}</select></div>
  <div class="fr-input-group"><label class="fr-label" for="request-text">Ce qui est demandé</label>
    <textarea class="fr-input" id="request-text" name="text" rows="4" maxlength="2000" required></textarea></div>
  <div class="fr-select-group"><label class="fr-label" for="request-deadline">Délai</label>
    <select class="fr-select" id="request-deadline" name="deadline">{deadlines}</select></div>
  <div class="fr-input-group"><label class="fr-label" for="request-due">Ou une échéance précise
    <span class="fr-hint-text">{e(zone_name(zone).capitalize())} ; remplace le délai</span></label>
    <input class="fr-input" type="datetime-local" id="request-due" name="due"></div>
  <div class="fr-select-group"><label class="fr-label" for="request-crisis">Crise</label>
    <select class="fr-select" id="request-crisis" name="crisis_id">{crisis_options}</select></div>
  <button class="fr-btn" type="submit" id="request-send">Envoyer la demande</button>
</form></details>"""


def _detail(r: dict, crisis_title: str | None = None) -> str:
    zone = ZoneInfo(r["time_zone"])
    answer = ""
    if r["answer"]:
        a = r["answer"]
        promised = f" — délai promis : {_when(a['deadline'], zone)}" if a["deadline"] else ""
        answer = (f'<p id="request-answer"><strong>Réponse : {e(a["label"])}</strong>'
                  f'{" — " + e(a["comment"]) if a["comment"] else ""}{promised}</p>')
    steps = "".join(
        f'<li><span class="t-when">{_when(s["at"], zone)}</span> — <strong>{e(s["label"])}</strong>'
        f'{" (" + e((s.get("by") or {}).get("name")) + ")" if s.get("by") else ""}'
        f'{" : " + e(s["text"]) if s.get("text") else ""}</li>' for s in r["history"] or [])
    crisis = (f'<p class="fr-text--sm">Crise : {e(crisis_title)}</p>' if crisis_title else
              f'<p class="fr-text--sm">Crise : <span class="t-ref">{e(r["crisis_id"])}</span></p>'
              if r["crisis_id"] else "")
    exercise = '<p class="fr-badge fr-badge--warning">EXERCICE</p>' if r["exercise"] else ""
    return f"""
<div class="t-card fr-mb-3w">
  <div class="t-card__head"><h2 class="fr-h4 fr-mb-0">{e(r["kind_label"])}</h2>
    <div class="t-status" id="request-status">{_badge(r)}</div></div>
  {exercise}
  <p class="t-request-text">{e(r["text"])}</p>
  <p class="fr-text--sm fr-mb-1v">De : <strong>{e(r["from_organisation"]["name"])}</strong> · À :
    <strong>{e(r["to_organisation"]["name"])}</strong>{
    " · traitée par : <strong>" + e(r["owner_organisation"]["name"]) + "</strong>"
    if r["owner_organisation_id"] != r["to_organisation_id"] else ""}</p>
  <p class="fr-text--sm fr-mb-1v">Émise le {_when(r["issued_at"], zone)} · échéance :
    {_when(r["due_at"], zone, "sans échéance")}{" (" + e(r["deadline_label"]) + ")" if r["deadline_label"] else ""}</p>
  {crisis}
  {answer}
</div>
<section class="fr-mb-3w"><h2 class="fr-h5">Historique</h2><ol class="t-history" id="request-history">{steps}</ol>
</section>"""


def _act_forms(r: Demande, acting: str | None, csrf: str) -> str:
    """The forms of the acts the request's state allows and that are the caller's to do."""
    zone = ZoneInfo(r.time_zone)
    forms = []
    for name, (act, label) in _ACTS.items():
        t = TRANSITIONS[act]
        party = r.issuer if t.who == "issuer" else r.owner
        if acting != party["id"] or not r.allowed(act) or r.is_final:
            continue
        if act is Act.RETURN and not r.escalated_from:
            continue
        hidden = (f'<input type="hidden" name="csrf" value="{e(csrf)}"><input type="hidden" name="id" '
                  f'value="{e(r.ref)}"><input type="hidden" name="act" value="{name}">')
        if act is Act.ANSWER:
            radios = "".join(
                f'<div class="fr-fieldset__element"><div class="fr-radio-group"><input type="radio" '
                f'id="answer-{code}" name="answer" value="{code}"{" checked" if code == "ACCEPTEE" else ""}>'
                f'<label class="fr-label" for="answer-{code}">{e(text.capitalize())}</label></div></div>'
                for code, text in ANSWERS.items())
            forms.append(f"""
<form method="post" action="/demandes/acte" class="t-card fr-mb-3w" id="answer-form">{hidden}
  <fieldset class="fr-fieldset"><legend class="fr-fieldset__legend">Votre réponse</legend>{radios}</fieldset>
  <div class="fr-input-group"><label class="fr-label" for="answer-comment">Commentaire
    <span class="fr-hint-text">Obligatoire pour un refus (le motif)</span></label>
    <textarea class="fr-input" id="answer-comment" name="comment" rows="3" maxlength="2000"></textarea></div>
  <div class="fr-input-group"><label class="fr-label" for="answer-deadline">Délai promis
    <span class="fr-hint-text">Pour une réponse partielle ; {e(zone_name(zone))}</span></label>
    <input class="fr-input" type="datetime-local" id="answer-deadline" name="deadline"></div>
  <button class="fr-btn" type="submit" id="answer-send">Envoyer la réponse</button>
</form>""")
            continue
        needs_text = act in (Act.ASK_INFO, Act.GIVE_INFO)
        caption = {Act.ASK_INFO: "Question", Act.GIVE_INFO: "Complément"}.get(act, "Commentaire (facultatif)")
        field = (f'<div class="fr-input-group"><label class="fr-label" for="text-{name}">{caption}'
                 f'</label><textarea class="fr-input" id="text-{name}" name="text" rows="2" maxlength="2000"'
                 f'{" required" if needs_text else ""}></textarea></div>')
        style = "fr-btn" if act in (Act.GIVE_INFO, Act.FINISH, Act.START, Act.CLOSE) else "fr-btn fr-btn--secondary"
        forms.append(f'<form method="post" action="/demandes/acte" class="t-card fr-mb-2w" id="form-{name}">'
                     f'<h3 class="fr-h6 fr-mb-1w">{e(label)}</h3>{hidden}{field}'
                     f'<button class="{style}" type="submit">{e(label)}</button></form>')
    inner = ('<section class="fr-mb-3w"><h2 class="fr-h5">Suite à donner</h2>' + "".join(forms) + "</section>"
             if forms else "")
    return f'<div id="request-acts">{inner}</div>'


# ---- routes -------------------------------------------------------------------------------------------

async def _who(request: Request) -> tuple[Principal, str] | Response:
    found = await page_principal(request)
    if found is None:
        return RedirectResponse("/connexion", status_code=303)
    return found


@router.get("/demandes", response_class=HTMLResponse)
async def requests_page(request: Request, id: str = "") -> Response:  # noqa: A002 - the URL's name
    found = await _who(request)
    if isinstance(found, Response):
        return found
    principal, key = found
    return await _render(request, principal, key, id)


async def _render(request: Request, principal: Principal, key: str, request_id: str = "", *, error: str = "",
                  status: int = 200) -> HTMLResponse:
    services = request.app.state.services
    csrf = request.app.state.auth.csrf_token(CSRF_PURPOSE, key)
    acting = organisation_of(principal)
    head = _nav() + (_alert(error) if error else "")
    notice = request.query_params.get("avis", "")
    if notice in NOTICES and not error:
        head += _alert(NOTICES[notice], "success")
    if request_id:
        try:
            r = await run_in_threadpool(use.open_request, services.store, request_id, principal)
        except use.UnknownRequest as ex:
            return _page(request, principal, head + '<h1 class="fr-h3">Demande</h1>' + _alert(str(ex))
                         + '<p><a class="fr-link" href="/demandes">Toutes les demandes</a></p>', 404)
        zone = ZoneInfo(r.time_zone)
        crisis = await run_in_threadpool(get_crisis, services.store, UUID(r.crisis_id)) if r.crisis_id else None
        shown = _detail(r.as_dict(), crisis.title if crisis else None)
        main = (head + f'<h1 class="fr-h3">Demande <span class="t-ref">{e(r.ref)}</span></h1>'
                f'<p class="fr-text--sm">Heures affichées : {e(zone_name(zone))} ({e(zone.key)})</p>'
                f'<div id="requests-live" data-live="detail" data-request="{e(r.ref)}">{shown}</div>'
                + _act_forms(r, acting, csrf)
                + '<p><a class="fr-link fr-icon-arrow-left-line fr-link--icon-left" href="/demandes">'
                  "Toutes les demandes</a></p>")
        return _page(request, principal, main, status)

    def lists() -> tuple[list[dict], list[dict], list[Any], list[Any]]:
        if acting is None:
            return [r.as_dict(history=False) for r in use.visible_requests(services.store, principal)], [], [], []
        inbox = [r.as_dict(history=False) for r in use.visible_requests(services.store, principal, box="inbox")]
        outbox = [r.as_dict(history=False) for r in use.visible_requests(services.store, principal, box="outbox")]
        return inbox, outbox, use.addressees(services.directory, services.geography, principal), \
            visible_crises(services.store, principal, include_closed=False)

    inbox, outbox, addressees, crises = await run_in_threadpool(lists)
    from domain.local_time import zone_of

    zone = zone_of(principal.level, principal.code)
    form = _send_form(csrf, addressees, crises, zone) if addressees else ""
    main = (head + '<h1 class="fr-h3">Demandes</h1>'
            f'<p class="fr-text--sm">Demandes entre autorités de votre organisation ; heures affichées dans le '
            f'fuseau de chaque demande ({e(zone_name(zone))} pour votre territoire).</p>'
            + form + f'<div id="requests-live" data-live="list">{_lists(inbox, outbox)}</div>')
    return _page(request, principal, main, status)


def _checked(request: Request, key: str, form: dict[str, str]) -> bool:
    return from_this_site(request, CSRF_PURPOSE, key, form.get("csrf"))


@router.post("/demandes")
async def send(request: Request) -> Response:
    found = await _who(request)
    if isinstance(found, Response):
        return found
    principal, key = found
    form = await form_fields(request)
    if not _checked(request, key, form):
        return await _render(request, principal, key, error=FORGED, status=403)
    services = request.app.state.services

    def act() -> Demande:
        from domain.local_time import zone_of

        deadline = form.get("deadline", "")
        if form.get("due", "").strip():
            deadline = parse_local(form["due"], zone_of(principal.level, principal.code)).isoformat()
        return use.issue(services.store, services.directory, request.app.state.recipients, principal,
                         to=form.get("to", ""), kind=form.get("kind", ""), text=form.get("text", ""),
                         deadline=deadline, crisis_id=form.get("crisis_id") or None)

    try:
        sent = await run_in_threadpool(act)
    except REFUSED as ex:
        return await _render(request, principal, key, error=str(ex), status=status_of(ex))
    return RedirectResponse(f"/demandes?id={quote(sent.ref)}&avis=envoyee", status_code=303)


@router.post("/demandes/acte")
async def act_on(request: Request) -> Response:
    found = await _who(request)
    if isinstance(found, Response):
        return found
    principal, key = found
    form = await form_fields(request)
    request_id = form.get("id", "")
    if not _checked(request, key, form):
        return await _render(request, principal, key, request_id, error=FORGED, status=403)
    services = request.app.state.services
    recipients = request.app.state.recipients
    name, text = form.get("act", ""), form.get("text", "")

    def act() -> Demande:
        store = services.store
        if name == "answer":
            r = use.find_request(store, request_id, principal)
            deadline: datetime | None = None
            if form.get("deadline", "").strip():
                deadline = parse_local(form["deadline"], ZoneInfo(r.time_zone))
            return use.answer(store, recipients, request_id, principal, code=form.get("answer", ""),
                              comment=form.get("comment", ""), deadline=deadline)
        calls = {
            "ask_info": lambda: use.ask_info(store, recipients, request_id, principal, text),
            "give_info": lambda: use.give_info(store, recipients, request_id, principal, text),
            "start": lambda: use.start(store, recipients, request_id, principal, text),
            "finish": lambda: use.finish(store, recipients, request_id, principal, text),
            "close": lambda: use.close(store, request_id, principal, text),
            "cancel": lambda: use.cancel(store, recipients, request_id, principal, text),
            "escalate": lambda: use.escalate(store, services.directory, services.geography, recipients, request_id,
                                             principal, text),
            "return": lambda: use.give_back(store, recipients, request_id, principal, text),
        }
        if name not in calls:
            raise RequestError("acte inconnu")
        return calls[name]()

    try:
        done = await run_in_threadpool(act)
    except REFUSED as ex:
        return await _render(request, principal, key, request_id, error=str(ex), status=status_of(ex))
    return RedirectResponse(f"/demandes?id={quote(done.ref)}&avis=enregistre", status_code=303)
