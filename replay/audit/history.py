"""A case's full history for the auditor: every event, its provenance, its raw message, its link and seal.

Raw messages and personal data are shown whole, so only the roles domain.access allows may read it:
callers pass the reader's role and anything else is refused here, not left to each route.
"""

from __future__ import annotations

from typing import Any

from domain.access import Act, Role, check_role
from domain.identity import case_uuid
from replay.audit.bundle import load_events
from replay.audit.seals import list_seals


def case_audit_history(store: Any, case_id: str, *, role: Role | str) -> list[dict] | None:
    """Every event of the case with its message and chain link; None when the case is unknown.
    domain.access.Denied (a PermissionError) for a role that may not read it."""
    check_role(role, Act.READ_AUDIT_HISTORY)
    events = load_events(store, [case_uuid(case_id)])
    if not events:
        return None
    seals = list_seals(store)
    history = []
    for audited in events:
        entry = audited.as_json()
        entry.pop("stored")
        covering = next((s for s in seals if s.position >= entry["position"]), None)
        entry["sealed_by"] = covering.as_json() if covering else None
        entry["raw"] = audited.raw.decode("utf-8", errors="replace") if audited.raw is not None else None
        history.append(entry)
    return history


# What an act of the platform records of who did it, by the name its event gives the field.
_WHO = ("by", "author", "opened_by", "issuer", "drafted_by")


def crisis_audit_history(store: Any, crisis_id: str, *, role: Role | str) -> list[dict] | None:
    """Every act of a crisis, in the chain's order: the crisis's own (opened, cases attached and detached,
    closed), its log book's and situation reports', its requests' and its alerts to the population', each
    with who did it, when, its chain link and seal. None when the crisis is unknown; Denied for a role
    that may not read audit histories. They are events of the chain like the NexSIS messages, so this is
    the same reading as a case's history, not a table of its own."""
    from uuid import UUID

    from adapters.crisis.crises import get_crisis
    from adapters.crisis.population_alerts import DRAFTED_TOPIC, get_alert
    from adapters.crisis.requests import requests_of_crisis
    from adapters.notify.alert_store import first_event_ids
    from domain.logbook import log_book_id, reports_id

    check_role(role, Act.READ_AUDIT_HISTORY)
    try:
        crisis = get_crisis(store, UUID(crisis_id))
    except ValueError:
        return None
    if crisis is None:
        return None
    parts: dict[UUID, str] = {crisis.id: "crise", log_book_id(f"crisis:{crisis.id}"): "main courante",
                              reports_id(crisis.id): "points de situation"}
    parts.update({r.id: f"demande {r.ref}" for r in requests_of_crisis(store, crisis.id)})
    for alert_id in first_event_ids(store, DRAFTED_TOPIC, 10_000):
        alert = get_alert(store, alert_id)
        if alert is not None and alert.crisis_id == str(crisis.id):
            parts[alert.id] = "alerte à la population"
    seals = list_seals(store)
    history = []
    for audited in load_events(store, list(parts)):
        entry = audited.as_json(personal=False)
        entry.pop("stored")
        entry.pop("facts")
        fields = vars(audited.event)
        who = next((fields[k] for k in _WHO if isinstance(fields.get(k), dict)), None)
        entry["part"] = parts[audited.event.originator_id]
        entry["by"] = {k: who.get(k) for k in ("name", "organisation_id", "role", "grant_id")} if who else None
        covering = next((s for s in seals if s.position >= entry["position"]), None)
        entry["sealed_by"] = covering.as_json() if covering else None
        history.append(entry)
    return history
