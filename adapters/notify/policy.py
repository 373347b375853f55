"""The alert policy: a process fed by the event store that turns recorded case events into alerts.

It follows the store as the projection worker does (its own position, pages in notification order, a
NOTIFY to wake it), folds each touched case (domain.case_state, from the case's own events when it has
not seen it yet), asks the rules (domain.alert_rules) and appends an `Alert.AlertRaised` per decision,
with the people to reach (domain.recipients) as the directory says at that moment.

Exactly once per (rule, subject): an alert's id is derived from both (domain.identity.alert_uuid), the
decisions and the policy's new position commit in one transaction, and a decision already recorded is
skipped. A rebuild, a replay or a second policy process therefore never decides (nor sends) twice. Only
the process holding the policy's advisory lock decides; another waits to take over.

Decided at Tocsin's time: the observation's time is the event's recording time; the message's own date
only says whether the alert is « tardif ». A policy that starts on a store with a history begins at its
head: the past was not alerted then, and alerting it now would flood everyone with stale news.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import OperationalError as PersistenceOperationalError
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from adapters import metrics
from adapters.geography import Geography
from adapters.notify import alert_store
from adapters.notify.alert_settings import SettingsFold, is_settings_topic
from adapters.store.codec import CaseEvent, EventDecoder
from adapters.store.event_store import TocsinStore
from adapters.store.following import case_histories, events_after
from adapters.store.locks import run_while_leading
from domain.alert import Alert
from domain.alert_rules import (
    DEFAULT_RULES,
    EXERCISE_STATUS,
    Decision,
    Observation,
    Rule,
    declared_victims,
    escalation_plan,
    evaluate,
    hour_of,
    time_zone_of,
)
from domain.case_state import CaseState, apply_message, best_placement, parse_time
from domain.geography import Level
from domain.identity import alert_uuid
from domain.nature import ResourcePhase
from domain.recipients import Recipients

log = logging.getLogger(__name__)

NAME = "policies"
PAGE = 2000
MAX_STATES = 100_000  # cases kept folded in memory between pages
_FREE = frozenset({ResourcePhase.RELEASED.value, ResourcePhase.CANCELLED.value})


class StalePosition(RuntimeError):
    """Another process moved the policy's position between reading and recording: nothing was recorded."""


def policy_lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"tocsin-alert-policy:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AlertPolicy:
    def __init__(self, store: TocsinStore, geography: Geography, recipients: Recipients,
                 rules: Sequence[Rule] = DEFAULT_RULES, *, page: int = PAGE,
                 from_start: bool = False) -> None:
        self.store = store
        self.geography = geography
        self.recipients = recipients
        self.rules = tuple(rules)
        self.settings = SettingsFold(store, self.rules)  # each organisation's tunings and own rules
        self.page = page
        self.decoder = EventDecoder(store.mapper)
        self.states: dict[UUID, CaseState] = {}  # as of self.position
        self.position: int | None = None
        self.conn = psycopg.connect(store.database_url, autocommit=True)
        alert_store.ensure_tables(store)
        self._start(from_start)
        self.decided = 0  # alerts raised by this process (for the bench and status)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> AlertPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, from_start: bool) -> None:
        start = 0 if from_start else alert_store.head(self.conn, self.store)
        self.conn.execute(SQL("INSERT INTO {} (name, position) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING").format(
            alert_store.table(self.store, alert_store.TRACKING)), (NAME, start))

    def stored_position(self) -> int:
        row = self.conn.execute(SQL("SELECT position FROM {} WHERE name = %s").format(
            alert_store.table(self.store, alert_store.TRACKING)), (NAME,)).fetchone()
        assert row is not None, "created by _start"
        return int(row[0])

    # ---- one step -------------------------------------------------------------------------------

    def step(self) -> int:
        """Decide on the next page of events; the number of events read."""
        position = self.stored_position()
        if position != self.position:
            self.states.clear()
            self.settings.load(self.conn, position)
        rows = self._read(position)
        if not rows:
            return 0
        last = int(rows[-1][0])
        try:
            changes = [r for r in rows if is_settings_topic(r[3])]
            decisions, windows = self._decide(self.decoder.decode(rows), position, changes)
            self._record(decisions, windows, position, last)
        except BaseException:
            self.states.clear()
            self.position = None
            raise
        self.position = last
        if len(self.states) > MAX_STATES:
            self.states.clear()  # bounded memory: a case seen again is folded again from its events
        return len(rows)

    def _read(self, after: int) -> list[tuple]:
        return events_after(self.conn, self.store, after, self.page)

    def _warm(self, events: list[CaseEvent], position: int) -> None:
        cold = list({e.originator_id for e in events} - self.states.keys())
        if not cold:
            return
        history = case_histories(self.conn, self.store, self.decoder, cold, position)
        for oid in cold:
            self.states[oid] = CaseState()
        for e in history:
            apply_message(self.states[e.originator_id], e.kind, e.facts, e.provenance)

    def _decide(self, events: list[CaseEvent], position: int, changes: Sequence[tuple] = ()
                ) -> tuple[list[tuple[Decision, Observation]], dict]:
        """Decisions on a page of events; `changes`, the page's settings events, apply from their own place
        in the store's order: a case recorded before a change is decided on the settings it was recorded
        under."""
        self._warm(events, position)
        pending = list(changes)
        windows: dict[tuple[str, str], int] = {}
        stored_windows = self._windows({(d, hour_of(e.recorded_at)) for e in events
                                        if (d := (e.facts.get("placement") or {}).get("departement"))})
        decisions: list[tuple[Decision, Observation]] = []
        for e in events:
            while pending and pending[0][0] < e.notification_id:
                self.settings.apply_rows([pending.pop(0)])
            state = self.states[e.originator_id]
            apply_message(state, e.kind, e.facts, e.provenance)
            obs = self._observe(e, state)
            if obs.new_case and obs.departement:
                key = (obs.departement, hour_of(obs.recorded_at))
                windows[key] = windows.get(key, 0) + 1
                obs = _with_count(obs, stored_windows.get(key, 0) + windows[key])
            book = self.settings.book
            decisions.extend((d, obs) for d in evaluate(book.rules(), obs, tune=book.for_organisation))
        self.settings.apply_rows(pending)
        return decisions, windows

    def _windows(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not keys:
            return {}
        deps, hours = zip(*keys, strict=True)
        query = SQL("SELECT w.departement, w.hour, w.cases FROM {} w"
                    " JOIN unnest(%s::text[], %s::text[]) AS k(d, h) ON w.departement = k.d AND w.hour = k.h").format(
            alert_store.table(self.store, alert_store.WINDOWS))
        with self.conn.cursor(row_factory=tuple_row) as cur:
            return {(d, h): int(n) for d, h, n in cur.execute(query, (list(deps), list(hours))).fetchall()}

    def _observe(self, e: CaseEvent, state: CaseState) -> Observation:
        placement = best_placement(state) or {}
        insee, departement = placement.get("insee"), placement.get("departement")
        place = ""
        if insee:
            try:
                place = self.geography.label(Level.COMMUNE, insee)
            except KeyError:
                place = f"commune {insee}"
        casualties = state.casualties or {}
        evacuation = state.evacuation or {}
        return Observation(
            case_id=state.case_id or e.case_id,
            recorded_at=e.recorded_at,
            sent_at=parse_time(e.provenance.get("sent_at")),
            insee=insee, departement=departement, zone=placement.get("zone"), place=place,
            family=state.family, nature=(state.nature or {}).get("label"),
            victims=declared_victims(state.victims_count),
            red=int(casualties.get("red") or 0), dead=int(casualties.get("black") or 0),
            resources_engaged=sum(1 for r in state.resources.values() if r.get("phase") not in _FREE),
            evacuated=int(evacuation.get("evacuated") or 0) + int(evacuation.get("displaced") or 0),
            new_case=state.messages == 1,
            exercise=e.provenance.get("status") == EXERCISE_STATUS,
        )

    # ---- recording ------------------------------------------------------------------------------

    def _record(self, decisions: list[tuple[Decision, Observation]], windows: dict, position: int, last: int) -> None:
        tracking = alert_store.table(self.store, alert_store.TRACKING)
        statements: list[tuple[Any, Sequence[Any]]] = [(
            SQL("WITH moved AS (UPDATE {} SET position = %s, updated_at = now() WHERE name = %s AND position = %s"
                " RETURNING 1) SELECT {}.tocsin_alert_moved((SELECT count(*) FROM moved))").format(
                tracking, Identifier(self.store.settings.schema)),
            (last, NAME, position),
        )]
        upsert = SQL("INSERT INTO {} AS w (departement, hour, cases) VALUES (%s, %s, %s)"
                     " ON CONFLICT (departement, hour) DO UPDATE SET cases = w.cases + EXCLUDED.cases").format(
            alert_store.table(self.store, alert_store.WINDOWS))
        statements.extend((upsert, (d, h, n)) for (d, h), n in sorted(windows.items()))
        alerts = self._alerts(decisions)
        try:
            if alerts:
                # Written in the events' transaction (the recorder's `also`), unprepared: see ColumnArrayRecorder.
                self.store.save(*alerts, also=[partial(_execute, sql, params) for sql, params in statements])
            else:
                with self.conn.transaction():
                    for statement, params in statements:
                        self.conn.execute(statement, params)
        except (psycopg.errors.SerializationFailure, PersistenceOperationalError) as e:
            # The library reports the refusal inside its pipelined transaction as "pipeline aborted".
            if self.stored_position() != position:
                raise StalePosition("alert policy position moved by another process: nothing recorded") from e
            raise
        self.decided += len(alerts)
        for alert in alerts:  # one per person and channel, once committed
            for channel in alert.channels:
                metrics.ALERTS_DECIDED.labels(channel).inc(len(alert.recipients))

    def _alerts(self, decisions: list[tuple[Decision, Observation]]) -> list[Alert]:
        unique: dict[UUID, tuple[Decision, Observation]] = {}
        for d, obs in decisions:
            unique.setdefault(alert_uuid(d.rule.id, d.subject), (d, obs))
        already = alert_store.existing(self.conn, self.store, list(unique))
        alerts = []
        for alert_id, (d, obs) in unique.items():
            if alert_id in already:
                continue
            people = self.recipients.people_to_reach(d.organisation_id, obs.recorded_at)
            alerts.append(Alert(
                rule_id=d.rule.id, subject=d.subject, organisation_id=d.organisation_id, reason=d.reason,
                severity=d.severity.value, recipients=[p.as_dict() for p in people], channels=list(d.rule.channels),
                exercise=d.exercise, late=d.late, case_id=obs.case_id, details=_details(obs),
                trigger={"recorded_at": obs.recorded_at.isoformat(),
                         "sent_at": obs.sent_at.isoformat() if obs.sent_at else None},
                escalation=escalation_plan(d.rule, obs, d.organisation_id, any(p.on_duty for p in people)),
            ))
        return alerts

    # ---- following the store --------------------------------------------------------------------

    def catch_up(self) -> int:
        total = 0
        while n := self.step():
            total += n
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 1.0, on_step: Callable[[], None] | None = None) -> None:
        """Decide until `stop` is set, while holding the policy's lock (another process waits)."""
        run_while_leading(self.store.database_url, policy_lock_key(self.store.settings.schema), self.step, stop,
                          poll_seconds, on_step)


def _with_count(obs: Observation, count: int) -> Observation:
    from dataclasses import replace

    return replace(obs, cases_this_hour=count)


def _details(obs: Observation) -> dict:
    """What the messages sent out say of the alert: what, where, when (UTC; shown in `time_zone`)."""
    return {
        "nature": obs.nature, "family": obs.family, "place": obs.place, "insee": obs.insee,
        "departement": obs.departement, "zone": obs.zone,
        "when": (obs.sent_at or obs.recorded_at).astimezone(UTC).isoformat(),
        "time_zone": time_zone_of(obs.departement),
        "red": obs.red, "dead": obs.dead, "evacuated": obs.evacuated, "victims": obs.victims,
        "resources_engaged": obs.resources_engaged,
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


def _execute(statement: Any, params: Sequence[Any], curs: Any) -> None:
    curs.execute(statement, params, prepare=False)
