"""A case's full history for the auditor: every event, its provenance, its raw message, its link and seal.

Raw messages and personal data are shown whole, so this is for the auditor role only: callers pass the
reader's role and anything else is refused here, not left to each route.
"""

from __future__ import annotations

from typing import Any

from domain.identity import case_uuid
from replay.audit.bundle import load_events
from replay.audit.seals import list_seals

AUDITOR = "auditor"


def case_audit_history(store: Any, case_id: str, *, role: str) -> list[dict] | None:
    """Every event of the case with its message and chain link; None when the case is unknown."""
    if role != AUDITOR:
        raise PermissionError("historique d'audit réservé au rôle auditeur")
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
