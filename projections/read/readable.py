"""A case as a person reads it: the situation in words, victims, resources in plain French, and a
chronology that says what each message changed. The dashboard's case drawer and `tocsin case show`
display it as it is; the wording lives here, where tests reach it cheaply.

Pure: the case's folded state and its events in, French text out. The description of what is
happening is for every role that sees the case, the data about people for those that may see it
(`domain.access.case_description` / `personal_details` say which is which). Times are in the zone of
the case's territory, stated (`domain.local_time`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.cisu.nomenclature import location_kind_label, nature_display_label, risk_label
from domain import nexsis_requests as exchanges
from domain.access import case_description, personal_details
from domain.case_state import (
    ACKNOWLEDGED,
    CONCOURS,
    REPORTED,
    RESOURCES,
    RESOURCES_REQUEST,
    RESOURCES_RESPONSE,
    RESOURCES_STATUS,
    SITUATION,
    CaseState,
    apply_message,
    parse_time,
)
from domain.local_time import PARIS, format_local, zone_name
from domain.nature import PHASE_LABELS, ResourcePhase, phase_of
from domain.resources import vehicle_kind_label
from projections.case_list import FREE_PHASES
from projections.presentation import VICTIMS_COUNT_LABELS, number, plural

# The EMSI triage categories, as a person says them (the acronyms only beside their meaning).
TRIAGE_WORDS: dict[str, tuple[str, str]] = {
    "red": ("urgence absolue", "urgences absolues"),
    "yellow": ("urgence relative", "urgences relatives"),
    "green": ("personne impliquée, indemne ou légèrement touchée",
              "personnes impliquées, indemnes ou légèrement touchées"),
    "black": ("décès", "décès"),
    "missing": ("personne disparue", "personnes disparues"),
}
SITUATION_STATUS = {
    "NST": "intervention pas encore commencée",
    "IPR": "intervention en cours",
    "STOP": "intervention en pause",
    "COM": "intervention terminée, affaire close",
}
BACK_AT_BASE = frozenset({"REN-BASE", "ANNULE"})


def readable_case(
    state: CaseState, events: Iterable[tuple[str, dict, dict]], *, place: str,
    zone: ZoneInfo = PARIS, personal: bool,
) -> dict[str, Any]:
    """What the drawer shows. `events`: (kind, facts, provenance) in the order they were recorded;
    `place`: the commune and département in words."""
    nature = state.nature or {}
    resources = [_resource(r, zone) for r in sorted(state.resources.values(), key=_resource_order)]
    all_back = bool(resources) and all(r["free"] for r in resources)
    status = "Close" if state.status == "closed" else "En cours"
    if all_back:
        home = all(r["code"] in BACK_AT_BASE for r in resources)
        status += " — tous les moyens sont rentrés à la base" if home else " — tous les moyens sont libérés"
    location = state.location or {}
    where = " — ".join(p for p in (location.get("label"), location.get("address")) if p)
    return {
        "title": nature_display_label(nature.get("code"), nature.get("label")),
        "status_text": status,
        "all_resources_back": all_back,
        "time_zone": zone.key,
        "zone_name": zone_name(zone),
        "opened": format_local(state.opened_at, zone, never="inconnue"),
        "closed": format_local(state.closed_at, zone) if state.closed_at else None,
        "place": place,
        "where": where or None,
        "location_kind": _label(location_kind_label, state.location_kind),
        "risks": [text for r in state.risks if (text := _label(risk_label, r))],
        "situation": [{"label": label, "text": text}
                      for label, text in case_description(state.personal, personal=personal)],
        "victims": _victims(state),
        "resources": resources,
        "resources_text": _resources_text(resources),
        "nexsis_requests": nexsis_requests(state, zone),
        "chronology": _chronology(events, zone),
        "personal": [{"label": label, "text": text}
                     for label, text in personal_details(state.personal, personal=personal)],
    }


def _label(lookup: Any, coded: Mapping[str, Any] | None) -> str | None:
    if not coded:
        return None
    return lookup(coded.get("code")) or coded.get("label") or coded.get("code")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) == 1 else text


# ---- victims ----------------------------------------------------------------------------------------

def triage_text(casualties: Mapping[str, Any]) -> str | None:
    """« 1 urgence absolue, 2 urgences relatives » (None when the field sent no triage)."""
    parts = []
    for key, (one, many) in TRIAGE_WORDS.items():
        n = casualties.get(key) or 0
        if isinstance(n, int) and n > 0:
            parts.append(f"{number(n)} {plural(n, one, many)}")
    return ", ".join(parts) or None


def _victims(state: CaseState) -> dict[str, Any]:
    declared = VICTIMS_COUNT_LABELS.get(state.victims_count or "NON DEFINI", state.victims_count or "")
    triage = triage_text(state.casualties or {})
    evacuation = state.evacuation or {}
    evacuated, displaced = evacuation.get("evacuated") or 0, evacuation.get("displaced") or 0
    lines = [f"À l'appel : {declared.lower()} (nombre déclaré par l'appelant)"]
    lines.append(f"Bilan des secours sur place : {triage}" if triage else "Pas encore de bilan des secours sur place")
    if evacuated or displaced:
        lines.append(f"{number(evacuated)} {plural(evacuated, 'personne évacuée', 'personnes évacuées')}, "
                     f"{number(displaced)} {plural(displaced, 'personne déplacée', 'personnes déplacées')}")
    return {"declared": declared, "triage": triage, "evacuated": evacuated, "displaced": displaced, "lines": lines}


# ---- resources --------------------------------------------------------------------------------------

def _resource_order(resource: Mapping[str, Any]) -> tuple:
    return (resource.get("phase") in FREE_PHASES, resource.get("name") or resource.get("id") or "")


def _resource(resource: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    code = (resource.get("status") or "").strip().upper()
    phase = resource.get("phase")
    kind = resource.get("kind") or ""
    kind_label = vehicle_kind_label(kind)
    return {
        "name": resource.get("name") or resource.get("id"),
        "kind": kind_label if kind_label != kind else None,
        "code": code,
        "status": resource.get("status_label") or _phase_label(phase) or "Statut inconnu",
        "phase": _phase_label(phase),
        "since": format_local(resource.get("status_at"), zone) if resource.get("status_at") else None,
        "free": phase in FREE_PHASES,
    }


def _phase_label(phase: str | None) -> str | None:
    try:
        return PHASE_LABELS[ResourcePhase(phase)] if phase else None
    except ValueError:
        return None


def _resources_text(resources: list[dict[str, Any]]) -> str:
    if not resources:
        return "Aucun moyen engagé"
    busy = sum(1 for r in resources if not r["free"])
    total = len(resources)
    free = total - busy
    return (f"{number(total)} {plural(total, 'moyen', 'moyens')} : {number(busy)} "
            f"{plural(busy, 'mobilisé', 'mobilisés')}, {number(free)} {plural(free, 'libéré', 'libérés')}")


# ---- requests between services (NexSIS) -------------------------------------------------------------

def nexsis_requests(state: CaseState, zone: ZoneInfo = PARIS) -> list[dict[str, Any]]:
    """« Demandes entre services (NexSIS) »: the case's requests, answers and resource statuses in words,
    the latest first. Read-only: Tocsin shows what the services exchanged, it takes no part."""
    rows = [nexsis_request(entry, zone) for entry in state.nexsis_requests.values()]
    rows.sort(key=lambda row: (parse_time(row["latest_at"]) or _NEVER, row["kind"], row["id"]), reverse=True)
    return rows


def nexsis_request(entry: Mapping[str, Any], zone: ZoneInfo = PARIS) -> dict[str, Any]:
    kind = entry["kind"]
    recipients = list(entry.get("recipients") or ())
    purpose = entry.get("purpose")
    requested = entry.get("requested_at") or entry.get("status_at")
    times = [t for t in (requested, entry.get("answered_at")) if parse_time(t)]
    return {
        "id": entry["id"],
        "kind": kind,
        "kind_label": exchanges.ENTRY_LABELS.get(kind, kind),
        "from_id": entry.get("sender_id"),
        "from_label": organisation_label(entry.get("sender_id")) if entry.get("sender_id") else "inconnu",
        "to_ids": recipients,
        "to_label": ", ".join(organisation_label(r) for r in recipients) or "inconnu",
        "purpose": purpose,
        "purpose_label": exchanges.PURPOSE_LABELS.get(purpose, purpose) if purpose else None,
        "convention": entry.get("convention"),
        "deadline": entry.get("deadline"),
        "deadline_text": exchanges.deadline_words(entry.get("deadline")),
        "requested_at": requested,
        "requested_text": format_local(requested, zone) if requested else None,
        "answer": entry.get("answer"),
        "answer_text": exchanges.answer_words(entry.get("answer")),
        "answer_deadline": entry.get("answer_deadline"),
        "answer_deadline_text": exchanges.deadline_words(entry.get("answer_deadline")),
        "answered_at": entry.get("answered_at"),
        "answered_text": format_local(entry.get("answered_at"), zone) if entry.get("answered_at") else None,
        "answered_by_label": organisation_label(entry["answered_by"]) if entry.get("answered_by") else None,
        "mission_status_text": exchanges.MISSION_STATUS_LABELS.get(entry.get("mission_status") or ""),
        "cancelled": bool(entry.get("cancelled")),
        "status_text": exchanges.status_words(dict(entry)),
        "latest_at": max(times, key=lambda t: parse_time(t) or _NEVER) if times else None,
    }


_NEVER = datetime.min.replace(tzinfo=UTC)


# ---- chronology -------------------------------------------------------------------------------------

_ORGANISATION = re.compile(r"^fr\.(fire|health|police|gendarmerie)\.(?:sis|samu)?(\d[\dAB]?\d?)", re.IGNORECASE)


def organisation_label(org_id: str | None) -> str:
    """« fr.fire.sis35.cgo-35 » → « SDIS 35 » (the sender as people name it), else the identifier."""
    if not org_id:
        return "expéditeur inconnu"
    match = _ORGANISATION.match(org_id)
    if match:
        service = {"fire": "SDIS", "health": "SAMU"}.get(match[1].lower(), match[1].capitalize())
        return f"{service} {match[2]}"
    return org_id


def message_changes(events: Iterable[tuple[str, dict, dict]]) -> Iterator[tuple[dict, str, list[str]]]:
    """In the order recorded: each message's provenance, its title and what it changed in the case, in
    words (no personal data: the crisis's log book shows them to every role)."""
    state = CaseState()
    for kind, facts, provenance in events:
        before = _before(state, kind)
        apply_message(state, kind, facts, provenance)
        title, changes = _what_changed(kind, before, state)
        yield provenance, title, changes or ["rien de nouveau"]


def _chronology(events: Iterable[tuple[str, dict, dict]], zone: ZoneInfo) -> list[dict]:
    """Newest first: each message with what it changed in the case."""
    out = [{
        "when": format_local(provenance.get("sent_at"), zone, never="heure inconnue"),
        "by": organisation_label(provenance.get("sender_id")),
        "title": title,
        "changes": changes,
    } for provenance, title, changes in message_changes(events)]
    out.reverse()
    return out


def _before(state: CaseState, kind: str) -> CaseState:
    """What the chronology compares of the state before a message: a shallow copy (the fold replaces the
    parts it changes rather than mutating them), with its own resource table for a resources message
    (the fold changes that one in place). A deep copy per message would cost a long case dearly."""
    before = copy.copy(state)
    if kind == RESOURCES:
        before.resources = {rid: {"status": r.get("status")} for rid, r in state.resources.items()}
    if kind in exchanges.KINDS or kind == SITUATION:  # their fold updates these entries in place
        before.nexsis_requests = {key: dict(entry) for key, entry in state.nexsis_requests.items()}
    return before


def _what_changed(kind: str, before: CaseState, after: CaseState) -> tuple[str, list[str]]:
    if kind == REPORTED:
        return _report_changes(before, after)
    if kind == SITUATION:
        return _situation_changes(before, after)
    if kind == RESOURCES:
        return _resource_changes(before, after)
    if kind == ACKNOWLEDGED:
        return "Réception confirmée par un partenaire", ["accusé de réception"]
    if kind in exchanges.KINDS:
        return _request_changes(kind, before, after)
    return "Message", []


_REQUEST_TITLES = {
    CONCOURS: "Demande de concours entre services",
    RESOURCES_REQUEST: "Demande de ressource entre services",
    RESOURCES_RESPONSE: "Réponse à une demande de ressource",
    RESOURCES_STATUS: "Statut d'un moyen demandé",
}


def _request_changes(kind: str, before: CaseState, after: CaseState) -> tuple[str, list[str]]:
    changes = []
    if kind == CONCOURS:
        changes = _situation_changes(before, after)[1]
    for key, entry in sorted(after.nexsis_requests.items()):
        if before.nexsis_requests.get(key) == entry:
            continue
        row = nexsis_request(entry)
        changes.append(f"{row['from_label']} → {row['to_label']} : {row['status_text']}")
    return _REQUEST_TITLES[kind], changes


def _report_changes(before: CaseState, after: CaseState) -> tuple[str, list[str]]:
    changes = []
    title_before = nature_display_label((before.nature or {}).get("code"), (before.nature or {}).get("label"))
    title_after = nature_display_label((after.nature or {}).get("code"), (after.nature or {}).get("label"))
    first = not before.reported
    if first or title_before != title_after:
        changes.append(f"nature : {title_after}" if first else f"nature corrigée : {title_before} → {title_after}")
    place_before, place_after = (before.location or {}).get("city"), (after.location or {}).get("city")
    if place_after and place_before != place_after:
        changes.append(f"commune : {place_after}" if first else f"lieu corrigé : {place_after}")
    if before.victims_count != after.victims_count:
        label = VICTIMS_COUNT_LABELS.get(after.victims_count or "NON DEFINI", after.victims_count or "")
        changes.append(f"victimes déclarées : {label.lower()}")
    return ("Appel reçu, affaire créée" if first else "Signalement corrigé"), changes


def _situation_changes(before: CaseState, after: CaseState) -> tuple[str, list[str]]:
    changes = []
    if before.emsi_status != after.emsi_status and after.emsi_status:
        changes.append(SITUATION_STATUS.get(after.emsi_status, f"statut : {after.emsi_status}"))
    if before.casualties != after.casualties:
        triage = triage_text(after.casualties or {})
        changes.append(f"bilan des victimes : {triage}" if triage else "bilan des victimes : aucune victime")
    if before.evacuation != after.evacuation:
        e = after.evacuation or {}
        ev, dp = e.get("evacuated") or 0, e.get("displaced") or 0
        changes.append(f"{number(ev)} {plural(ev, 'personne évacuée', 'personnes évacuées')}, "
                       f"{number(dp)} {plural(dp, 'déplacée', 'déplacées')}")
    closed = after.status == "closed" and before.status != "closed"
    return ("Fin d'intervention, affaire close" if closed else "Point de situation des secours"), changes


def _resource_changes(before: CaseState, after: CaseState) -> tuple[str, list[str]]:
    changes, new = [], 0
    for rid, resource in sorted(after.resources.items(), key=lambda item: item[1].get("name") or item[0]):
        previous = before.resources.get(rid)
        if previous is not None and previous.get("status") == resource.get("status"):
            continue
        new += previous is None
        status = resource.get("status_label") or _phase_label(resource.get("phase")) or "statut inconnu"
        changes.append(f"{resource.get('name') or rid} : {_lower_first(status)}")
    if not changes:
        return "Moyens : sans changement", []
    if after.resources and all(phase_of(r.get("status")) in (ResourcePhase.RELEASED, ResourcePhase.CANCELLED)
                               for r in after.resources.values()):
        return "Tous les moyens sont libérés", changes
    if new:
        return (plural(new, "Nouveau moyen engagé", "Nouveaux moyens engagés")), changes
    return "Statut des moyens mis à jour", changes
