"""Translate a validated CISU message into the facts of one domain event.

This is the anti-corruption layer: the CISU models are rich, nested and vary between senders; the
domain needs a few normalised facts (nature with its official label, where, how many victims, which
resources in which status). Personal data (callers, phone numbers, victims' details, health motives,
free texts) is kept apart under `personal`, so views can leave it out for roles that must not see it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from adapters.cisu import WireMessage
from adapters.cisu.nomenclature import nomenclature
from adapters.geography import Geography
from domain.case_state import (
    ACKNOWLEDGED,
    CONCOURS,
    REPORTED,
    RESOURCES,
    RESOURCES_REQUEST,
    RESOURCES_RESPONSE,
    RESOURCES_STATUS,
    SITUATION,
)
from domain.nature import phase_of
from domain.nexsis_requests import concours_of
from domain.resources import vehicle_kind


class NormalisationError(ValueError):
    """A schema-valid message Tocsin cannot attach to a case; kept in quarantine with this reason."""

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(message)
        self.code, self.path, self.message = code, path, message


@dataclass(frozen=True)
class Normalised:
    kind: str
    case_id: str | None  # None only for an acknowledgement whose case is found later, by reference
    facts: dict
    references: str | None = None  # RC-REF: the distributionID acknowledged


def normalise(message: WireMessage, geography: Geography) -> Normalised:
    handler = _HANDLERS[message.kind]
    normalised = handler(message.use_case, geography)
    if normalised.kind == SITUATION and any(concours_of(m) for m in normalised.facts["missions"]):
        # An EMSI « demande de concours » (or its answer): the same facts, a kind of its own, so that the
        # case's requests between services can be found by kind (domain.nexsis_requests).
        return Normalised(CONCOURS, normalised.case_id, normalised.facts)
    return normalised


def addressees(envelope: dict) -> tuple[str, ...]:
    """The organisations a message was addressed to: its EDXL-DE envelope's `descriptor.explicitAddress`
    values, the hub addresses it routes on (the same kind of identifier as `senderID`). The RC-DE header's
    `recipient` list repeats them for display; the envelope is what the hub delivers by.

    The JSON schema allows one address with one value; the XSD allows several of each, so both shapes are
    read."""
    found: list[str] = []
    addresses = (envelope.get("descriptor") or {}).get("explicitAddress") or ()
    for address in addresses if isinstance(addresses, list) else (addresses,):
        values = address.get("explicitAddressValue") if isinstance(address, dict) else None
        for value in values if isinstance(values, list) else (values,):
            if isinstance(value, str) and value and value not in found:
                found.append(value)
    return tuple(found)


def _coded(nomenclature_name: str, value: dict | None) -> dict | None:
    """A code with its official label (the sender's label when the code is not in the list)."""
    if not value or not value.get("code"):
        return None
    code = value["code"].strip()
    official = nomenclature(nomenclature_name).label(code)
    return {"code": code, "label": official or value.get("label") or code, "official": official is not None}


def _point(lat: Any, lon: Any) -> tuple[float, float] | None:
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        if math.isfinite(lat) and math.isfinite(lon):
            return float(lat), float(lon)
    return None


def _created_case(use_case: dict, geography: Geography) -> Normalised:
    qualification = use_case.get("qualification") or {}
    location = use_case.get("location") or {}
    city = location.get("city") or {}
    coord = ((location.get("geometry") or {}).get("point") or {}).get("coord") or {}
    point = _point(coord.get("lat"), coord.get("lon"))
    placement = geography.resolve(city.get("inseeCode"), *(point or (None, None)))
    alert = use_case.get("initialAlert") or {}
    caller = alert.get("caller") or {}
    victims = qualification.get("victims") or {}
    facts = {
        "case_id": use_case["caseId"],
        "sender_case_id": use_case.get("senderCaseId"),
        "creation": use_case.get("creation"),
        "nature": _coded("HubSante.fait", qualification.get("whatsHappen")),
        "location_kind": _coded("HubSante.lieu", qualification.get("locationKind")),
        "risks": [r for r in (_coded("HubSante.risque", r) for r in qualification.get("riskThreat") or []) if r],
        "victims_count": victims.get("count"),
        "main_victim": victims.get("mainVictim"),
        "location": {
            "label": location.get("locLabel") or location.get("name"),
            "address": (location.get("detailedAddress") or {}).get("complete"),
            "city": city.get("name"),
            "insee_code": city.get("inseeCode"),
            "lat": point[0] if point else None,
            "lon": point[1] if point else None,
            "precision": coord.get("precision"),
        },
        "placement": placement.as_dict(),
        "personal": _drop_empty(
            {
                "caller_name": (caller.get("detailedName") or {}).get("complete"),
                "caller_phone": (caller.get("callerContact") or {}).get("detail"),
                "callback_phone": (caller.get("callbackContact") or {}).get("detail"),
                "caller_relation": caller.get("freetext"),
                "health_motive": _coded("HubSante.motif", qualification.get("healthMotive")),
                "victims_details": victims.get("freetext"),
                "notes": [n.get("freetext") for n in alert.get("notes") or [] if n.get("freetext")],
                "location_details": location.get("freetext"),
                "access": location.get("access"),
            }
        ),
    }
    return Normalised(REPORTED, use_case["caseId"], facts)


def _situation(use_case: dict, geography: Geography) -> Normalised:
    context = use_case.get("CONTEXT") or {}
    event = use_case.get("EVENT") or {}
    case_id = event.get("MAIN_EVENT_ID")
    if not case_id:
        raise NormalisationError(
            "no-case",
            "$.emsi.EVENT.MAIN_EVENT_ID",
            "message EMSI sans EVENT.MAIN_EVENT_ID : impossible de le rattacher à une affaire",
        )
    casualties = _sum_counts(
        event.get("CASUALTIES"),
        {
            "red": "TRIAGERED", "yellow": "TRIAGEYELLOW", "green": "TRIAGEGREEN", "black": "TRIAGEBLACK",
            "missing": "MISSING",
        },
    )
    evacuation = _sum_counts(event.get("EVAC"), {"displaced": "DISPLACED", "evacuated": "EVACUATED"})
    point = _first_emsi_point(event.get("EGEO") or [])
    facts = {
        "case_id": case_id,
        "emsi_id": context.get("ID"),
        "created": context.get("CREATION"),
        "message_type": context.get("MSGTYPE"),
        "mode": context.get("MODE"),
        "event_name": event.get("NAME"),
        "event_status": event.get("STATUS"),
        "scale": event.get("SCALE"),
        "risk_assessment": event.get("RISK_ASSESMENT"),
        "categories": list((event.get("ETYPE") or {}).get("CATEGORY") or []),
        "occurred_at": event.get("OCC_DATIME"),
        "declared_at": event.get("DECL_DATIME"),
        "casualties": casualties,
        "evacuation": evacuation,
        "placement": geography.resolve(None, *point).as_dict() if point else None,
        "missions": [
            {
                "id": m.get("ID"),
                "type": m.get("TYPE"),
                "status": m.get("STATUS"),
                "org_id": m.get("ORG_ID"),
                "name": m.get("NAME"),
                "start": m.get("START_TIME"),
                "resources": list(m.get("RESOURCE_ID") or []),
                "main_mission_id": m.get("MAIN_MISSION_ID"),
                "priority": m.get("PRIORITY"),
            }
            for m in use_case.get("MISSION") or []
            if m.get("ID")
        ],
        # Missions' free texts are not kept: a concours's may name the patients to take care of.
        "personal": _drop_empty({"situation_details": context.get("FREETEXT")}),
    }
    return Normalised(SITUATION, case_id, facts)


def _resources(use_case: dict, geography: Geography) -> Normalised:
    resources = []
    for r in use_case.get("resource") or []:
        state = r.get("state") or {}
        status = state.get("status")
        position = (r.get("position") or {}).get("coord") or {}
        point = _point(position.get("lat"), position.get("lon"))
        resources.append(
            {
                "id": r["resourceId"],
                "name": r.get("name"),
                "org_id": r.get("orgId"),
                "center": r.get("centerName"),
                "vehicle_type": r.get("vehicleType"),
                "kind": vehicle_kind(r.get("name"), r.get("vehicleType")),
                "engaged_at": r.get("datetime"),
                "status": status,
                "status_label": nomenclature("HubSante.statutVecteur").label(status) if status else None,
                "phase": _phase(status) if status else None,
                "status_at": state.get("datetime") or r.get("datetime"),
                "available": state.get("availability"),
                "lat": point[0] if point else None,
                "lon": point[1] if point else None,
            }
        )
    return Normalised(RESOURCES, use_case["caseId"], {"case_id": use_case["caseId"], "resources": resources})


def _acknowledgement(use_case: dict, geography: Geography) -> Normalised:
    facts = {
        "refers_to": use_case["distributionID"],
        "refused": bool(use_case.get("refused", False)),
        "step": use_case.get("step"),
        "error_distribution_id": use_case.get("errorDistributionID"),
    }
    return Normalised(ACKNOWLEDGED, None, facts, references=use_case["distributionID"])


def _resources_request(use_case: dict, geography: Geography) -> Normalised:
    request = use_case["request"]
    facts = {
        "case_id": use_case["caseId"],
        "request_id": request["requestId"],
        "requested_at": request.get("datetime"),
        "purpose": request.get("purpose"),
        "convention": request.get("convention"),
        "deadline": request.get("deadline"),
        "cancelled": use_case.get("status") == "ANNULEE",
        "personal": _drop_empty({"request_details": request.get("freetext")}),
    }
    return Normalised(RESOURCES_REQUEST, use_case["caseId"], facts)


def _resources_response(use_case: dict, geography: Geography) -> Normalised:
    response = use_case["response"]
    facts = {
        "case_id": use_case["caseId"],
        "request_id": use_case["requestId"],
        "answer": response.get("answer"),
        "answered_at": response.get("datetime"),
        "deadline": response.get("deadline"),
        # The reason of a refusal is written here, in free text: it may name people.
        "personal": _drop_empty({"answer_details": response.get("freetext")}),
    }
    return Normalised(RESOURCES_RESPONSE, use_case["caseId"], facts)


def _resources_status(use_case: dict, geography: Geography) -> Normalised:
    state = use_case["state"]
    status = state.get("status")
    facts = {
        "case_id": use_case["caseId"],
        "resource_id": use_case["resourceId"],
        "status": status,
        "status_label": nomenclature("HubSante.statutVecteur").label(status) if status else None,
        "status_at": state.get("datetime"),
        "available": state.get("availability"),
    }
    return Normalised(RESOURCES_STATUS, use_case["caseId"], facts)


def _sum_counts(entries: list | None, fields: dict[str, str]) -> dict | None:
    """EMSI may split counts over several entries (by context); the case view wants the totals."""
    if not entries:
        return None
    totals = {name: 0 for name in fields}
    for entry in entries:
        for name, key in fields.items():
            value = entry.get(key)
            if isinstance(value, int) and value > 0:
                totals[name] += value
    return totals


def _first_emsi_point(egeos: list) -> tuple[float, float] | None:
    for egeo in egeos:
        for coord in (egeo.get("POSITION") or {}).get("COORD") or []:
            point = _point(coord.get("LAT"), coord.get("LONG"))
            if point:
                return point
    return None


def _drop_empty(values: dict) -> dict:
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}


_HANDLERS = {
    REPORTED: _created_case,
    SITUATION: _situation,
    RESOURCES: _resources,
    ACKNOWLEDGED: _acknowledgement,
    RESOURCES_REQUEST: _resources_request,
    RESOURCES_RESPONSE: _resources_response,
    RESOURCES_STATUS: _resources_status,
}


def _phase(status: str) -> str:
    """The phase of a resource's status; a status without one is a gap in domain.nature's table, which
    quarantines the message (as an internal error) rather than record a resource in no phase."""
    phase = phase_of(status)
    if phase is None:  # the status is free text in RC-RI: never copied into the reason or the log
        raise ValueError("statut de moyen sans phase connue (resource.state.status)")
    return phase.value
