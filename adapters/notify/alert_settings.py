"""Alert settings use cases (domain.alert_settings): read and change an organisation's, and the rule book
the policy decides with, as of a position in the store.

Every change is an event of the organisation's AlertSettings aggregate; the policy reads those events in
the store's order with the cases' (adapters.notify.policy), so no cache can decide on stale settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from adapters.notify.alert_store import OWN_ACTS, table
from adapters.store.event_store import TocsinStore
from domain.access import Principal, actor, check_may_set_alerts
from domain.alert_rules import DEFAULT_RULES, Rule, Target
from domain.alert_settings import (
    AlertSettings,
    RuleBook,
    SettingsChanged,
    Tuning,
    rule_as_dict,
    settings_uuid,
    tuned,
    validated,
)
from domain.geography import Level

SETTINGS_TOPICS = (get_topic(AlertSettings) + ".Created", get_topic(AlertSettings) + ".Changed")


class UnknownOrganisation(LookupError):
    """No such organisation in the directory (French message)."""


def required_for(organisation_id: str, rules: Sequence[Rule] = DEFAULT_RULES) -> list[Rule]:
    """The required rules that alert this organisation first (by its kind, or by name): those it tunes."""
    kind = organisation_id.partition(".")[0]
    return [r for r in rules if (r.target is Target.MAIRIE and kind == "mairie")
            or (r.target is Target.PREFECTURE and kind == "prefecture")
            or (r.target is Target.ORGANISATION and r.organisation_id == organisation_id)]


def get_settings(store: TocsinStore, organisation_id: str) -> AlertSettings | None:
    try:
        found: Any = store.repository.get(settings_uuid(organisation_id))
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, AlertSettings) else None


def describe(store: TocsinStore, organisation_id: str) -> dict[str, Any]:
    """What reaches the organisation: each required rule as it applies to it, and its own rules."""
    settings = get_settings(store, organisation_id)
    tunings = {t["rule_id"]: Tuning.from_dict(t) for t in (settings.tunings if settings else [])}
    return {
        "organisation_id": organisation_id,
        "required": [{**rule_as_dict(tuned(r, tunings.get(r.id))), "tuning": tunings[r.id].as_dict()
                      if r.id in tunings else None} for r in required_for(organisation_id)],
        "own_rules": list(settings.own_rules) if settings else [],
        "changed_by": settings.changed_by if settings else None,
        "changed_at": settings.changed_at.isoformat() if settings and settings.changed_at else None,
        "version": settings.version if settings else 0,
    }


def change_settings(store: TocsinStore, principal: Principal, organisation_id: str, territory: tuple[Level, str],
                    tunings: Sequence[Mapping[str, Any]], own_rules: Sequence[Mapping[str, Any]],
                    expected_version: int | None = None) -> dict[str, Any]:
    """Replace the organisation's settings (checked within the required rules); `territory` is the
    organisation's own, from the directory. With `expected_version` (the version the caller's change was
    made from: a form changing one rule of the settings it read), SettingsChanged if another change landed
    since, rather than undo it; without, the settings given replace whatever is there."""
    check_may_set_alerts(principal, organisation_id)
    stored_tunings, stored_rules = validated(required_for(organisation_id), organisation_id, territory, tunings,
                                             own_rules)
    for _ in range(5):
        found = get_settings(store, organisation_id)
        if expected_version is not None and (found.version if found else 0) != expected_version:
            break
        settings = found or AlertSettings(organisation_id=organisation_id)
        settings.change(stored_tunings, stored_rules, actor(principal), datetime.now(UTC))
        try:
            store.save(settings)
            return describe(store, organisation_id)
        except IntegrityError:  # another change landed first
            if expected_version is not None:
                break
            continue
    else:
        raise RuntimeError(f"alert settings of {organisation_id}: change could not be recorded after 5 tries")
    raise SettingsChanged("les règles d'alerte de cette organisation ont été modifiées entre-temps : "
                          "relisez-les et recommencez")


def is_settings_topic(topic: str) -> bool:
    return topic in SETTINGS_TOPICS


class SettingsFold:
    """The rule book, folded from the settings events in the store's order (the policy's own copy)."""

    def __init__(self, store: TocsinStore, required: Sequence[Rule]) -> None:
        self.store = store
        self.book = RuleBook(tuple(required))
        self._settings: dict[Any, AlertSettings] = {}

    def apply_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """(notification_id, originator_id, originator_version, topic, state) rows of settings events."""
        for _, oid, version, topic, state in rows:
            domain_event: Any = self.store.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state)))
            settings = domain_event.mutate(self._settings.get(oid))
            self._settings[oid] = settings
            self.book.apply(settings)

    def load(self, conn: Any, position: int) -> None:
        """Start again from the settings as they stood at a position of the store."""
        self.book = RuleBook(self.book.required)
        self._settings.clear()
        query = SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {} WHERE "
                    + OWN_ACTS + " AND topic = ANY(%s) AND notification_id <= %s ORDER BY notification_id").format(
            table(self.store, "tocsin_events"))
        with conn.cursor(binary=True, row_factory=tuple_row) as cur:
            self.apply_rows(cur.execute(query, (list(SETTINGS_TOPICS), position)).fetchall())
