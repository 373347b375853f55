"""Requests that emergency services exchange through NexSIS, as a case keeps them (read-only in Tocsin).

Four CISU messages carry them: RS-DR (a resource request), RS-RR (its answer), RS-SR (the status of a
resource sent), and the EMSI « demande de concours » with its answer (an EMSI MISSION whose NAME says
`#DEMANDE_CONCOURS#…#` or `#REPONSE_DEMANDE_CONCOURS#…#`). Tocsin neither sends nor answers them: these are
the services' own requests, shown beside the authorities' own (`/api/v1/requests`) and named apart from them.
The hub's deadline and answer vocabularies below are the ones the authorities' requests reuse.

The fold is order-tolerant like the rest of the case state: an answer may arrive before its request, a
request twice, a cancellation before the original. Each part of an entry (the request, the answer, a
resource's status) remembers the message version it reflects and only a newer one replaces it; a
cancellation is final whichever message comes after it. Free texts (which may name patients) never
enter these entries: the normaliser keeps them apart, with the message's personal data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Kinds of facts (domain.case_state): one per CISU use case, and the EMSI that carries a concours.
RESOURCES_REQUEST = "resourcesRequest"  # RS-DR
RESOURCES_RESPONSE = "resourcesResponse"  # RS-RR
RESOURCES_STATUS = "resourcesStatus"  # RS-SR
CONCOURS = "emsiConcours"  # an EMSI message with a « demande de concours » or its answer

KINDS = frozenset({RESOURCES_REQUEST, RESOURCES_RESPONSE, RESOURCES_STATUS, CONCOURS})

# Entry kinds, as the case keeps them.
ENTRY_RESOURCES = "demande_de_ressource"
ENTRY_CONCOURS = "demande_de_concours"
ENTRY_STATUS = "statut_de_moyen"

ENTRY_LABELS = {
    ENTRY_RESOURCES: "Demande de ressource (RS-DR)",
    ENTRY_CONCOURS: "Demande de concours (EMSI)",
    ENTRY_STATUS: "Statut d'un moyen (RS-SR)",
}

# RS-DR `request.deadline` and RS-RR `response.deadline` (the hub's nomenclature).
DEADLINE_LABELS = {
    "DEL0": "sans délai (immédiat)",
    "ASAP": "dès que possible",
    "30M": "sous 30 minutes",
    "45M": "sous 45 minutes",
    "1H": "sous 1 heure",
    "2H": "sous 2 heures",
    "4H": "sous 4 heures",
    "8H": "sous 8 heures",
    "12H": "sous 12 heures",
    "24H": "sous 24 heures",
    "RDV": "sur rendez-vous",
}

# RS-RR `response.answer`, and the EMSI answer codes (`#REPONSE_DEMANDE_CONCOURS#{code}#`).
ANSWER_LABELS = {
    "ACCEPTEE": "acceptée",
    "PARTIELLE": "acceptée en partie",
    "REFUSEE": "refusée",
    "DIFFEREE": "différée",
    "ACCEPTE": "acceptée",
    "REFUS": "refusée",
    "DIVERGENTE": "acceptée avec une réponse divergente",
}

# RS-DR `request.purpose` (« effet à obtenir »).
PURPOSE_LABELS = {
    "SAP": "secours à personne",
    "REGUL": "régulation médicale",
    "CUMP": "cellule d'urgence médico-psychologique",
    "SMUR": "équipe SMUR",
    "MG": "médecin généraliste",
    "PARAMED": "équipe paramédicale",
    "SAMU": "moyen du SAMU",
    "RELEVE": "relevage",
    "NOVI": "nombreuses victimes",
    "TIH": "transport infirmier interhospitalier",
    "BRANCARD": "brancardage",
    "BARIA": "prise en charge bariatrique",
}

# EMSI MISSION.STATUS of a concours.
MISSION_STATUS_LABELS = {
    "NST": "pas encore commencée",
    "IPR": "en cours",
    "PAU": "en pause",
    "COM": "terminée",
    "ABO": "refusée",
    "CANCLD": "annulée",
}

_CONCOURS = re.compile(r"^#DEMANDE_CONCOURS#([^#]*)#([^#]*)#?$")
_ANSWER = re.compile(r"^#REPONSE_DEMANDE_CONCOURS#([^#]*)#?$")


def concours_of(mission: dict[str, Any]) -> dict[str, Any] | None:
    """What an EMSI mission says of a demande de concours: a request, an answer, or None (an ordinary
    mission). Its NAME is the only marker the hub defines (the EMSI schema's description of NAME)."""
    name = (mission.get("name") or "").strip()
    request = _CONCOURS.match(name)
    if request:
        return {"role": "request", "convention": request[1] or None, "convention_code": request[2] or None}
    answer = _ANSWER.match(name)
    if answer:
        return {"role": "answer", "answer": answer[1] or None}
    return None


def deadline_words(code: str | None) -> str | None:
    if not code:
        return None
    return DEADLINE_LABELS.get(code, code)


def answer_words(code: str | None) -> str | None:
    if not code:
        return None
    return ANSWER_LABELS.get(code, code)


Compare = Callable[[list, list], bool]  # whether the first version key is newer than the second


def apply_request(requests: dict, facts: dict, provenance: dict, key: list, newer: Compare) -> None:
    """An RS-DR: the request part of its entry (the newest RS-DR's), cancelled for good once any says so."""
    request_id = facts["request_id"]
    entry = requests.setdefault(request_id, _blank(request_id, ENTRY_RESOURCES))
    if entry["request_version"] is None or newer(key, entry["request_version"]):
        entry.update(
            requested_at=facts.get("requested_at"),
            purpose=facts.get("purpose"),
            convention=facts.get("convention"),
            deadline=facts.get("deadline"),
            sender_id=provenance.get("sender_id"),
            recipients=list(provenance.get("recipients") or ()),
            request_version=key,
        )
    if facts.get("cancelled"):
        entry["cancelled"] = True


def apply_response(requests: dict, facts: dict, provenance: dict, key: list, newer: Compare) -> None:
    """An RS-RR: the answer part of its request's entry (the newest answer, by its own time)."""
    request_id = facts["request_id"]
    entry = requests.setdefault(request_id, _blank(request_id, ENTRY_RESOURCES))
    answer_key = [facts.get("answered_at") or key[0], key[1]]
    if entry["answer_version"] is None or newer(answer_key, entry["answer_version"]):
        entry.update(
            answer=facts.get("answer"),
            answer_deadline=facts.get("deadline"),
            answered_at=facts.get("answered_at"),
            answered_by=provenance.get("sender_id"),
            answer_version=answer_key,
        )


def apply_status(requests: dict, facts: dict, provenance: dict, key: list, newer: Compare) -> None:
    """An RS-SR: the newest status of the resource (by the status's own time)."""
    resource_id = facts["resource_id"]
    entry_id = "resource:" + resource_id
    entry = requests.setdefault(entry_id, _blank(resource_id, ENTRY_STATUS))
    status_key = [facts.get("status_at") or key[0], key[1]]
    if entry["request_version"] is None or newer(status_key, entry["request_version"]):
        entry.update(
            status=facts.get("status"),
            status_label=facts.get("status_label"),
            status_at=facts.get("status_at"),
            available=facts.get("available"),
            sender_id=provenance.get("sender_id"),
            recipients=list(provenance.get("recipients") or ()),
            request_version=status_key,
        )


def apply_concours(requests: dict, missions: list, provenance: dict, key: list, newer: Compare) -> None:
    """The demandes de concours and answers among an EMSI message's missions (facts of domain.case_state's
    situation). An answer is filed under the request it names (MAIN_MISSION_ID, else its own ID, which
    the partner may reuse); a request under its mission ID. Entries are keyed by mechanism (`concours:`,
    `resource:`, an RS-DR's request id as is), so ids of different mechanisms never meet."""
    for mission in missions:
        concours = concours_of(mission)
        if concours is None or not mission.get("id"):
            continue
        mission_key = [mission.get("start") or key[0], key[1]] if concours["role"] == "answer" else key
        if concours["role"] == "request":
            entry = requests.setdefault("concours:" + mission["id"], _blank(mission["id"], ENTRY_CONCOURS))
            if entry["request_version"] is None or newer(key, entry["request_version"]):
                entry.update(
                    requested_at=mission.get("start"),
                    purpose=mission.get("type"),
                    convention=concours["convention"],
                    convention_code=concours["convention_code"],
                    sender_id=provenance.get("sender_id"),
                    recipients=_concours_addressees(mission, provenance),
                    mission_status=mission.get("status"),
                    request_version=key,
                )
            if mission.get("status") == "CANCLD":
                entry["cancelled"] = True
        else:
            target = mission.get("main_mission_id") or mission["id"]
            entry = requests.setdefault("concours:" + target, _blank(target, ENTRY_CONCOURS))
            if entry["answer_version"] is None or newer(mission_key, entry["answer_version"]):
                entry.update(
                    answer=concours["answer"],
                    answered_at=mission.get("start"),
                    answered_by=mission.get("org_id") or provenance.get("sender_id"),
                    answer_mission_status=mission.get("status"),
                    answer_version=mission_key,
                )


def _concours_addressees(mission: dict[str, Any], provenance: dict) -> list[str]:
    """The organisation a concours is asked of: MISSION.ORG_ID (« le partenaire concerné par la demande de
    concours », EMSI schema), else the envelope's addressees."""
    return [mission["org_id"]] if mission.get("org_id") else list(provenance.get("recipients") or ())


def status_words(entry: dict[str, Any]) -> str:
    """Where an entry stands, in words."""
    if entry["kind"] == ENTRY_STATUS:
        label = entry.get("status_label") or entry.get("status") or "statut inconnu"
        available = entry.get("available")
        if available is None:
            return label
        return f"{label} ({'disponible' if available else 'indisponible'})"
    if entry.get("cancelled"):
        return "annulée"
    answer = answer_words(entry.get("answer"))
    if entry.get("request_version") is None:  # only an answer so far (the request may yet arrive)
        return f"réponse reçue ({answer or 'sans code'}), demande non reçue par Tocsin"
    if answer:
        return f"répondue : {answer}"
    return "en attente de réponse"


def _blank(entry_id: str, kind: str) -> dict[str, Any]:
    return {
        "id": entry_id, "kind": kind, "cancelled": False,
        "request_version": None, "answer_version": None,
        "answer": None,
    }
