"""Crisis use cases (domain.crisis), the same for every door: open, list, read, close, attach and detach cases.

Crises are aggregates of the event store, chained by the audit trail like every event; they are found by
the topic of their first event through the index of the platform's own acts (adapters.notify.alert_store).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from adapters.notify.alert_store import first_event_ids
from adapters.store.event_store import TocsinStore
from domain.access import Principal, actor, check_may_manage_crisis, check_may_open_crisis, may_see_crisis
from domain.crisis import Crisis, clean_title, kind_named
from domain.directory import seeded_organisation_id
from domain.geography import parse_territory

OPENED_TOPIC = "domain.crisis:Crisis.Opened"


class UnknownCrisis(LookupError):
    """No such crisis, or not one the caller may see (the same answer: no existence leak)."""


def organisation_of(principal: Principal) -> str | None:
    """The organisation a principal acts for: its habilitation's, or the one seeded for its role and
    territory (a token naming only a role and a territory)."""
    return principal.organisation_id or seeded_organisation_id(principal.role.code, principal.level, principal.code)


def open_crisis(store: TocsinStore, principal: Principal, *, title: str, kind: str, territory: str,
                start: datetime | None = None, exercise: bool = False) -> Crisis:
    level, code = parse_territory(territory, default=principal.level, known=principal.geography)
    check_may_open_crisis(principal, level, code)
    title = clean_title(title)
    kind_named(kind)
    now = datetime.now(UTC)
    if start is None:
        start = now
    elif start.tzinfo is None:
        raise ValueError("le début doit préciser son fuseau horaire")
    crisis = Crisis(title=title, kind=kind, territory=f"{level.value}:{code}", start=start,
                    opened_by=actor(principal), organisation_id=organisation_of(principal), exercise=exercise)
    store.save(crisis)
    return crisis


def get_crisis(store: TocsinStore, crisis_id: UUID) -> Crisis | None:
    try:
        found: Any = store.snapshotted.get(crisis_id)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, Crisis) else None


def find_crisis(store: TocsinStore, crisis_id: str | UUID, principal: Principal | None) -> Crisis:
    """The crisis, if it exists and the principal takes part in it (None: the operator, who sees all)."""
    try:
        uid = crisis_id if isinstance(crisis_id, UUID) else UUID(str(crisis_id))
    except ValueError as e:
        raise UnknownCrisis("crise inconnue ou hors de votre périmètre") from e
    crisis = get_crisis(store, uid)
    if crisis is None or (principal is not None and not may_see_crisis(principal, crisis.territory)):
        raise UnknownCrisis("crise inconnue ou hors de votre périmètre")
    return crisis


def visible_crises(store: TocsinStore, principal: Principal | None, *, include_closed: bool = True,
                   limit: int = 200) -> list[Crisis]:
    found = (get_crisis(store, i) for i in first_event_ids(store, OPENED_TOPIC, limit))
    return [c for c in found if c is not None and (principal is None or may_see_crisis(principal, c.territory))
            and (include_closed or c.is_open)]


def change(store: TocsinStore, crisis_id: str | UUID, principal: Principal | None,
           act: Callable[[Crisis], Any]) -> Crisis:
    """Apply an act to the latest version of a crisis and save it; when another act landed first, the act
    is applied again on the newer version (the store refuses a second event at the same version)."""
    crisis = find_crisis(store, crisis_id, principal)
    if principal is not None:
        check_may_manage_crisis(principal, crisis.territory, crisis.organisation_id)
    for _ in range(5):
        act(crisis)
        try:
            store.save(crisis)
            return crisis
        except IntegrityError:
            crisis = find_crisis(store, crisis.id, principal)
    raise RuntimeError(f"crisis {crisis.id}: act could not be recorded after 5 tries")


def close_crisis(store: TocsinStore, crisis_id: str | UUID, principal: Principal, summary: str = "") -> Crisis:
    return change(store, crisis_id, principal, lambda c: c.close(actor(principal), datetime.now(UTC), summary))


def attach_case(store: TocsinStore, crisis_id: str | UUID, principal: Principal, case_id: str) -> Crisis:
    case_id = case_id.strip()
    if not case_id or len(case_id) > 200:
        raise ValueError("identifiant d'affaire invalide")
    return change(store, crisis_id, principal, lambda c: c.attach_by_hand(case_id, actor(principal),
                                                                          datetime.now(UTC)))


def detach_case(store: TocsinStore, crisis_id: str | UUID, principal: Principal, case_id: str,
                reason: str = "") -> Crisis:
    return change(store, crisis_id, principal, lambda c: c.detach(case_id, actor(principal), reason,
                                                                  datetime.now(UTC)))
