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
