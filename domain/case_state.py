"""The state of a case, folded from the facts its messages carry.

Pure and order-tolerant: messages arrive late, twice, or out of order (an RC-RI before the RC-EDA that
opens its case). Each part of the state remembers the message time it reflects, and an older message
never overwrites a newer one. So folding the same facts in any arrival order gives the same state,
which is what lets live projections, rebuilds and replays share this code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from domain import nexsis_requests as exchanges
from domain.nature import NatureFamily, family_of

# Kinds of facts, one per CISU use case that Tocsin interprets.
REPORTED = "createCase"
SITUATION = "emsi"
RESOURCES = "resourcesInfoCisu"
ACKNOWLEDGED = "reference"
# Requests between emergency services (domain.nexsis_requests): RS-DR, RS-RR, RS-SR, and an EMSI message
# carrying a « demande de concours » (the same situation facts, plus the request).
RESOURCES_REQUEST = exchanges.RESOURCES_REQUEST
RESOURCES_RESPONSE = exchanges.RESOURCES_RESPONSE
RESOURCES_STATUS = exchanges.RESOURCES_STATUS
CONCOURS = exchanges.CONCOURS

# The kinds whose facts can say where a case is (a report's placement, a situation's position):
# the others never move a case, which spares the views from locating it again after them.
PLACING = frozenset({REPORTED, SITUATION, CONCOURS})

# EMSI EVENT.STATUS "COM": the partner considers the case completed.
CLOSED_EMSI_STATUSES = frozenset({"COM"})


@lru_cache(maxsize=65_536)  # folds compare the same few times again and again; datetimes are immutable
def parse_time(value: str | None) -> datetime | None:
    """CISU times carry an explicit offset (UTC may be written `-00:00`)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Naive times cannot be compared with the others; the schemas forbid them, so read them as UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_NEVER = datetime.min.replace(tzinfo=UTC)


def version_key(time: str | None, distribution_id: str) -> list:
    """What a piece of state reflects: the message's own time, then its id to break ties, so that
    the winner does not depend on arrival order. (A list: it is stored as JSON with the state.)"""
    return [time, distribution_id]


def _comparable(key: list) -> tuple[datetime, str]:
    """A version as a sort key (an unknown or unreadable time sorts first)."""
    return (parse_time(key[0]) or _NEVER, key[1] or "")


# The earlier / later of two message times (None is unknown, not early); `tb` is `b` parsed, which
# the fold already has at hand.
def _earlier(a: str | None, b: str | None, tb: datetime | None) -> str | None:
    ta = parse_time(a)
    if ta is None:
        return b
    if tb is None:
        return a
    return a if ta <= tb else b


def _later(a: str | None, b: str | None, tb: datetime | None) -> str | None:
    ta = parse_time(a)
    if ta is None:
        return b
    if tb is None:
        return a
    return a if ta >= tb else b


@dataclass
class CaseState:
    case_id: str | None = None
    reported: bool = False
    nature: dict | None = None
    family: str = NatureFamily.UNKNOWN.value
    location_kind: dict | None = None
    risks: list = field(default_factory=list)
    victims_count: str | None = None
    location: dict | None = None
    placement: dict | None = None
    field_placement: dict | None = None
    created_at: str | None = None
    opened_at: str | None = None
    closed_at: str | None = None
    status: str = "open"
    emsi_status: str | None = None
    casualties: dict = field(default_factory=dict)
    evacuation: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    missions: dict = field(default_factory=dict)
    personal: dict = field(default_factory=dict)
    nexsis_requests: dict = field(default_factory=dict)  # domain.nexsis_requests, by request (or resource) id
    messages: int = 0
    corrections: int = 0
    acknowledgements: int = 0
    first_message_at: str | None = None
    last_message_at: str | None = None
    as_of: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_message(state: CaseState, kind: str, facts: dict, provenance: dict) -> CaseState:
    """Fold one message's facts into the case state (mutates and returns `state`)."""
    sent_at = provenance.get("sent_at")
    moment = parse_time(sent_at)
    state.messages += 1
    state.first_message_at = _earlier(state.first_message_at, sent_at, moment)
    state.last_message_at = _later(state.last_message_at, sent_at, moment)
    if state.case_id is None:
        state.case_id = facts.get("case_id")
    _APPLY[kind](state, facts, version_key(sent_at, provenance.get("distribution_id", "")), provenance)
    state.opened_at = state.created_at or state.first_message_at
    return state


def _apply_reported(state: CaseState, facts: dict, key: list, provenance: dict) -> None:
    if state.reported:
        state.corrections += 1
    state.reported = True
    creation = facts.get("creation")
    state.created_at = _earlier(state.created_at, creation, parse_time(creation))
    rank = _comparable(key)
    if facts.get("placement") and _newer_part(state, "placement", key, rank):
        state.placement = facts["placement"]  # the newest report that places the case
    if not _newer_part(state, "report", key, rank):
        return  # a later correction already superseded this report
    state.nature = facts.get("nature")
    state.family = family_of((state.nature or {}).get("code")).value
    state.location_kind = facts.get("location_kind")
    state.risks = list(facts.get("risks") or [])
    state.victims_count = facts.get("victims_count")
    state.location = facts.get("location")
    state.personal = dict(facts.get("personal") or {})


def _apply_situation(state: CaseState, facts: dict, key: list, provenance: dict) -> None:
    key = version_key(facts.get("created") or key[0], key[1])
    rank = _comparable(key)
    missions = state.missions
    for mission in facts.get("missions") or []:
        current = missions.get(mission["id"])
        if current is None or rank > _comparable(current["version"]):
            missions[mission["id"]] = {**mission, "version": key}
    position = facts.get("placement")
    if position and _newer_part(state, "field_position", key, rank):
        state.field_placement = position
    # Each part of the situation is the newest message's that carries it: a newer EMSI without
    # casualties must not hide an older one's figures, whatever the arrival order.
    if facts.get("casualties") is not None and _newer_part(state, "casualties", key, rank):
        state.casualties = dict(facts["casualties"])
    if facts.get("evacuation") is not None and _newer_part(state, "evacuation", key, rank):
        state.evacuation = dict(facts["evacuation"])
    exchanges.apply_concours(state.nexsis_requests, facts.get("missions") or [], provenance, key, _is_newer)
    status = facts.get("event_status")
    if status and _newer_part(state, "situation", key, rank):
        state.emsi_status = status
        closed = status in CLOSED_EMSI_STATUSES
        state.status = "closed" if closed else "open"
        state.closed_at = key[0] if closed else None


def _is_newer(key: list, than: list) -> bool:
    return _comparable(key) > _comparable(than)


def _newer_part(state: CaseState, part: str, key: list, rank: tuple[datetime, str]) -> bool:
    """Whether `key` (of comparable `rank`) supersedes the version of `part` folded so far (and
    record it if so)."""
    current = state.as_of.get(part)
    if current is not None and not rank > _comparable(current):
        return False
    state.as_of[part] = key
    return True


def _apply_resources(state: CaseState, facts: dict, key: list, provenance: dict) -> None:
    resources = state.resources
    for resource in facts.get("resources") or ():
        resource_key = version_key(resource.get("status_at") or key[0], key[1])
        current = resources.get(resource["id"])
        if current is None or _comparable(resource_key) > _comparable(current["version"]):
            entry = resource.copy()
            entry["version"] = resource_key
            resources[resource["id"]] = entry


def _apply_acknowledged(state: CaseState, facts: dict, key: list, provenance: dict) -> None:
    state.acknowledgements += 1


def _apply_request(state: CaseState, facts: dict, key: list, provenance: dict) -> None:
    exchanges.apply_request(state.nexsis_requests, facts, provenance, key, _is_newer)


def _apply_response(state: CaseState, facts: dict, key: list, provenance: dict) -> None:
    exchanges.apply_response(state.nexsis_requests, facts, provenance, key, _is_newer)


def _apply_status(state: CaseState, facts: dict, key: list, provenance: dict) -> None:
    exchanges.apply_status(state.nexsis_requests, facts, provenance, key, _is_newer)


_APPLY = {
    REPORTED: _apply_reported,
    SITUATION: _apply_situation,
    CONCOURS: _apply_situation,  # its missions carry the concours (domain.nexsis_requests.apply_concours)
    RESOURCES_REQUEST: _apply_request,
    RESOURCES_RESPONSE: _apply_response,
    RESOURCES_STATUS: _apply_status,
    RESOURCES: _apply_resources,
    ACKNOWLEDGED: _apply_acknowledged,
}


def best_placement(state: CaseState) -> dict | None:
    """Where the case is: its report's placement when it could be resolved, else the field's."""
    report = state.placement
    if report and report.get("insee"):
        return report
    return state.field_placement or report
