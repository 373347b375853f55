"""Reading one case back from the event store: its current state, where it is, and the events (with
their provenance) behind it. The truth, not a view: `tocsin case show` and the API's case detail.

Personal data is left out unless asked for: the caller decides whether the reader's role may see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, cast

from eventsourcing.application import AggregateNotFoundError

from adapters.geography import Geography
from adapters.store.event_store import TocsinStore
from domain.case import Case
from domain.case_state import best_placement
from domain.geography import Level
from domain.identity import case_uuid
from domain.local_time import zone_of_departement
from domain.nature import FAMILY_LABELS, NatureFamily
from projections.read.readable import readable_case


@dataclass(frozen=True)
class CaseView:
    state: dict[str, Any]
    events: list[dict[str, Any]]


def case_placement(store: TocsinStore, case_id: str) -> tuple[Case, dict[str, Any]] | None:
    """The case aggregate and where it is, or None when unknown (to check access before reading more)."""
    try:
        case: Case = store.repository.get(case_uuid(case_id))
    except AggregateNotFoundError:
        return None
    return case, best_placement(case.state) or {}


def case_view(store: TocsinStore, geography: Geography, case_id: str, *, personal: bool = False) -> CaseView | None:
    """The case's state and history, or None when unknown."""
    try:
        case: Case = store.repository.get(case_uuid(case_id))
    except AggregateNotFoundError:
        return None
    return describe_case(store, geography, case, personal=personal)


def describe_case(store: TocsinStore, geography: Geography, case: Case, *, personal: bool = False) -> CaseView:
    """A case already read (by case_placement, to check access) shaped with its history."""
    state = case.state.as_dict()
    if not personal:
        state.pop("personal", None)
    placement = best_placement(case.state) or {}
    state["where"] = where = _where(geography, placement)
    state["family_label"] = FAMILY_LABELS[NatureFamily(case.state.family)]
    state["victims"] = {"count": case.state.victims_count, **(case.state.casualties or {})}
    state["version"] = case.version
    events = []
    history = []
    for stored in store.events.get(case.id):
        event = cast(Case.MessageRecorded, stored)
        history.append((event.kind, event.facts, event.provenance))
        facts = dict(event.facts)
        if not personal:
            facts.pop("personal", None)
        events.append(
            {
                "version": event.originator_version,
                "type": type(event).__qualname__,
                "recorded_at": event.timestamp.isoformat(),
                "facts": facts,
                "provenance": reader_provenance(event.provenance),
            }
        )
    # What a person reads (the drawer, `tocsin case show`): in the zone of the case's territory.
    place = ", ".join(p for p in (
        f"{where['commune_name']} ({where['commune']})" if where["commune_name"] else None,
        where["departement_name"],
    ) if p) or "lieu non déterminé"
    state["readable"] = readable_case(case.state, history, place=place,
                                      zone=zone_of_departement(where["departement"]), personal=personal)
    return CaseView(state, events)


def reader_provenance(provenance: dict[str, Any]) -> dict[str, Any]:
    """The provenance as readers get it: a file ingested on the server is named, not located (its path says
    how the server is laid out; the operator finds it in the log and the audit history)."""
    source = provenance.get("source")
    if not isinstance(source, str) or not source.startswith("file:"):
        return provenance
    return {**provenance, "source": "file:" + PurePath(source.removeprefix("file:")).name}


def _where(geography: Geography, placement: dict[str, Any]) -> dict[str, Any]:
    insee, dep, zone = placement.get("insee"), placement.get("departement"), placement.get("zone")
    return {
        "commune": insee,
        "commune_name": geography.name(Level.COMMUNE, insee) if insee else None,
        "departement": dep,
        "departement_name": geography.name(Level.DEPARTEMENT, dep) if dep else None,
        "zone": zone,
        "zone_name": geography.name(Level.ZONE, zone) if zone else None,
        "method": placement.get("method", "unresolved"),
        "notes": list(placement.get("notes") or []),
    }
