"""Use-case objects (JSON-shaped, as in examples/<TYPE>/) for planned messages.

Each builder returns the inner object of one CISU use case (``createCase``, ``resourcesInfoCisu``,
``emsi``, ``reference``), shaped like the official examples and valid against the JSON schemas and
XSDs; adapters.cisu.wrap_use_case puts it in its envelope. Labels come from the nomenclatures.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from adapters.cisu.nomenclature import nomenclature
from domain.nature import ResourcePhase, phase_of

from .cases import Acknowledgement, Case, CreateVariant, EmsiSnapshot, Spec, StatusEntries
from .clock import LocalClock

REFERENCE_VERSION = "2.01.3"  # as in the official RC-EDA examples

UseCase = dict[str, Any]
"""A JSON-shaped use case (or part of one): its shape is the CISU schemas', checked by the tests that
validate simulated messages against them, not by the type checker."""


@lru_cache(maxsize=4096)
def _coded(list_name: str, code: str) -> dict[str, str]:
    label = nomenclature(list_name).label(code)
    if label is None:
        raise KeyError(f"{code} is not in {list_name}")
    return {"code": code, "label": label}


def _code(list_name: str, code: str) -> dict[str, str]:
    return dict(_coded(list_name, code))  # copies: the writer may not share nested dicts


def _address(case: Case) -> tuple[str, UseCase]:
    number, way_type, way_name = case.address
    if case.on_road:
        complete = way_name
        return complete, {"complete": complete, "wayName": {"complete": complete, "type": "Route", "name": way_name}}
    way = f"{way_type} {way_name}"
    complete = f"{number} {way}" if number else way
    detailed: UseCase = {"complete": complete, "wayName": {"complete": way, "type": way_type, "name": way_name}}
    if number:
        detailed["number"] = number
    return complete, detailed


def _city(variant: CreateVariant) -> dict[str, str] | None:
    commune = variant.commune
    if variant.insee_mode == "no-city":
        return None
    if variant.insee_mode == "insee":
        return {"name": commune.name, "inseeCode": commune.insee}
    if variant.insee_mode == "postal":
        postal = next(p for p in commune.postal_codes if p != commune.insee and p.isdigit())
        return {"name": commune.name, "inseeCode": postal}
    return {"name": commune.name}


def create_case(spec: Spec, clock: LocalClock) -> UseCase:
    case = spec.case
    variant = spec.payload
    assert isinstance(variant, CreateVariant)
    iso = clock.iso
    lat, lon = case.point
    complete, detailed = _address(case)
    postal = variant.commune.postal_codes[0] if variant.commune.postal_codes else ""
    location: UseCase = {
        "locID": case.loc_id,
        "locLabel": f"{complete} - {postal} {variant.commune.name}".replace("  ", " "),
        "detailedAddress": detailed,
        "geometry": {"datetime": iso(case.created),
                     "point": {"coord": {"lat": lat, "lon": lon, "precision": case.precision}}},
        "country": "FR",
    }
    city = _city(variant)
    if city is not None:
        location["city"] = city
    qualification: UseCase = {
        "whatsHappen": _code("HubSante.fait", variant.nature),
        "locationKind": _code("HubSante.lieu", case.location_kind),
        "victims": {"count": case.victims},
    }
    if case.risks:
        qualification["riskThreat"] = [_code("HubSante.risque", r) for r in case.risks]
    if case.victims != "0":
        qualification["victims"]["mainVictim"] = case.main_victim
        if case.victim_text:
            victim = case.victim
            named = case.victims == "1"  # a name only makes sense for a single victim
            qualification["victims"]["freetext"] = (
                f"{case.victim_text}, {victim.first} {victim.last.upper()}" if named else case.victim_text)
    if case.motive:
        qualification["healthMotive"] = _code("HubSante.motif", case.motive)
    caller = case.caller
    contact = {"channel": "PERSONNE", "type": "TEL", "detail": caller.phone}
    alert_location: UseCase = {"locID": case.loc_id, "country": "FR", "detailedAddress": detailed}
    if city is not None:
        alert_location["city"] = dict(city)
    is_health = case.creator is case.health
    use_case: UseCase = {
        "caseId": case.case_id,
        "senderCaseId": case.sender_case_id,
        "creation": iso(case.called + 30),
        "referenceVersion": REFERENCE_VERSION,
        "qualification": qualification,
        "location": location,
        "initialAlert": {
            "id": case.alert_id,
            "reception": iso(case.called),
            "reporting": case.reporting,
            "notes": [{"creation": iso(case.called + 60), "freetext": case.note}],
            "caller": {
                "callerContact": contact,
                "callbackContact": dict(contact),
                "language": "fr",
                "type": case.caller_type,
                "freetext": case.caller_relation,
                "detailedName": {"complete": caller.complete, "lastName": caller.last, "firstName": caller.first},
            },
            "location": alert_location,
            # what the call taker typed first, even when a later message corrects it
            "qualification": {"whatsHappen": _code("HubSante.fait", case.first_nature)},
            "callTaker": {
                "organization": case.creator.id,
                "controlRoom": f"{'CRRA' if is_health else 'CTA-CODIS'} {case.departement}",
                "role": "ARM" if is_health else "OTA",
                "calltakerId": case.call_taker_id,
            },
        },
    }
    if variant.correction:
        use_case["freetext"] = [variant.correction]
    return use_case


def _resource(case: Case, run_index: int, status_index: int, iso: Callable[[float], str]) -> UseCase:
    run = case.runs[run_index]
    vehicle = run.vehicle
    kind = vehicle.kind
    status, at, (lat, lon) = run.statuses[status_index]
    phase = phase_of(status)
    resource: UseCase = {
        "datetime": iso(run.statuses[0][1]),
        "resourceId": vehicle.resource_id,
        "missionId": run.mission_id,
        "orgId": vehicle.org_id,
        "centerName": vehicle.centre_name,
        "vehicleType": kind.vehicle_type,
        "name": vehicle.name,
        "team": {"medicalLevel": kind.medical_level, "name": vehicle.team},
        "state": {"datetime": iso(at), "status": status,
                  "availability": phase in (ResourcePhase.RELEASED, ResourcePhase.CANCELLED)},
        "position": {"datetime": iso(at), "coord": {"lat": lat, "lon": lon}},
        "freetext": [f"{kind.vector} - {kind.label}"],
    }
    if vehicle.centre_city:
        resource["centerCity"] = vehicle.centre_city
    return resource


def resources_info(spec: Spec, clock: LocalClock) -> UseCase:
    case, payload = spec.case, spec.payload
    assert isinstance(payload, StatusEntries)
    iso = clock.iso
    return {"caseId": case.case_id, "resource": [_resource(case, r, s, iso) for r, s in payload.entries]}


_EMSI_RESOURCE_STATUS = {
    ResourcePhase.ALERTED: "RESRVD",
    ResourcePhase.EN_ROUTE: "IN_USE/MOBILE",
    ResourcePhase.ON_SCENE: "IN_USE/ON_SCENE",
    ResourcePhase.TRANSPORT: "IN_USE/MOBILE",
    ResourcePhase.RELEASED: "AVAILB",
    ResourcePhase.CANCELLED: "AVAILB",
}
_EMSI_MISSION_STATUS = {
    ResourcePhase.ALERTED: "NST",
    ResourcePhase.EN_ROUTE: "IPR",
    ResourcePhase.ON_SCENE: "IPR",
    ResourcePhase.TRANSPORT: "IPR",
    ResourcePhase.RELEASED: "COM",
    ResourcePhase.CANCELLED: "CANCLD",
}
MAX_EMSI_MISSIONS = 15  # keep big operations' pictures to a readable size


def _summary(case: Case, snapshot: EmsiSnapshot, engaged: int) -> str:
    parts = [f"Point de situation {case.commune.name} : {engaged} moyen(s) engagé(s)"]
    if snapshot.evac is not None:
        parts.append(f"{snapshot.evac[1]} personne(s) évacuée(s), dont {snapshot.evac[0]} hébergée(s)")
    if snapshot.casualties is not None and sum(snapshot.casualties[:4]) != 0:
        red, yellow, green, black, _ = snapshot.casualties
        parts.append(f"victimes : {red} UA, {yellow} UR, {green} impliqués, {black} DCD")
    if snapshot.status == "COM":
        parts.append("fin d'intervention")
    return ", ".join(parts)


def emsi(spec: Spec, clock: LocalClock) -> UseCase:
    case = spec.case
    snapshot = spec.payload
    assert isinstance(snapshot, EmsiSnapshot)
    profile = case.profile.emsi
    assert profile is not None
    iso = clock.iso
    lat, lon = case.point
    complete, _ = _address(case)
    position: UseCase = {"LOC_ID": case.loc_id, "NAME": f"{complete}, {case.commune.name}", "TYPE": "POINT",
                "COORDSYS": "EPSG-4326", "COORD": [{"LAT": lat, "LONG": lon}],
                "ADDRESS": [f"{complete}, {case.commune.name}"]}
    context: UseCase = {
        "ID": snapshot.context_id,
        "MODE": "ACTUAL",
        "MSGTYPE": "ALERT" if snapshot.previous_id is None else "UPDATE",
        "CREATION": iso(snapshot.at),
        "LEVEL": "OPR",
        "SECLASS": "RESTRC",
        "ORIGIN": {"ORG_ID": spec.sender.id, "USER_ID": spec.sender.name, "NAME": spec.sender.label},
        "URGENCY": "URGENT" if case.profile.major or case.victims not in ("0", "NON DEFINI") else "NOT_URGENT",
    }
    if snapshot.previous_id is not None:
        context["LINK"] = [{"ID": snapshot.previous_id, "LINK_ROLE": "SPRSDS"}]
    global_id = f"{case.sender_case_id}-OPG"
    missions: list[UseCase] = []
    resources: list[UseCase] = []
    engaged = 0
    for run in case.runs:
        index = run.status_at(snapshot.at)
        if index is None:
            continue
        phase = phase_of(run.statuses[index][0])
        assert phase is not None, "the simulator sends only statuses of the lifecycle"
        if phase not in (ResourcePhase.RELEASED, ResourcePhase.CANCELLED):
            engaged += 1
        if len(missions) >= MAX_EMSI_MISSIONS:
            continue
        vehicle = run.vehicle
        missions.append({
            "TYPE": profile.mission, "ID": run.mission_id, "ORG_ID": vehicle.org_id, "NAME": "#MISSION#",
            "STATUS": _EMSI_MISSION_STATUS[phase], "START_TIME": iso(run.statuses[0][1]),
            "RESOURCE_ID": [vehicle.resource_id], "PARENT_MISSION_ID": [global_id], "MAIN_MISSION_ID": global_id,
        })
        resources.append({
            "RTYPE": {"RCLASS": [vehicle.kind.rclass]}, "ID": vehicle.resource_id, "ORG_ID": vehicle.org_id,
            "NAME": vehicle.name, "FREETEXT": f"{vehicle.kind.code} - {vehicle.kind.label}",
            "QUANTITY": 1, "STATUS": _EMSI_RESOURCE_STATUS[phase], "NATIONALITY": "FR",
        })
    context["FREETEXT"] = _summary(case, snapshot, engaged)
    operation: UseCase = {
        "TYPE": profile.mission, "ID": global_id, "ORG_ID": case.fire.id, "NAME": "#OPERATION_GLOBALE#",
        "STATUS": "COM" if snapshot.status == "COM" else "IPR", "START_TIME": iso(case.dispatched),
        "POSITION": position,
    }
    if snapshot.status == "COM":
        operation["END_TIME"] = iso(snapshot.at)
    if missions:
        operation["CHILD_MISSION_ID"] = [m["ID"] for m in missions]
    event: UseCase = {
        "ID": case.sender_case_id,
        "NAME": f"{_coded('HubSante.fait', case.profile.nature)['label']} - {case.commune.name}",
        "MAIN_EVENT_ID": case.case_id,
        "ETYPE": {"CATEGORY": [profile.category], "ACTOR": [profile.actor], "LOCTYPE": [profile.loctype],
                  "ENV": profile.env},
        "SOURCE": "HUMOBS",
        "SCALE": ("4" if (snapshot.evac or (0, 0))[1] >= 500 else "3") if case.profile.major else "1",
        "CERTAINTY": 100 if snapshot.previous_id else 80,
        "DECL_DATIME": iso(case.called),
        "OCC_DATIME": iso(case.called - 600),
        "OBS_DATIME": iso(snapshot.at),
        "STATUS": snapshot.status,
        "RISK_ASSESMENT": snapshot.trend,
        "CAUSE": profile.cause,
        "EGEO": [{"DATIME": iso(snapshot.at), "TYPE": profile.egeo, "WEATHER": list(profile.weather),
                  "POSITION": position}],
    }
    if snapshot.casualties is not None:
        red, yellow, green, black, missing = snapshot.casualties
        event["CASUALTIES"] = [{"CONTEXT": "REQ_ACTION", "DATIME": iso(snapshot.at), "TRIAGERED": red,
                                "TRIAGEYELLOW": yellow, "TRIAGEGREEN": green, "TRIAGEBLACK": black,
                                "MISSING": missing}]
    if snapshot.evac is not None:
        displaced, evacuated = snapshot.evac
        event["EVAC"] = [{"DATIME": iso(snapshot.at), "DISPLACED": displaced, "EVACUATED": evacuated}]
    result: UseCase = {"CONTEXT": context, "EVENT": event, "MISSION": [operation, *missions]}
    if resources:
        result["RESOURCE"] = resources
    return result


def reference(spec: Spec, clock: LocalClock) -> UseCase:  # noqa: ARG001 - same signature as the others
    acknowledged = spec.payload
    assert isinstance(acknowledged, Acknowledgement)
    if acknowledged.with_step:
        return {"distributionID": acknowledged.distribution_id, "step": "RECU"}
    return {"distributionID": acknowledged.distribution_id}


BUILDERS: dict[str, Callable[[Spec, LocalClock], UseCase]] = {
    "createCase": create_case, "resourcesInfoCisu": resources_info, "emsi": emsi, "reference": reference,
}
